"""Rows as the API answers them, for the responses several routers share."""

from __future__ import annotations

from socle_procedures.decisions import current
from socle_procedures.models import ProcedureVersion, Request, RequestHistory
from socle_procedures.schemas import FeeOut, HistoryOut, ProcedureOut, RequestOut


def procedure_out(version: ProcedureVersion, *, full: bool = False) -> ProcedureOut:
    return ProcedureOut(
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


def request_out(request: Request, history: list[RequestHistory] | None = None) -> RequestOut:
    return RequestOut(
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
