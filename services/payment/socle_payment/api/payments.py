"""``/v1/payments``: create, read, list, cancel and refund payments."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from socle.auth import Principal
from socle.idempotency import IdempotencyKey
from socle.idempotency_steps import idempotent_post_in_steps
from socle.openapi import problem_responses
from socle.types import UTCInstant
from socle_payment.api.deps import (
    PROVIDER_DOWN,
    CommuneWriter,
    PaymentsDep,
    Reader,
    Writer,
)
from socle_payment.errors import NotYourPayer
from socle_payment.models import Payment, PaymentTransition, Refund
from socle_payment.payments import Payments
from socle_payment.schemas import (
    LedgerEntry,
    PaymentCreate,
    PaymentOut,
    PaymentPage,
    RefundCreate,
    RefundOut,
    Status,
)

router = APIRouter(prefix="/v1/payments", tags=["payments"])

PaymentId = Annotated[str, Path(max_length=64, description="The payment's id.")]


def _refund_status(status: str) -> Literal["pending", "succeeded", "failed"]:
    if status == "pending":
        return "pending"
    return "failed" if status == "failed" else "succeeded"


def refund_out(refund: Refund) -> RefundOut:
    return RefundOut(
        id=refund.id,
        payment_id=refund.payment_id,
        amount=refund.amount,
        reason=refund.reason,
        provider_refund_id=refund.provider_refund_id,
        status=_refund_status(refund.status),
        created_at=refund.created_at,
    )


def payment_out(
    payments: Payments,
    payment: Payment,
    ledger: list[PaymentTransition] | None = None,
    refunds: list[Refund] | None = None,
) -> PaymentOut:
    return PaymentOut(
        id=payment.id,
        status=payment.status,
        amount=payment.amount,
        currency=payment.currency,
        amount_captured=payment.amount_captured,
        amount_refunded=payment.amount_refunded,
        reference=payment.reference,
        description=payment.description,
        return_url=payment.return_url,
        procedure_ref=payment.procedure_ref,
        payer_email=payment.payer_email,
        payer_subject=payment.payer_subject,
        metadata=dict(payment.meta),
        provider=payment.provider,
        next_url=payments.next_url(payment),
        provider_payment_id=payment.provider_payment_id,
        provider_charge_id=payment.provider_charge_id,
        qr_reference=payment.qr_reference,
        failure_reason=payment.failure_reason,
        created_at=payment.created_at,
        updated_at=payment.updated_at,
        expires_at=payment.expires_at,
        ledger=None
        if ledger is None
        else [
            LedgerEntry(
                from_status=t.from_status,
                to_status=t.to_status,
                cause=t.cause,
                amount=t.amount,
                at=t.at,
            )
            for t in ledger
        ],
        refunds=None if refunds is None else [refund_out(r) for r in refunds],
    )


def payer_of(principal: Principal, body: PaymentCreate) -> str | None:
    """Who pays: a person is the payer of what it creates; staff and clients may name one."""
    if principal.owner is None:
        return body.payer_subject
    if body.payer_subject not in (None, principal.owner):
        raise NotYourPayer(
            "A person's token creates payments for that person only; omit payer_subject."
        )
    return principal.owner


@router.post(
    "",
    status_code=201,
    response_model=PaymentOut,
    summary="Ask for a payment; send the citizen to next_url",
    responses=problem_responses(401, 403, 409, 422),
)
async def create_payment(
    principal: Writer,
    payments: PaymentsDep,
    body: PaymentCreate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    payer = payer_of(principal, body)
    return await idempotent_post_in_steps(
        payments.sessions,
        principal,
        service="payment",
        action="create",
        key=idempotency_key,
        body=body,
        steps=payments.creation(
            principal.tenant, body, payer, answer=lambda p: payment_out(payments, p)
        ),
    )


@router.get(
    "",
    response_model=PaymentPage,
    summary="List payments, newest first",
    responses=problem_responses(401, 403, 422),
)
async def list_payments(
    principal: Reader,
    payments: PaymentsDep,
    status: Annotated[Status | None, Query()] = None,
    created_from: Annotated[
        UTCInstant | None,
        Query(description="Created at or after (ISO 8601 with its offset; none is a 422)."),
    ] = None,
    created_to: Annotated[
        UTCInstant | None, Query(description="Created before (ISO 8601 with its offset).")
    ] = None,
    reference: Annotated[str | None, Query(max_length=140)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> PaymentPage:
    rows, next_cursor = await payments.list_payments(
        principal.tenant,
        owner=principal.owner,
        status=status,
        created_from=created_from,
        created_to=created_to,
        reference=reference,
        limit=limit,
        cursor=cursor,
    )
    return PaymentPage(items=[payment_out(payments, p) for p in rows], next_cursor=next_cursor)


@router.get(
    "/{payment_id}",
    response_model=PaymentOut,
    summary="A payment as its provider knows it, with its ledger and refunds",
    responses=problem_responses(401, 403, 404),
)
async def get_payment(
    principal: Reader, payments: PaymentsDep, payment_id: PaymentId
) -> PaymentOut:
    payment, ledger, refunds = await payments.get(
        principal.tenant, payment_id, owner=principal.owner
    )
    return payment_out(payments, payment, ledger, refunds)


@router.post(
    "/{payment_id}/cancel",
    response_model=PaymentOut,
    summary="Cancel an open payment",
    responses=problem_responses(401, 403, 404, 409, PROVIDER_DOWN),
)
async def cancel_payment(
    principal: Writer, payments: PaymentsDep, payment_id: PaymentId
) -> PaymentOut:
    payment = await payments.cancel(principal.tenant, payment_id, owner=principal.owner)
    return payment_out(payments, payment)


@router.post(
    "/{payment_id}/refunds",
    status_code=201,
    response_model=RefundOut,
    summary="Refund all or part of what was captured",
    responses=problem_responses(401, 403, 404, 409, 422, PROVIDER_DOWN),
)
async def refund_payment(
    principal: CommuneWriter,
    payments: PaymentsDep,
    payment_id: PaymentId,
    body: RefundCreate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await idempotent_post_in_steps(
        payments.sessions,
        principal,
        service="payment",
        action=f"refund:{payment_id}",
        key=idempotency_key,
        body=body,
        steps=payments.refunding(
            principal.tenant, payment_id, body.amount, body.reason, answer=refund_out
        ),
    )
