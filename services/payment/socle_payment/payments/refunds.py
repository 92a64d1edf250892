"""Refunding part or all of a paid payment."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import utcnow
from socle.problems import Conflict, Unprocessable
from socle_payment.errors import ProviderDown
from socle_payment.models import Payment, Refund
from socle_payment.payments.ledger import PaymentsBase, minor_to_decimal
from socle_payment.providers import ProviderUnavailable


class Refunds(PaymentsBase):
    """Refunds through the payment's provider."""

    async def refund(
        self,
        session: AsyncSession,
        tenant: str,
        payment_id: str,
        amount: int | None,
        reason: str | None,
    ) -> tuple[Refund, Payment]:
        """Refund part or all of what was captured; inside the caller's transaction."""
        payment = await self._find(session, tenant, payment_id, lock=True)
        if payment.status not in ("succeeded", "partially_refunded"):
            raise Conflict(
                f"The payment is {payment.status}; only a paid payment can be refunded.",
                code="payment-not-refundable",
            )
        remaining = payment.amount_captured - payment.amount_refunded
        wanted = remaining if amount is None else amount
        if wanted > remaining:
            raise Unprocessable(
                f"Refund of {wanted} is more than the {remaining} minor units still refundable "
                f"({minor_to_decimal(payment.amount_captured)} captured, "
                f"{minor_to_decimal(payment.amount_refunded)} already refunded).",
                code="refund-exceeds-captured",
                errors=[
                    {"field": "body.amount", "message": f"max {remaining}", "code": "too_large"}
                ],
            )
        provider = self.provider_of(payment)
        try:
            provider_refund_id = await provider.refund(
                payment, wanted, f"refund-{payment.id}-{payment.amount_refunded}-{wanted}"
            )
        except ProviderUnavailable as exc:
            raise ProviderDown(
                "The payment provider cannot be reached to refund; nothing was refunded, "
                "retry with the same Idempotency-Key.",
                headers={"Retry-After": "30"},
            ) from exc
        refund = Refund(
            id=uuid.uuid4().hex,
            payment_id=payment.id,
            tenant=tenant,
            amount=wanted,
            reason=reason,
            provider_refund_id=provider_refund_id,
            created_at=utcnow(),
        )
        session.add(refund)
        payment.amount_refunded += wanted
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
            amount=wanted,
            extra={"refund_id": refund.id, "refund_amount": wanted},
        )
        return refund, payment
