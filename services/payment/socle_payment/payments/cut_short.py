"""The sweep of work cut short: creations and refunds whose provider call was never
recorded (the request cancelled, the process killed between the call and the record) and
that nobody retried are finished once their lease is over, with the same provider
idempotency key, so the provider acts at most once."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

import structlog
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from socle import clock
from socle.db import read_only
from socle.idempotency import Answer
from socle.idempotency_steps import settle_cut_short
from socle_payment.models import Payment, Refund
from socle_payment.payments.refunds import Refunds
from socle_payment.payments.use_cases import PaymentUseCases
from socle_payment.providers import ProviderRefused, ProviderUnavailable

log = structlog.get_logger("socle_payment")

Row = TypeVar("Row", Refund, Payment)


Answers = tuple[Callable[[Refund], BaseModel], Callable[[Payment], BaseModel]]
"""How a refund and a payment are answered (as the routes that create them answer)."""


class CutShortSweep(PaymentUseCases, Refunds):
    """Finishes, in batches, the creations and refunds left half done."""

    def _due_refunds(self, cutoff: datetime) -> Select[tuple[Refund]]:
        return select(Refund).where(
            Refund.status == "pending",
            Refund.created_at < cutoff,
            Refund.provider_key.is_not(None),
        )

    def _due_creations(self, cutoff: datetime, moment: datetime) -> Select[tuple[Payment]]:
        return select(Payment).where(
            Payment.status == "created",
            Payment.created_at < cutoff,
            Payment.expires_at > moment,  # past its time, the expiry sweep closes it
        )

    async def finish_cut_short(
        self,
        answers: Answers,
        now: datetime | None = None,
        batch: int = 100,
        report_backlog: Callable[[str, int], None] | None = None,
    ) -> int:
        """Finish the refunds still ``pending`` and the payments still ``created`` longer
        than the provider lease (:meth:`provider_lease`), in batches of ``batch`` until none
        is left; returns how many were finished. One whose provider cannot be reached is
        left for the next run. The ``Idempotency-Key`` of the request cut short, if it had one,
        ends with the answer the request would have given (``answers``), or is forgotten when
        the refund was released. ``report_backlog`` receives how many were due when the run
        started (``payment_cut_short``)."""
        moment = now or clock.now()
        cutoff = moment - timedelta(seconds=self.provider_lease())
        async with self.sessions() as session:
            if report_backlog is not None:
                async with session.begin():
                    await read_only(session)
                    refunds = await session.scalar(
                        select(func.count()).select_from(self._due_refunds(cutoff).subquery())
                    )
                    creations = await session.scalar(
                        select(func.count()).select_from(
                            self._due_creations(cutoff, moment).subquery()
                        )
                    )
                report_backlog("payment_cut_short", int(refunds or 0) + int(creations or 0))
            done = await self._sweep(
                session,
                lambda: self._due_refunds(cutoff).order_by(Refund.created_at, Refund.id),
                Refund,
                functools.partial(self._finish_refund, answer=answers[0]),
                batch,
            )
            done += await self._sweep(
                session,
                lambda: self._due_creations(cutoff, moment).order_by(
                    Payment.created_at, Payment.id
                ),
                Payment,
                functools.partial(self._finish_creation, answer=answers[1]),
                batch,
            )
        if done:
            log.info("payment_cut_short_finished", count=done)
        return done

    async def _sweep(
        self,
        session: AsyncSession,
        due: Callable[[], Select[tuple[Row]]],
        model: type[Row],
        finish: Callable[[AsyncSession, Row], Awaitable[bool]],
        batch: int,
    ) -> int:
        """``finish`` each row ``due`` gives, a batch at a time, until a batch is not full;
        a row ``finish`` leaves (False) is not asked again in this run."""
        done = 0
        deferred: set[str] = set()
        while True:
            query = due().limit(batch)
            if deferred:
                query = query.where(model.id.notin_(deferred))
            async with session.begin():
                await read_only(session)
                rows: Sequence[Row] = (await session.execute(query)).scalars().all()
            for row in rows:
                if await finish(session, row):
                    done += 1
                else:
                    deferred.add(row.id)
            if len(rows) < batch:
                return done

    async def _finish_refund(
        self, session: AsyncSession, refund: Refund, *, answer: Callable[[Refund], BaseModel]
    ) -> bool:
        """Ask the provider again with the refund's key: record it made, or release it when
        the provider refuses (nothing refunded); False when it cannot be reached."""
        async with session.begin():
            await read_only(session)
            payment = await self._find(session, refund.tenant, refund.payment_id)
        provider = self.providers.get(payment.provider)
        if provider is None or refund.provider_key is None:
            return False
        try:
            provider_refund_id = await provider.refund(payment, refund.amount, refund.provider_key)
        except ProviderRefused as exc:

            async def release() -> None:
                locked = await session.get(
                    Refund, refund.id, with_for_update=True, populate_existing=True
                )
                if locked is not None and locked.status == "pending":
                    locked.status = "failed"

            async with session.begin():
                await self._settle(session, refund.tenant, ("refund_id", refund.id), release)
            log.warning("refund_released", refund_id=refund.id, error=str(exc))
            return True
        except ProviderUnavailable as exc:
            log.warning("refund_resume_deferred", refund_id=refund.id, error=str(exc))
            return False

        async def complete() -> Answer:
            return answer(await self._complete(session, refund.id, provider_refund_id))

        async with session.begin():
            await self._settle(session, refund.tenant, ("refund_id", refund.id), complete)
        return True

    async def _finish_creation(
        self, session: AsyncSession, payment: Payment, *, answer: Callable[[Payment], BaseModel]
    ) -> bool:
        """Open the payment at its provider with its same key (the session a lost attempt
        opened is the one recorded) and record it ``pending``; False when it cannot be
        reached (the payment stays ``created``: the expiry sweep closes it in the end)."""
        provider = self.providers.get(payment.provider)
        if provider is None:
            return False
        try:
            opened = await provider.start(payment)
        except ProviderUnavailable as exc:
            log.warning("payment_resume_deferred", payment_id=payment.id, error=str(exc))
            return False

        async def record_opened() -> Answer:
            return answer(await self._opened(session, payment.tenant, payment.id, opened))

        async with session.begin():
            await self._settle(session, payment.tenant, ("payment_id", payment.id), record_opened)
        return True

    async def _settle(
        self,
        session: AsyncSession,
        tenant: str,
        state: tuple[str, str],
        work: Callable[[], Awaitable[Answer | None]],
    ) -> None:
        """Record ``work`` and end the request's key with its answer (scopes
        ``payment:<tenant>:...``, as the routes name them): the key locked first, as a retry
        of the request locks it."""
        await settle_cut_short(session, scope_prefix=f"payment:{tenant}:", state=state, work=work)
