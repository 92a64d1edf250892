"""Retention of payments: a payment older than its commune's retention (``payments``,
default ``SOCLE_PAYMENT_RETENTION_DAYS``, 10 years) keeps its amounts, reference and
ledger (accounting) but loses its payer's data: e-mail removed, subject pseudonymised,
metadata emptied, in batches; a payment under legal hold is left as it is. The same pass
pseudonymises the payments whose payer was erased while they were held, once the hold is
lifted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from fastapi import Request
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle import retention
from socle.db import for_update, utcnow
from socle.legal_hold import legal_hold_router, not_held
from socle.privacy import new_pseudonym
from socle_payment.api.deps import Admin
from socle_payment.models import Payment, legal_holds, retention_rules
from socle_payment.privacy import pseudonymise
from socle_payment.settings import PaymentSettings

log = structlog.get_logger("socle_payment.retention")

CATEGORY = "payments"
BATCH = 500


def _pseudonymiser(
    *where: ColumnElement[bool], order: bool = False
) -> Callable[[AsyncSession], Awaitable[int]]:
    """A batch for :func:`socle.retention.in_batches`: pseudonymise at most :data:`BATCH`
    payments ``where`` picks and no legal hold covers (by id if ``order``); how many."""

    async def batch(session: AsyncSession) -> int:
        query = select(Payment).where(
            *where, not_held(legal_holds, CATEGORY, Payment.tenant, Payment.id)
        )
        if order:
            query = query.order_by(Payment.id)
        due = list(
            (await session.execute(for_update(query.limit(BATCH), skip_locked=True))).scalars()
        )
        now = utcnow()
        for payment in due:
            pseudonymise(payment, new_pseudonym(), now)
        return len(due)

    return batch


async def erase_released(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Pseudonymise the payments of erased payers whose legal hold was lifted; how many."""
    done = await retention.in_batches(
        sessions,
        _pseudonymiser(Payment.erasure_requested_at.is_not(None), order=True),
        BATCH,
    )
    if done:
        log.info("payments_pseudonymised_after_hold", count=done)
    return done


async def purge_once(sessions: async_sessionmaker[AsyncSession], settings: PaymentSettings) -> int:
    """Pseudonymise every payment past its commune's retention, and those of erased payers
    no longer held; how many."""
    done = await erase_released(sessions)
    async with sessions() as session:
        tenants = list((await session.execute(select(Payment.tenant).distinct())).scalars())
    for tenant in tenants:
        async with sessions() as session:
            days = (await retention.rules(session, retention_rules, tenant)).get(
                CATEGORY, settings.payment_retention_days
            )
        before = retention.cutoff(days)
        if before is not None:
            done += await retention.in_batches(
                sessions,
                _pseudonymiser(
                    Payment.tenant == tenant,
                    Payment.pseudonymised_at.is_(None),
                    Payment.created_at < before,
                ),
                BATCH,
            )
    if done:
        log.info("payments_pseudonymised", count=done)
    return done


def _defaults(request: Request) -> dict[str, int | None]:
    settings: PaymentSettings = request.app.state.runtime.settings
    return {CATEGORY: settings.payment_retention_days}


router = retention.retention_router(
    table=retention_rules,
    principal=Admin,
    known=lambda category: category == CATEGORY,
    defaults=_defaults,
    tag="retention",
)


async def _exists(session: AsyncSession, tenant: str, record_id: str) -> bool:
    row = await session.get(Payment, record_id)
    return row is not None and row.tenant == tenant


holds_router = legal_hold_router(table=legal_holds, principal=Admin, exists_for={CATEGORY: _exists})
