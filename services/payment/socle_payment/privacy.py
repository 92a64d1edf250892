"""Erasure of a person in payment (``user.deleted``).

Payments are accounting records: the Swiss Code of Obligations (art. 958f) has them kept
for ten years, so they are not deleted. What identifies the payer is replaced: the e-mail
address is removed, the payer's subject becomes a pseudonym (the same for all the person's
payments of one erasure, so they stay grouped) and the free metadata is emptied. Amounts,
references, descriptions, statuses, the ledger and refunds stay as they are."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.bus import ConsumerSpec
from socle.db import utcnow
from socle.privacy import (
    ErasureOutcome,
    ErasureRequest,
    ExportRequest,
    Kept,
    PersonData,
    as_json,
    erasure_consumer,
    new_pseudonym,
)
from socle_payment.models import Payment

SERVICE = "payment"
RETENTION_YEARS = 10


async def erase_person(session: AsyncSession, request: ErasureRequest) -> ErasureOutcome:
    payments = list(
        (
            await session.execute(
                select(Payment)
                .where(Payment.tenant == request.tenant, Payment.payer_subject == request.user_id)
                .with_for_update()
            )
        ).scalars()
    )
    pseudonym = new_pseudonym()
    now = utcnow()
    for payment in payments:
        payment.payer_email = None
        payment.payer_subject = pseudonym
        payment.meta = {}
        payment.updated_at = now
        payment.pseudonymised_at = now
    kept = (
        [
            Kept(
                category="payments",
                count=len(payments),
                reason="legal_retention",
                detail=f"Accounting records kept {RETENTION_YEARS} years (Swiss Code of "
                "Obligations, art. 958f); payer e-mail, subject and metadata pseudonymised.",
            )
        ]
        if payments
        else []
    )
    return ErasureOutcome(
        erasure_id=request.erasure_id,
        service=SERVICE,
        pseudonymised={"payments": len(payments)},
        kept=kept,
    )


def consumer(sessions: async_sessionmaker[AsyncSession]) -> ConsumerSpec:
    return erasure_consumer(SERVICE, sessions, erase_person)


PAYMENT_FIELDS = (
    "id",
    "status",
    "amount",
    "currency",
    "amount_captured",
    "amount_refunded",
    "reference",
    "description",
    "procedure_ref",
    "payer_email",
    "payer_subject",
    "meta",
    "provider",
    "created_at",
    "updated_at",
)


async def export_person(session: AsyncSession, request: ExportRequest) -> PersonData:
    """The person's payments (those they paid as the payer)."""
    payments = (
        await session.execute(
            select(Payment)
            .where(Payment.tenant == request.tenant, Payment.payer_subject == request.user_id)
            .order_by(Payment.created_at)
        )
    ).scalars()
    return {"payments": [as_json(p, PAYMENT_FIELDS) for p in payments]}
