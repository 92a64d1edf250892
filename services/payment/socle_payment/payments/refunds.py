"""Refunding part or all of a paid payment: reserve, ask the provider, record.

No transaction is open while the provider is asked: the refund is first recorded as
``pending`` (its amount reserved, so concurrent refunds never exceed what was captured),
then the provider is called with an idempotency key fixed when the refund was reserved, then
the refund and the payment's new status are recorded (:class:`socle.idempotency_steps.Steps`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import read_only, utcnow
from socle.idempotency_steps import State, Steps
from socle.problems import Conflict, Unprocessable
from socle_payment.errors import ProviderDown
from socle_payment.models import Refund
from socle_payment.payments.ledger import PaymentsBase, minor_to_decimal
from socle_payment.providers import ProviderUnavailable


class Refunds(PaymentsBase):
    """Refunds through the payment's provider."""

    def refunding(
        self,
        tenant: str,
        payment_id: str,
        amount: int | None,
        reason: str | None,
        answer: Callable[[Refund], BaseModel],
    ) -> Steps[str | None]:
        """Refund part or all of what was captured, answered as ``answer(refund)``."""

        async def record(session: AsyncSession) -> State:
            refund, provider_key = await self._reserve(session, tenant, payment_id, amount, reason)
            return {"refund_id": refund.id, "provider_key": provider_key}

        async def call(state: State) -> str | None:
            async with self.sessions() as session, session.begin():
                await read_only(session)
                refund = await session.get_one(Refund, state["refund_id"])
                payment = await self._find(session, tenant, refund.payment_id)
            try:
                return await self.provider_of(payment).refund(
                    payment, refund.amount, state["provider_key"]
                )
            except ProviderUnavailable as exc:
                raise ProviderDown(
                    "The payment provider cannot be reached to refund; nothing was refunded, "
                    "retry with the same Idempotency-Key.",
                    headers={"Retry-After": "30"},
                ) from exc

        async def finish(session: AsyncSession, state: State, provider_refund_id: Any) -> Any:
            return answer(await self._complete(session, state["refund_id"], provider_refund_id))

        async def undo(session: AsyncSession, state: State) -> None:
            refund = await session.get(Refund, state["refund_id"])
            if refund is not None and refund.status == "pending":
                await session.delete(refund)

        return Steps(
            record=record,
            call=call,
            finish=finish,
            lease=self.provider_lease(),
            undo=undo,
            undo_on=(ProviderDown,),
        )

    async def _reserve(
        self,
        session: AsyncSession,
        tenant: str,
        payment_id: str,
        amount: int | None,
        reason: str | None,
    ) -> tuple[Refund, str]:
        """Check the refund and record it ``pending``; with the idempotency key the provider
        is asked with."""
        payment = await self._find(session, tenant, payment_id, lock=True)
        if payment.status not in ("succeeded", "partially_refunded"):
            raise Conflict(
                f"The payment is {payment.status}; only a paid payment can be refunded.",
                code="payment-not-refundable",
            )
        reserved = await session.scalar(
            select(func.coalesce(func.sum(Refund.amount), 0)).where(
                Refund.payment_id == payment.id, Refund.status == "pending"
            )
        )
        taken = payment.amount_refunded + int(reserved or 0)
        remaining = payment.amount_captured - taken
        wanted = remaining if amount is None else amount
        if wanted > remaining:
            raise Unprocessable(
                f"Refund of {wanted} is more than the {remaining} minor units still refundable "
                f"({minor_to_decimal(payment.amount_captured)} captured, "
                f"{minor_to_decimal(taken)} already refunded or being refunded).",
                code="refund-exceeds-captured",
                errors=[
                    {"field": "body.amount", "message": f"max {remaining}", "code": "too_large"}
                ],
            )
        # What was refunded before, and how much: a new request for the same refund after
        # one the provider made but whose answer was lost gets that same refund.
        provider_key = f"refund-{payment.id}-{taken}-{wanted}"
        refund = Refund(
            id=uuid.uuid4().hex,
            payment_id=payment.id,
            tenant=tenant,
            amount=wanted,
            reason=reason,
            status="pending",
            provider_key=provider_key,
            created_at=utcnow(),
        )
        session.add(refund)
        await session.flush()
        return refund, provider_key

    async def _complete(
        self, session: AsyncSession, refund_id: str, provider_refund_id: str | None
    ) -> Refund:
        refund = await session.get_one(Refund, refund_id)
        payment = await self._find(session, refund.tenant, refund.payment_id, lock=True)
        # Read again now that the payment is held: the refund may have been completed since
        # it was read (by its retry while the sweep asked the provider), and it counts once.
        await session.refresh(refund)
        if refund.status != "pending":
            return refund
        refund.status = "succeeded"
        refund.provider_refund_id = provider_refund_id
        payment.amount_refunded += refund.amount
        to = (
            "refunded"
            if payment.amount_refunded >= payment.amount_captured
            else "partially_refunded"
        )
        await self._transition(
            session,
            payment,
            to,
            f"refund:{refund.id}",
            amount=refund.amount,
            extra={"refund_id": refund.id, "refund_amount": refund.amount},
        )
        return refund
