"""Erasure of a person in payment (``user.deleted``).

Payments are accounting records: the Swiss Code of Obligations (art. 958f) has them kept
for ten years, so they are not deleted. What identifies the payer is replaced: the e-mail
address is removed, the payer's subject becomes a pseudonym (the same for all the person's
payments of one erasure, so they stay grouped) and the free metadata is emptied. Amounts,
references, descriptions, statuses, the ledger and refunds stay as they are. A payment under
legal hold is left untouched and marked (``erasure_requested_at``): the retention pass
pseudonymises it once the hold is lifted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.bus import ConsumerSpec
from socle.db import utcnow
from socle.legal_hold import held_ids, kept_under_hold
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
from socle_payment.models import Payment, legal_holds

SERVICE = "payment"
RETENTION_YEARS = 10
CATEGORY = "payments"


def pseudonymise(payment: Payment, pseudonym: str, now: datetime) -> None:
    """Replace what identifies the payer; amounts, references and the ledger stay."""
    payment.payer_email = None
    if payment.payer_subject is not None:
        payment.payer_subject = pseudonym
    payment.meta = {}
    payment.updated_at = now
    payment.pseudonymised_at = now
    payment.erasure_requested_at = None


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
    held = await held_ids(session, legal_holds, CATEGORY, request.tenant, [p.id for p in payments])
    pseudonym = new_pseudonym()
    now = utcnow()
    done = 0
    for payment in payments:
        if payment.id in held:
            payment.erasure_requested_at = now  # left as it is until the hold is lifted
            continue
        pseudonymise(payment, pseudonym, now)
        done += 1
    kept = []
    if done:
        kept.append(
            Kept(
                category=CATEGORY,
                count=done,
                reason="legal_retention",
                detail=f"Accounting records kept {RETENTION_YEARS} years (Swiss Code of "
                "Obligations, art. 958f); payer e-mail, subject and metadata pseudonymised.",
            )
        )
    kept += kept_under_hold(
        CATEGORY,
        len(held),
        "Payments under legal hold are kept as they are; the payer's data is pseudonymised once "
        "the hold is lifted.",
    )
    return ErasureOutcome(
        erasure_id=request.erasure_id,
        service=SERVICE,
        pseudonymised={CATEGORY: done},
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
