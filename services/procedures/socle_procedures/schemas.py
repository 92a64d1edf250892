"""Request and response bodies of the procedures API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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


class RequestPage(BaseModel):
    items: list[RequestOut]
    next_cursor: str | None
