"""The expiry sweep: close open payments past their time, after asking their provider."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from socle import clock
from socle_payment.models import Payment
from socle_payment.payments.ledger import OPEN, PaymentsBase
from socle_payment.providers import ProviderUnavailable

log = structlog.get_logger("socle_payment")


class ExpirySweep(PaymentsBase):
    """Expires stale open payments in batches."""

    # ---- expiry --------------------------------------------------------------------------

    async def expire_stale(
        self,
        now: datetime | None = None,
        batch: int = 100,
        report_backlog: Callable[[str, int], None] | None = None,
    ) -> int:
        """Expire open payments past their time, after asking their provider, in batches of
        ``batch`` until none is left; returns how many. A payment whose provider cannot be
        reached is left for the next run. ``report_backlog`` receives how many were due when
        the run started (``payment_expiry``)."""
        moment = now or clock.now()
        expired = 0
        deferred: set[str] = set()
        async with self.sessions() as session:
            if report_backlog is not None:
                async with session.begin():
                    due = await session.scalar(
                        select(func.count())
                        .select_from(Payment)
                        .where(Payment.status.in_(OPEN), Payment.expires_at < moment)
                    )
                report_backlog("payment_expiry", int(due or 0))
            while True:
                query = (
                    select(Payment)
                    .where(Payment.status.in_(OPEN), Payment.expires_at < moment)
                    .order_by(Payment.expires_at, Payment.id)
                    .limit(batch)
                )
                if deferred:
                    query = query.where(Payment.id.notin_(deferred))
                async with session.begin():
                    stale: Sequence[Payment] = (await session.execute(query)).scalars().all()
                for payment in stale:
                    outcome = await self._expire_one(session, payment)
                    if outcome is None:
                        deferred.add(payment.id)
                    elif outcome == "expired":
                        expired += 1
                if len(stale) < batch:
                    if expired:
                        log.info("payments_expired", count=expired)
                    return expired

    async def _expire_one(self, session: AsyncSession, payment: Payment) -> str | None:
        """Expire one payment (``expired``), or find it paid or closed meanwhile (``settled``);
        None when it must be looked at again later."""
        provider = self.providers.get(payment.provider)
        try:
            if provider is not None:
                await provider.cancel(payment)
                truth = await provider.fetch(payment)
                if truth is not None and truth.status == "succeeded":
                    async with session.begin():
                        await self._apply_truth(
                            session, payment.tenant, payment.id, truth, "provider_poll"
                        )
                    return "settled"
        except ProviderUnavailable as exc:
            log.warning("payment_expiry_deferred", payment_id=payment.id, error=str(exc))
            return None
        async with session.begin():
            locked = await self._find(session, payment.tenant, payment.id, lock=True)
            if locked.status not in OPEN:
                return "settled"
            locked.failure_reason = "expired"
            await self._transition(session, locked, "expired", "expiry")
        return "expired"
