"""Payment providers behind one small interface, so a commune can add its own acquirer.

A provider opens a payment (``start``), tells the truth about it when asked (``fetch``),
gives money back (``refund``) and closes an open payment (``cancel``). Network trouble is
reported as :class:`ProviderUnavailable`; the payment then stays pending and nothing is lost.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, Protocol

import stripe
from stdnum.ch import esr

from socle.db import utcnow
from socle_payment.models import Payment
from socle_payment.settings import PaymentSettings
from socle_payment.tenant_settings import StripeKeys

TruthStatus = Literal["pending", "succeeded", "failed", "expired"]
Page = Literal["test-cards", "qrbill", "provider"]
"""What the citizen's payment page shows: the sandbox's test-card form, the QR-bill, or a
redirect to the provider's own page."""


class ProviderUnavailable(RuntimeError):
    """The provider could not be reached or answered with an error we can retry."""


class ProviderRefused(ProviderUnavailable):
    """The provider answered that it will not do it (a refund it refuses): it did nothing,
    and asking again will not change its answer."""


@dataclass(frozen=True)
class Opened:
    """What a provider returns when a payment is opened."""

    provider_payment_id: str | None = None
    provider_url: str | None = None
    qr_reference: str | None = None


@dataclass(frozen=True)
class Truth:
    """The provider's view of a payment."""

    status: TruthStatus
    amount_captured: int = 0
    charge_id: str | None = None
    reason: str | None = None


class PaymentProvider(Protocol):
    """What a payment provider implements; register it under its ``name``."""

    name: str
    #: What the citizen's page shows; anything but ``provider`` is our own page.
    page: Page

    def lifetime(self, settings: PaymentSettings) -> timedelta:
        """How long a new payment stays open before it expires."""
        ...

    async def start(self, payment: Payment) -> Opened: ...

    async def fetch(self, payment: Payment) -> Truth | None:
        """The provider's truth, or None when the service itself holds it."""
        ...

    async def refund(self, payment: Payment, amount: int, idempotency_key: str) -> str | None:
        """Give ``amount`` back; return the provider's refund id (None if handled offline)."""
        ...

    async def cancel(self, payment: Payment) -> None:
        """Make an open payment unpayable at the provider."""
        ...


class SandboxProvider:
    """A local payment page with test cards, for development and demonstrations."""

    name = "sandbox"
    page: Page = "test-cards"

    def lifetime(self, settings: PaymentSettings) -> timedelta:
        return timedelta(minutes=settings.payment_expiry_minutes)

    async def start(self, payment: Payment) -> Opened:
        return Opened(provider_payment_id=f"sbx_{uuid.uuid4().hex}")

    async def fetch(self, payment: Payment) -> Truth | None:
        return None

    async def refund(self, payment: Payment, amount: int, idempotency_key: str) -> str | None:
        return f"sbx_re_{uuid.uuid4().hex}"

    async def cancel(self, payment: Payment) -> None:
        return None


def new_qr_reference() -> str:
    """A 27-digit QR reference: 26 random digits and the modulo-10 recursive check digit."""
    body = "".join(secrets.choice("0123456789") for _ in range(26))
    return body + esr.calc_check_digit(body)


class QRBillProvider:
    """A Swiss QR-bill the citizen pays by bank transfer; camt.054 files reconcile it."""

    name = "qrbill"
    page: Page = "qrbill"

    def lifetime(self, settings: PaymentSettings) -> timedelta:
        return timedelta(days=settings.payment_qrbill_expiry_days)

    async def start(self, payment: Payment) -> Opened:
        return Opened(qr_reference=new_qr_reference())

    async def fetch(self, payment: Payment) -> Truth | None:
        return None

    async def refund(self, payment: Payment, amount: int, idempotency_key: str) -> str | None:
        # The finance office pays back by bank transfer; the refund is recorded here.
        return None

    async def cancel(self, payment: Payment) -> None:
        return None


def _idempotent(options: stripe.RequestOptions, key: str) -> stripe.RequestOptions:
    merged = options.copy()
    merged["idempotency_key"] = key
    return merged


KeysOf = Callable[[str], Awaitable[StripeKeys | None]]


class StripeProvider:
    """Stripe Checkout Sessions through the official SDK, with the Stripe account of the
    payment's tenant (its own, else the installation's)."""

    name = "stripe"
    page: Page = "provider"

    def lifetime(self, settings: PaymentSettings) -> timedelta:
        return timedelta(minutes=settings.payment_expiry_minutes)

    def __init__(self, settings: PaymentSettings, keys_of: KeysOf | None = None) -> None:
        self.settings = settings
        self.keys_of = keys_of
        self._clients: dict[str, stripe.StripeClient] = {}

    def _client_for(self, secret_key: str) -> stripe.StripeClient:
        client = self._clients.get(secret_key)
        if client is None:
            client = stripe.StripeClient(
                secret_key,
                base_addresses={"api": self.settings.payment_stripe_api_base},
                http_client=stripe.HTTPXClient(
                    timeout=self.settings.payment_stripe_timeout_seconds
                ),
                max_network_retries=1,
            )
            self._clients[secret_key] = client
        return client

    async def client(self, tenant: str) -> tuple[stripe.StripeClient, stripe.RequestOptions]:
        """The client of the tenant's account and the options every call carries: the
        tenant's Stripe Connect account (``Stripe-Account``) when it has one."""
        keys = await self.keys_of(tenant) if self.keys_of is not None else None
        if keys is None and self.settings.stripe_enabled:
            keys = StripeKeys(self.settings.payment_stripe_secret_key, "")
        if keys is None:
            raise ProviderUnavailable("stripe: no Stripe account is configured for this tenant")
        options: stripe.RequestOptions = {}
        if keys.account_id:
            options["stripe_account"] = keys.account_id
        return self._client_for(keys.secret_key), options

    async def start(self, payment: Payment) -> Opened:
        # Stripe keeps a session open 30 minutes to 24 hours. The parameters depend only on
        # the payment, so a retry after a lost answer reuses the idempotency key validly.
        expires = min(
            max(payment.expires_at, payment.created_at + timedelta(minutes=31)),
            payment.created_at + timedelta(hours=23),
        )
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": payment.currency.lower(),
                        "unit_amount": payment.amount,
                        "product_data": {"name": payment.description},
                    },
                }
            ],
            "success_url": payment.return_url,
            "cancel_url": payment.return_url,
            "client_reference_id": payment.id,
            "metadata": {"socle_payment_id": payment.id, "socle_tenant": payment.tenant},
            "payment_intent_data": {"metadata": {"socle_payment_id": payment.id}},
        }
        if expires > utcnow() + timedelta(minutes=30):
            params["expires_at"] = int(expires.timestamp())
        try:
            client, options = await self.client(payment.tenant)
            session = await client.v1.checkout.sessions.create_async(
                params,  # type: ignore[arg-type]
                _idempotent(options, f"checkout-{payment.id}"),
            )
        except stripe.StripeError as exc:
            raise ProviderUnavailable(f"stripe: {exc.__class__.__name__}") from exc
        return Opened(provider_payment_id=session.id, provider_url=session.url)

    async def fetch(self, payment: Payment) -> Truth | None:
        if not payment.provider_payment_id:
            return Truth(status="pending")
        try:
            client, options = await self.client(payment.tenant)
            session = await client.v1.checkout.sessions.retrieve_async(
                payment.provider_payment_id,
                options=options,
            )
        except stripe.StripeError as exc:
            raise ProviderUnavailable(f"stripe: {exc.__class__.__name__}") from exc
        return truth_of_session(session.to_dict())

    async def refund(self, payment: Payment, amount: int, idempotency_key: str) -> str | None:
        if not payment.provider_charge_id:
            raise ProviderRefused("stripe: the payment has no payment intent to refund")
        try:
            client, options = await self.client(payment.tenant)
            refund = await client.v1.refunds.create_async(
                {"payment_intent": payment.provider_charge_id, "amount": amount},
                _idempotent(options, idempotency_key),
            )
        except stripe.InvalidRequestError as exc:
            raise ProviderRefused(f"stripe: {exc.__class__.__name__}") from exc
        except stripe.StripeError as exc:
            raise ProviderUnavailable(f"stripe: {exc.__class__.__name__}") from exc
        return str(refund.id)

    async def cancel(self, payment: Payment) -> None:
        if not payment.provider_payment_id:
            return
        try:
            client, options = await self.client(payment.tenant)
            await client.v1.checkout.sessions.expire_async(
                payment.provider_payment_id,
                options=options,
            )
        except stripe.InvalidRequestError:
            return  # already expired or complete: fetch() tells which
        except stripe.StripeError as exc:
            raise ProviderUnavailable(f"stripe: {exc.__class__.__name__}") from exc


def truth_of_session(session: Mapping[str, Any]) -> Truth:
    """Read a Checkout Session (from the API or a webhook) as our truth."""
    status = session.get("status")
    intent = session.get("payment_intent")
    intent_id = intent if isinstance(intent, str) or intent is None else intent.get("id")
    if status == "complete" and session.get("payment_status") in ("paid", "no_payment_required"):
        return Truth(
            status="succeeded",
            amount_captured=int(session.get("amount_total") or 0),
            charge_id=intent_id,
        )
    if status == "expired":
        return Truth(status="expired", reason="checkout_session_expired")
    return Truth(status="pending", charge_id=intent_id)


def disabled_reason(name: str, settings: PaymentSettings) -> str | None:
    """Why a provider this service knows is not offered by this configuration (None for a
    provider it does not know, or one that is enabled)."""
    if name == "stripe" and not settings.stripe_enabled:
        return "SOCLE_PAYMENT_STRIPE_SECRET_KEY is empty"
    return None


def build_providers(settings: PaymentSettings) -> dict[str, PaymentProvider]:
    """The providers this configuration offers (Stripe to the tenants with an account:
    their own, or every tenant when the installation has one)."""
    providers: dict[str, PaymentProvider] = {
        "qrbill": QRBillProvider(),
        "stripe": StripeProvider(settings),
    }
    if settings.payment_sandbox_enabled:
        providers["sandbox"] = SandboxProvider()
    return providers
