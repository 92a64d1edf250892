"""Use cases of the payment service; each owns its transaction and raises DomainErrors."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import stripe
import structlog
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.db import read_only, utcnow
from socle.inbox import first_delivery
from socle.outbox import record_event
from socle.pagination import decode_position, encode_position
from socle.problems import Conflict, DomainError, NotFound, Unavailable, Unprocessable
from socle_payment.camt import CamtLine
from socle_payment.events import payment_event
from socle_payment.models import Payment, PaymentTransition, Refund
from socle_payment.providers import PaymentProvider, ProviderUnavailable, Truth, truth_of_session
from socle_payment.schemas import PaymentCreate
from socle_payment.settings import PaymentSettings

log = structlog.get_logger("socle_payment")

Q = TypeVar("Q", bound=Select[Any])

OPEN = frozenset({"created", "pending"})
PAID = frozenset({"succeeded", "partially_refunded", "refunded"})

#: The state machine. ``expired``/``cancelled`` may still become ``succeeded`` when the
#: provider proves the money arrived (a late bank transfer, a late webhook): money is never
#: ignored.
TRANSITIONS: dict[str, frozenset[str]] = {
    "created": frozenset({"pending", "failed", "cancelled", "expired"}),
    "pending": frozenset({"succeeded", "failed", "cancelled", "expired"}),
    "succeeded": frozenset({"partially_refunded", "refunded"}),
    "partially_refunded": frozenset({"partially_refunded", "refunded"}),
    "refunded": frozenset(),
    "failed": frozenset(),
    "cancelled": frozenset({"succeeded"}),
    "expired": frozenset({"succeeded"}),
}

SANDBOX_SUCCESS_CARD = "4242424242424242"
SANDBOX_DECLINE_CARD = "4000000000000002"


class PaymentNotFound(NotFound):
    code = "payment-not-found"


class IllegalTransition(Conflict):
    code = "illegal-transition"


class PaymentNotOpen(Conflict):
    code = "payment-not-open"


class ProviderDown(Unavailable):
    code = "provider-unavailable"


def minor_to_decimal(amount: int) -> str:
    """15000 -> '150.00', with integer arithmetic only."""
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole}.{cents:02d}"


@dataclass
class Payments:
    """The payment use cases, given the settings, the providers and a session factory."""

    settings: PaymentSettings
    providers: dict[str, PaymentProvider]
    sessions: async_sessionmaker[AsyncSession]

    # ---- helpers -------------------------------------------------------------------------

    def next_url(self, payment: Payment) -> str | None:
        if payment.status not in OPEN:
            return None
        provider = self.providers.get(payment.provider)
        if provider is not None and not provider.local_page and payment.provider_url:
            return payment.provider_url
        return self.page_url(payment)

    def page_url(self, payment: Payment) -> str:
        return f"{self.settings.payment_public_url.rstrip('/')}/pay/{payment.page_token}"

    def provider_of(self, payment: Payment) -> PaymentProvider:
        provider = self.providers.get(payment.provider)
        if provider is None:
            raise Unavailable(
                f"The provider {payment.provider!r} of this payment is not configured any more.",
                code="provider-disabled",
            )
        return provider

    @staticmethod
    def _locked(query: Q, session: AsyncSession) -> Q:
        query = query.execution_options(populate_existing=True)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        return query

    async def _find(
        self,
        session: AsyncSession,
        tenant: str,
        payment_id: str,
        *,
        lock: bool = False,
        owner: str | None = None,
    ) -> Payment:
        """The payment; ``owner`` (a person's subject) sees only the payments it pays: any
        other answers 404, exactly as a payment that does not exist."""
        query = select(Payment).where(Payment.id == payment_id, Payment.tenant == tenant)
        if owner is not None:
            query = query.where(Payment.payer_subject == owner)
        query = self._locked(query, session) if lock else query
        payment = (await session.execute(query)).scalar_one_or_none()
        if payment is None:
            raise PaymentNotFound(f"No payment {payment_id} in this tenant.")
        return payment

    async def _by_token(self, session: AsyncSession, token: str, *, lock: bool = False) -> Payment:
        query = select(Payment).where(Payment.page_token == token)
        query = self._locked(query, session) if lock else query
        payment = (await session.execute(query)).scalar_one_or_none()
        if payment is None:
            raise PaymentNotFound("This payment page does not exist.")
        return payment

    async def _transition(
        self,
        session: AsyncSession,
        payment: Payment,
        to: str,
        cause: str,
        *,
        amount: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        previous = payment.status
        if to not in TRANSITIONS.get(previous, frozenset()):
            raise IllegalTransition(
                f"A {previous} payment cannot become {to}.",
                errors=[{"field": "status", "message": f"{previous} -> {to}", "code": "illegal"}],
            )
        now = utcnow()
        payment.status = to
        payment.updated_at = now
        session.add(
            PaymentTransition(
                payment_id=payment.id,
                tenant=payment.tenant,
                from_status=previous,
                to_status=to,
                cause=cause[:255],
                amount=amount,
                at=now,
            )
        )
        await record_event(
            session,
            payment_event(payment, previous_status=previous, cause=cause, extra=extra),
            aggregate=f"payment:{payment.id}",
        )
        log.info(
            "payment_transition",
            payment_id=payment.id,
            tenant=payment.tenant,
            from_status=previous,
            to_status=to,
            cause=cause,
        )

    # ---- create --------------------------------------------------------------------------

    async def create(
        self, session: AsyncSession, tenant: str, body: PaymentCreate, payer_subject: str | None
    ) -> Payment:
        """Open a payment for ``payer_subject``; inside the caller's (idempotency) transaction."""
        provider = self.providers.get(body.provider)
        if provider is None:
            if body.provider == "stripe":
                raise Unprocessable(
                    "The stripe provider is not enabled on this installation "
                    "(SOCLE_PAYMENT_STRIPE_SECRET_KEY is empty); use "
                    f"{', '.join(sorted(self.providers))}.",
                    code="provider-disabled",
                )
            raise Unprocessable(
                f"Unknown provider {body.provider!r}; use one of "
                f"{', '.join(sorted(self.providers))}.",
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
        lifetime = (
            timedelta(days=self.settings.payment_qrbill_expiry_days)
            if body.provider == "qrbill"
            else timedelta(minutes=self.settings.payment_expiry_minutes)
        )
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
        try:
            opened = await provider.start(payment)
        except ProviderUnavailable as exc:
            log.warning("payment_provider_unavailable", payment_id=payment.id, error=str(exc))
            cause = "provider_unavailable: opened when the citizen arrives"
        else:
            payment.provider_payment_id = opened.provider_payment_id
            payment.provider_url = opened.provider_url
            payment.qr_reference = opened.qr_reference
            cause = "provider_opened"
        await self._transition(session, payment, "pending", cause)
        return payment

    # ---- read ----------------------------------------------------------------------------

    async def get(
        self, session: AsyncSession, tenant: str, payment_id: str, *, owner: str | None = None
    ) -> tuple[Payment, list[PaymentTransition], list[Refund]]:
        """The payment as the provider knows it: asks the provider while it is open."""
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

    async def sync(self, session: AsyncSession, payment: Payment, *, cause: str) -> None:
        """Ask the provider (outside any transaction) and apply its truth."""
        provider = self.providers.get(payment.provider)
        if provider is None:
            return
        try:
            truth = await provider.fetch(payment)
        except ProviderUnavailable as exc:
            log.warning("payment_provider_unavailable", payment_id=payment.id, error=str(exc))
            return
        if truth is not None:
            async with session.begin():
                await self._apply_truth(session, payment.tenant, payment.id, truth, cause)

    async def _apply_truth(
        self, session: AsyncSession, tenant: str, payment_id: str, truth: Truth, cause: str
    ) -> Payment:
        payment = await self._find(session, tenant, payment_id, lock=True)
        if truth.charge_id and not payment.provider_charge_id:
            payment.provider_charge_id = truth.charge_id
        if truth.status == "succeeded" and payment.status not in PAID | {"failed"}:
            payment.amount_captured = truth.amount_captured or payment.amount
            if payment.status not in OPEN:
                log.warning("payment_paid_after_close", payment_id=payment.id)
            await self._transition(
                session, payment, "succeeded", cause, amount=payment.amount_captured
            )
        elif truth.status in ("failed", "expired") and payment.status in OPEN:
            payment.failure_reason = truth.reason
            await self._transition(session, payment, truth.status, cause)
        return payment

    async def list_payments(
        self,
        session: AsyncSession,
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
        async with session.begin():
            rows = list((await session.execute(query)).scalars())
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_position(rows[-1].created_at, rows[-1].id) if more and rows else None
        return rows, next_cursor

    async def report(
        self, session: AsyncSession, tenant: str, start: date, end: date
    ) -> list[Payment]:
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
        async with session.begin():
            rows = await session.execute(query.order_by(Payment.created_at, Payment.id))
            return list(rows.scalars())

    # ---- cancel and refund ---------------------------------------------------------------

    async def cancel(
        self, session: AsyncSession, tenant: str, payment_id: str, *, owner: str | None = None
    ) -> Payment:
        async with session.begin():
            payment = await self._find(session, tenant, payment_id, owner=owner)
        if payment.status not in OPEN:
            raise PaymentNotOpen(f"The payment is {payment.status}; only an open one is cancelled.")
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

    # ---- the citizen's page --------------------------------------------------------------

    async def by_token(self, session: AsyncSession, token: str) -> Payment:
        async with session.begin():
            return await self._by_token(session, token)

    async def open_at_provider(self, session: AsyncSession, payment: Payment) -> str:
        """Where to send the citizen for a provider with its own page; opens it if needed."""
        if payment.provider_url:
            return payment.provider_url
        provider = self.provider_of(payment)
        try:
            opened = await provider.start(payment)
        except ProviderUnavailable as exc:
            raise ProviderDown(
                "The payment provider cannot be reached; your payment is kept, try again "
                "in a moment.",
                headers={"Retry-After": "30"},
            ) from exc
        async with session.begin():
            locked = await self._by_token(session, payment.page_token, lock=True)
            if not locked.provider_url:
                locked.provider_payment_id = opened.provider_payment_id
                locked.provider_url = opened.provider_url
            return locked.provider_url or ""

    async def sandbox_pay(self, session: AsyncSession, token: str, card_number: str) -> Payment:
        digits = "".join(ch for ch in card_number if ch.isdigit())
        async with session.begin():
            payment = await self._by_token(session, token, lock=True)
            if payment.provider != "sandbox":
                raise PaymentNotFound("This payment page does not exist.")
            if payment.status not in OPEN:
                raise PaymentNotOpen(f"This payment is already {payment.status}.")
            if digits == SANDBOX_SUCCESS_CARD:
                payment.amount_captured = payment.amount
                await self._transition(
                    session, payment, "succeeded", "sandbox_card_accepted", amount=payment.amount
                )
            elif digits == SANDBOX_DECLINE_CARD:
                payment.failure_reason = "card_declined"
                await self._transition(session, payment, "failed", "sandbox_card_declined")
            else:
                raise Unprocessable(
                    "Use a test card: 4242 4242 4242 4242 (accepted) or "
                    "4000 0000 0000 0002 (declined).",
                    code="unknown-test-card",
                )
            return payment

    # ---- Stripe webhooks -----------------------------------------------------------------

    async def stripe_webhook(
        self, session: AsyncSession, payload: bytes, signature: str | None
    ) -> str:
        """Apply a signed Stripe event once; returns what was done."""
        secret = self.settings.payment_stripe_webhook_secret
        if "stripe" not in self.providers or not secret:
            raise NotFound("Stripe is not enabled on this installation.", code="provider-disabled")
        try:
            event = stripe.Webhook.construct_event(payload, signature, secret)
        except stripe.SignatureVerificationError as exc:
            raise DomainError(
                "The Stripe-Signature header does not match this payload (wrong secret, "
                "altered body, or a timestamp older than 5 minutes).",
                status=400,
                code="invalid-signature",
                title="Invalid webhook signature",
            ) from exc
        except ValueError as exc:
            raise DomainError(
                "The webhook body is not a Stripe event.", status=400, code="invalid-webhook"
            ) from exc
        kind = str(event["type"])
        obj: dict[str, Any] = event["data"]["object"].to_dict()
        if not kind.startswith("checkout.session."):
            return "ignored"
        truth = truth_of_session(obj)
        if kind == "checkout.session.async_payment_failed":
            truth = Truth(status="failed", reason="async_payment_failed")
        async with session.begin():
            if not await first_delivery(session, "stripe-webhook", str(event["id"])):
                return "duplicate"
            payment = (
                await session.execute(
                    select(Payment).where(Payment.provider_payment_id == str(obj.get("id")))
                )
            ).scalar_one_or_none()
            if payment is None:
                log.warning("stripe_webhook_unknown_session", event_type=kind)
                return "unknown"
            await self._apply_truth(
                session, payment.tenant, payment.id, truth, f"stripe_webhook:{event['id']}"
            )
            return "applied"

    # ---- reconciliation ------------------------------------------------------------------

    async def reconcile(
        self, session: AsyncSession, tenant: str, lines: Sequence[CamtLine]
    ) -> list[dict[str, Any]]:
        """Mark the QR-bills a bank notified as paid; report every line and its outcome."""
        report: list[dict[str, Any]] = []
        async with session.begin():
            for line in lines:
                outcome, payment_id = await self._reconcile_line(session, tenant, line)
                report.append(
                    {
                        "entry_reference": line.entry_reference,
                        "qr_reference": line.qr_reference,
                        "amount": line.amount,
                        "currency": line.currency,
                        "booking_date": line.booking_date,
                        "outcome": outcome,
                        "payment_id": payment_id,
                    }
                )
        log.info(
            "camt054_reconciled",
            tenant=tenant,
            lines=len(report),
            matched=sum(1 for r in report if r["outcome"] == "matched"),
        )
        return report

    async def _reconcile_line(
        self, session: AsyncSession, tenant: str, line: CamtLine
    ) -> tuple[str, str | None]:
        if not line.credit:
            return "not_a_credit", None
        if not line.qr_reference:
            return "unknown_reference", None
        payment = (
            await session.execute(
                self._locked(
                    select(Payment).where(
                        Payment.tenant == tenant, Payment.qr_reference == line.qr_reference
                    ),
                    session,
                )
            )
        ).scalar_one_or_none()
        if payment is None:
            return "unknown_reference", None
        if payment.status in PAID:
            return "already_paid", payment.id
        if line.currency != payment.currency or line.amount != payment.amount:
            return "amount_mismatch", payment.id
        await self._apply_truth(
            session,
            tenant,
            payment.id,
            Truth(status="succeeded", amount_captured=line.amount),
            f"camt054:{line.entry_reference or line.qr_reference}",
        )
        return "matched", payment.id

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
        moment = now or utcnow()
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
