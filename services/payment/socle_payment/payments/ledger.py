"""The payment state machine and its ledger: the states, the errors, and the base every use
case builds on (lookups, transitions, applying what the provider says)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.db import for_update, utcnow
from socle.outbox import record_event
from socle.problems import Unavailable
from socle_payment.errors import IllegalTransition, PaymentNotFound
from socle_payment.events import payment_event
from socle_payment.models import Payment, PaymentTransition
from socle_payment.providers import (
    Page,
    PaymentProvider,
    ProviderUnavailable,
    StripeProvider,
    Truth,
)
from socle_payment.settings import PaymentSettings
from socle_payment.tenant_settings import CreditorInfo, StripeKeys, TenantConfig

log = structlog.get_logger("socle_payment")


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


def minor_to_decimal(amount: int) -> str:
    """15000 -> '150.00', with integer arithmetic only."""
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole}.{cents:02d}"


@dataclass
class PaymentsBase:
    """What every payment use case shares: the settings, the providers, a session factory,
    the lookups, and the state machine that moves a payment and writes its ledger."""

    settings: PaymentSettings
    providers: dict[str, PaymentProvider]
    sessions: async_sessionmaker[AsyncSession]
    tenants: TenantConfig = field(init=False)

    def __post_init__(self) -> None:
        self.tenants = TenantConfig(self.settings, self.settings.key_encryption())
        for provider in self.providers.values():
            if isinstance(provider, StripeProvider) and provider.keys_of is None:
                provider.keys_of = self.stripe_keys

    async def stripe_keys(self, tenant: str) -> StripeKeys | None:
        """The Stripe account of ``tenant`` (its own, else the installation's, else None)."""
        async with self.sessions() as session:
            return await self.tenants.stripe_keys(session, tenant)

    async def creditor_of(self, tenant: str) -> CreditorInfo:
        """Who ``tenant``'s QR-bills are payable to (its own creditor, else the default)."""
        async with self.sessions() as session:
            return await self.tenants.creditor(session, tenant)

    async def offers(self, session: AsyncSession, tenant: str) -> list[str]:
        """The providers a payment of ``tenant`` may be made with."""
        names = sorted(self.providers)
        if "stripe" in names and await self.tenants.stripe_keys(session, tenant) is None:
            names.remove("stripe")
        return names

    def provider_lease(self) -> float:
        """Seconds an attempt's provider call may take before another process resumes it
        (:class:`socle.idempotency_steps.Steps`): the SDK's try and its one retry, and a margin."""
        return 3 * self.settings.payment_stripe_timeout_seconds + 5

    # ---- helpers -------------------------------------------------------------------------

    def next_url(self, payment: Payment) -> str | None:
        if payment.status not in OPEN:
            return None
        provider = self.providers.get(payment.provider)
        if provider is not None and provider.page == "provider" and payment.provider_url:
            return payment.provider_url
        return self.page_url(payment)

    def page_url(self, payment: Payment) -> str:
        return f"{self.settings.payment_public_url.rstrip('/')}/pay/{payment.page_token}"

    def page_of(self, payment: Payment) -> Page | None:
        """What the citizen's page of this payment shows (None: its provider is gone)."""
        provider = self.providers.get(payment.provider)
        return None if provider is None else provider.page

    def provider_of(self, payment: Payment) -> PaymentProvider:
        provider = self.providers.get(payment.provider)
        if provider is None:
            raise Unavailable(
                f"The provider {payment.provider!r} of this payment is not configured any more.",
                code="provider-disabled",
            )
        return provider

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
        query = for_update(query) if lock else query
        payment = (await session.execute(query)).scalar_one_or_none()
        if payment is None:
            raise PaymentNotFound(f"No payment {payment_id} in this tenant.")
        return payment

    async def _by_token(self, session: AsyncSession, token: str, *, lock: bool = False) -> Payment:
        query = select(Payment).where(Payment.page_token == token)
        query = for_update(query) if lock else query
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

    # ---- the provider's truth -----------------------------------------------------------

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
