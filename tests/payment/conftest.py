"""Fixtures of the payment tests: the app on real PostgreSQL and NATS, tokens, the bus."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from socle_payment.settings import PaymentSettings
from tests.support.payment import BACK_OFFICE, SCOPES
from tests.support.stripe_standin import WEBHOOK_SECRET, StripeStandIn


@pytest.fixture(scope="session")
def payment_database(migrated_database: Callable[[str], str]) -> str:
    """One migrated database for the payment tests; each test has its own tenant."""
    return migrated_database("payment")


@pytest.fixture(scope="session")
def stripe_standin() -> Iterator[StripeStandIn]:
    standin = StripeStandIn()
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture
def slow_stripe(stripe_standin: StripeStandIn) -> Iterator[threading.Event]:
    """Stripe takes its time: creations wait until the test sets the event."""
    gate = threading.Event()
    stripe_standin.outage = False
    stripe_standin.hold = gate
    yield gate
    gate.set()
    stripe_standin.hold = None
    stripe_standin.hold_only = None


@pytest.fixture
def settings_for(payment_database, nats_server, issuer) -> Callable[..., PaymentSettings]:
    def build(**overrides: Any) -> PaymentSettings:
        values: dict[str, Any] = {
            "database_url": payment_database,
            "nats_url": nats_server.url,
            "issuer": issuer.issuer,
            "jwks_url": issuer.jwks_url,
            "outbox_poll_seconds": 0.2,
            "payment_expiry_sweep_seconds": 0,
            "payment_cut_short_sweep_seconds": 0,
            "payment_public_url": "http://testserver",
        }
        values.update(overrides)
        return PaymentSettings(**values)

    return build


@pytest.fixture
def auth(issuer, tenant) -> Callable[..., dict[str, str]]:
    """Authorization headers; by default the commune's back office (a client acting for
    itself: ``sub`` is its client id). ``subject=`` and ``roles=`` give a person's token."""

    def headers(
        scopes: list[str] | None = None,
        for_tenant: str | None = None,
        subject: str = BACK_OFFICE,
        roles: tuple[str, ...] = (),
        client_id: str = BACK_OFFICE,
    ) -> dict[str, str]:
        token = issuer.token(
            audience="socle-payment",
            tenant=for_tenant or tenant,
            scopes=SCOPES if scopes is None else scopes,
            subject=subject,
            roles=roles,
            client_id=client_id,
        )
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
def citizen(auth) -> Callable[[str], dict[str, str]]:
    """A citizen's token (through the portal's public client) with the payment scopes."""

    def headers(subject: str, scopes: list[str] | None = None) -> dict[str, str]:
        return auth(scopes=scopes, subject=subject, roles=("citizen",), client_id="portal")

    return headers


@pytest.fixture
def stripe_settings(settings_for, stripe_standin) -> Callable[..., PaymentSettings]:
    """Settings with Stripe enabled, against the stand-in."""

    def build(**overrides: Any) -> PaymentSettings:
        values: dict[str, Any] = {
            "payment_stripe_secret_key": "sk_test_" + "k" * 24,
            "payment_stripe_webhook_secret": WEBHOOK_SECRET,
            "payment_stripe_api_base": stripe_standin.url,
            "payment_stripe_timeout_seconds": 5.0,
        }
        values.update(overrides)
        return settings_for(**values)

    return build
