"""Request and response bodies of the procedures API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from socle_procedures.decisions import current
from socle_procedures.models import ProcedureVersion, Request, RequestHistory

State = Literal[
    "draft", "submitted", "in_review", "information_requested", "approved", "rejected", "withdrawn"
]


class DefinitionProblemOut(BaseModel):
    pointer: str = Field(
        description="JSON pointer into the definition, e.g. /steps/2/fields/0/type"
    )
    message: str
    code: str = "invalid-definition"


class ValidationOut(BaseModel):
    valid: bool
    errors: list[DefinitionProblemOut]


class ProcedureOut(BaseModel):
    id: str
    slug: str
    version: int
    status: Literal["draft", "published", "superseded", "retired"]
    title: dict[str, str]
    created_at: datetime
    published_at: datetime | None
    retired_at: datetime | None
    definition: dict[str, Any] | None = None

    @classmethod
    def of(cls, version: ProcedureVersion, *, full: bool = False) -> ProcedureOut:
        return cls(
            id=version.id,
            slug=version.slug,
            version=version.version,
            status=version.status,
            title=version.document["title"],
            created_at=version.created_at,
            published_at=version.published_at,
            retired_at=version.retired_at,
            definition=version.document if full else None,
        )


class ProcedureList(BaseModel):
    items: list[ProcedureOut]


class RequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    procedure: str = Field(max_length=64, description="The procedure's slug.")
    locale: Literal["fr", "de", "it", "en"] = "fr"


class StepAnswers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: dict[str, Any] = Field(
        description="Field id -> answer, for the fields of this step (see the README for each "
        "type's form)."
    )


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: State
    note: str | None = Field(default=None, max_length=2000)


class PaymentStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    return_url: str | None = Field(
        default=None,
        max_length=2000,
        pattern=r"^https?://",
        description="Where payment sends the citizen back; default: the portal's return page.",
    )


class HistoryOut(BaseModel):
    from_state: str | None
    to_state: str
    actor: str
    note: str | None
    at: datetime
    action: str | None = None
    changes: dict[str, Any] | None = None


class FeeOut(BaseModel):
    amount: int = Field(description="Minor units (10000 = CHF 100.00).")
    currency: str
    amount_paid: int
    payment_id: str | None
    payment_status: str | None
    provider: str | None
    next_url: str | None


class RequestOut(BaseModel):
    id: str
    reference: str | None
    procedure: str
    version: int
    state: State
    owner: str
    locale: str
    answers: dict[str, Any]
    completed_steps: list[str]
    fee: FeeOut
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    assigned_to: str | None = None
    editable_fields: list[str] | None = Field(
        default=None, description="While information is requested: the fields to correct."
    )
    history: list[HistoryOut] | None = None
    decision_document_id: str | None = Field(
        default=None,
        description="Approved: the storage document (kind decision, a PDF) of the decision; "
        "read it at GET /v1/documents/{id}/content of storage, or on the portal.",
    )

    @classmethod
    def of(cls, request: Request, history: list[RequestHistory] | None = None) -> RequestOut:
        return cls(
            id=request.id,
            reference=request.reference,
            procedure=request.procedure,
            version=request.version,
            state=request.state,
            owner=request.owner,
            locale=request.locale,
            answers=request.answers,
            completed_steps=request.completed_steps,
            fee=FeeOut(
                amount=request.fee_amount,
                currency=request.fee_currency,
                amount_paid=request.amount_paid,
                payment_id=request.payment_id,
                payment_status=request.payment_status,
                provider=request.payment_provider,
                next_url=request.payment_next_url,
            ),
            created_at=request.created_at,
            updated_at=request.updated_at,
            submitted_at=request.submitted_at,
            assigned_to=request.assigned_to,
            editable_fields=request.editable_fields,
            history=None
            if history is None
            else [
                HistoryOut(
                    from_state=h.from_state,
                    to_state=h.to_state,
                    actor=h.actor,
                    note=h.note,
                    at=h.at,
                    action=h.action,
                    changes=h.changes,
                )
                for h in history
            ],
            decision_document_id=None if history is None else current(request.state, history),
        )


class RequestPage(BaseModel):
    items: list[RequestOut]
    next_cursor: str | None
