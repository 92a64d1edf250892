"""Create, read, list, report and cancel: the payment's own use cases."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import read_only, utcnow
from socle.idempotency_steps import State, Steps
from socle.outbox import record_event
from socle.pagination import decode_position, encode_position
from socle.problems import Unprocessable
from socle_payment.errors import PaymentNotOpen, ProviderDown
from socle_payment.events import payment_event
from socle_payment.models import Payment, PaymentTransition, Refund
from socle_payment.payments.ledger import OPEN, PaymentsBase, minor_to_decimal
from socle_payment.providers import Opened, ProviderUnavailable, disabled_reason
from socle_payment.schemas import PaymentCreate

log = structlog.get_logger("socle_payment")


class PaymentUseCases(PaymentsBase):
    """Create, read, list, report and cancel payments."""

    # ---- create --------------------------------------------------------------------------

    def creation(
        self,
        tenant: str,
        body: PaymentCreate,
        payer_subject: str | None,
        answer: Callable[[Payment], BaseModel],
    ) -> Steps[Opened | None]:
        """Open a payment for ``payer_subject``, answered as ``answer(payment)``: recorded
        ``created``, then opened at its provider with no transaction open (the provider's
        idempotency key is the payment's id), then recorded ``pending``."""

        async def record(session: AsyncSession) -> State:
            payment = await self._record_new(session, tenant, body, payer_subject)
            return {"payment_id": payment.id}

        async def call(state: State) -> Opened | None:
            async with self.sessions() as session, session.begin():
                await read_only(session)
                payment = await self._find(session, tenant, state["payment_id"])
            try:
                return await self.provider_of(payment).start(payment)
            except ProviderUnavailable as exc:
                log.warning("payment_provider_unavailable", payment_id=payment.id, error=str(exc))
                return None

        async def finish(session: AsyncSession, state: State, opened: Opened | None) -> Any:
            return answer(await self._opened(session, tenant, state["payment_id"], opened))

        return Steps(record=record, call=call, finish=finish, lease=self.provider_lease())

    async def _opened(
        self, session: AsyncSession, tenant: str, payment_id: str, opened: Opened | None
    ) -> Payment:
        """Record what the provider answered (None: it could not be reached) and the payment
        ``pending``; the first answer recorded stays (a later one is the same session)."""
        payment = await self._find(session, tenant, payment_id, lock=True)
        if opened is not None and not payment.provider_payment_id:
            payment.provider_payment_id = opened.provider_payment_id
            payment.provider_url = opened.provider_url
            payment.qr_reference = opened.qr_reference
        if payment.status == "created":
            cause = (
                "provider_opened"
                if opened is not None
                else "provider_unavailable: opened when the citizen arrives"
            )
            await self._transition(session, payment, "pending", cause)
        return payment

    async def _record_new(
        self, session: AsyncSession, tenant: str, body: PaymentCreate, payer_subject: str | None
    ) -> Payment:
        """Check the request and record the payment ``created``, with its event."""
        offered = await self.offers(session, tenant)
        provider = self.providers.get(body.provider) if body.provider in offered else None
        if provider is None:
            reason = disabled_reason(body.provider, self.settings)
            if reason is not None:
                raise Unprocessable(
                    f"The {body.provider} provider is not enabled for this tenant "
                    f"({reason}); use {', '.join(offered)}.",
                    code="provider-disabled",
                )
            raise Unprocessable(
                f"Unknown provider {body.provider!r}; use one of {', '.join(offered)}.",
                code="unknown-provider",
                errors=[{"field": "body.provider", "message": "unknown", "code": "unknown"}],
            )
        cap = self.settings.payment_max_amount
        if body.amount > cap:
            raise Unprocessable(
                f"The amount {body.amount} is over the limit of {cap} minor units "
                f"({minor_to_decimal(cap)} {body.currency}) set by SOCLE_PAYMENT_MAX_AMOUNT.",
                code="amount-over-limit",
                errors=[{"field": "body.amount", "message": f"max {cap}", "code": "too_large"}],
            )
        now = utcnow()
        lifetime = provider.lifetime(self.settings)
        payment = Payment(
            id=uuid.uuid4().hex,
            tenant=tenant,
            status="created",
            amount=body.amount,
            currency=body.currency,
            amount_captured=0,
            amount_refunded=0,
            reference=body.reference,
            description=body.description,
            return_url=str(body.return_url),
            procedure_ref=body.procedure_ref,
            payer_email=body.payer_email,
            payer_subject=payer_subject,
            meta=dict(body.metadata),
            provider=body.provider,
            page_token=secrets.token_urlsafe(32),
            created_at=now,
            updated_at=now,
            expires_at=now + lifetime,
        )
        session.add(payment)
        session.add(
            PaymentTransition(
                payment_id=payment.id,
                tenant=tenant,
                from_status=None,
                to_status="created",
                cause="api",
                amount=body.amount,
                at=now,
            )
        )
        await session.flush()
        await record_event(
            session,
            payment_event(payment, previous_status=None, cause="api"),
            aggregate=f"payment:{payment.id}",
        )
        return payment

    # ---- read ----------------------------------------------------------------------------

    async def get(
        self, tenant: str, payment_id: str, *, owner: str | None = None
    ) -> tuple[Payment, list[PaymentTransition], list[Refund]]:
        """The payment as the provider knows it: asks the provider while it is open."""
        async with self.sessions() as session:
            async with session.begin():
                await read_only(session)
                payment = await self._find(session, tenant, payment_id, owner=owner)
                if payment.status not in OPEN:
                    return payment, *(await self._history(session, payment))
            await self.sync(session, payment, cause="provider_poll")
            async with session.begin():
                await read_only(session)
                payment = await self._find(session, tenant, payment_id)
                return payment, *(await self._history(session, payment))

    async def _history(
        self, session: AsyncSession, payment: Payment
    ) -> tuple[list[PaymentTransition], list[Refund]]:
        ledger = await session.execute(
            select(PaymentTransition)
            .where(PaymentTransition.payment_id == payment.id)
            .order_by(PaymentTransition.id)
        )
        refunds = await session.execute(
            select(Refund)
            .where(Refund.payment_id == payment.id)
            .order_by(Refund.created_at, Refund.id)
        )
        return list(ledger.scalars()), list(refunds.scalars())

    async def list_payments(
        self,
        tenant: str,
        *,
        owner: str | None,
        status: str | None,
        created_from: datetime | None,
        created_to: datetime | None,
        reference: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Payment], str | None]:
        """Newest first; ``owner`` (a person's subject) lists only the payments it pays."""
        query = select(Payment).where(Payment.tenant == tenant)
        if owner is not None:
            query = query.where(Payment.payer_subject == owner)
        if status:
            query = query.where(Payment.status == status)
        if created_from:
            query = query.where(Payment.created_at >= created_from)
        if created_to:
            query = query.where(Payment.created_at < created_to)
        if reference:
            query = query.where(Payment.reference == reference)
        if cursor:
            at, last_id = decode_position(cursor)
            query = query.where(
                (Payment.created_at < at) | ((Payment.created_at == at) & (Payment.id < last_id))
            )
        query = query.order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit + 1)
        async with self.sessions() as session, session.begin():
            rows = list((await session.execute(query)).scalars())
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_position(rows[-1].created_at, rows[-1].id) if more and rows else None
        return rows, next_cursor

    async def report(self, tenant: str, start: date, end: date) -> list[Payment]:
        """Payments created from ``start`` to ``end`` (both days included, UTC)."""
        if end < start:
            raise Unprocessable(
                "The report's 'to' date is before its 'from' date.", code="invalid-date-range"
            )
        low = datetime(start.year, start.month, start.day, tzinfo=UTC)
        query = select(Payment).where(Payment.tenant == tenant, Payment.created_at >= low)
        if end < date.max:  # the day after 9999-12-31 does not exist: no upper bound then
            high = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
            query = query.where(Payment.created_at < high)
        async with self.sessions() as session, session.begin():
            rows = await session.execute(query.order_by(Payment.created_at, Payment.id))
            return list(rows.scalars())

    # ---- cancel ------------------------------------------------------------------------

    async def cancel(self, tenant: str, payment_id: str, *, owner: str | None = None) -> Payment:
        async with self.sessions() as session:
            async with session.begin():
                payment = await self._find(session, tenant, payment_id, owner=owner)
            if payment.status not in OPEN:
                raise PaymentNotOpen(
                    f"The payment is {payment.status}; only an open one is cancelled."
                )
            provider = self.provider_of(payment)
            try:
                await provider.cancel(payment)
            except ProviderUnavailable as exc:
                raise ProviderDown(
                    "The payment provider cannot be reached to close the payment; retry later.",
                    headers={"Retry-After": "30"},
                ) from exc
            await self.sync(session, payment, cause="provider_poll")
            async with session.begin():
                payment = await self._find(session, tenant, payment_id, lock=True)
                if payment.status not in OPEN:
                    raise PaymentNotOpen(
                        f"The payment is {payment.status}; it can no longer be cancelled."
                    )
                await self._transition(session, payment, "cancelled", "api")
                return payment
