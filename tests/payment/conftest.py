"""Fixtures of the payment tests: the app on real PostgreSQL and NATS, tokens, the bus."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import nats
import pytest

from socle import account_mails
from socle.bus import Bus
from socle.events import CloudEvent
from socle.testing import running
from socle_payment.app import create_app
from socle_payment.settings import PaymentSettings
from tests.payment.stripe_standin import StripeStandIn

SCOPES = ["payments:read", "payments:write"]


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
def settings_for(payment_database, nats_server, issuer) -> Callable[..., PaymentSettings]:
    def build(**overrides: Any) -> PaymentSettings:
        values: dict[str, Any] = {
            "database_url": payment_database,
            "nats_url": nats_server.url,
            "issuer": issuer.issuer,
            "jwks_url": issuer.jwks_url,
            "outbox_poll_seconds": 0.2,
            "payment_expiry_sweep_seconds": 0,
            "payment_public_url": "http://testserver",
        }
        values.update(overrides)
        return PaymentSettings(**values)

    return build


BACK_OFFICE = "commune-back-office"


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


@asynccontextmanager
async def service(settings: PaymentSettings) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = create_app(settings)
    async with running(app) as client:
        yield client, app


class EventTap:
    """Every event published on ``socle.<tenant>.>`` while the tap is open."""

    def __init__(self, url: str, tenant: str) -> None:
        self.url = url
        self.tenant = tenant
        self.events: list[dict[str, Any]] = []
        self.subjects: list[str] = []
        self._nc: Any = None

    async def __aenter__(self) -> EventTap:
        self._nc = await nats.connect(self.url)

        async def on_message(msg: Any) -> None:
            self.subjects.append(msg.subject)
            self.events.append(json.loads(msg.data))

        await self._nc.subscribe(f"socle.{self.tenant}.>", cb=on_message)
        await self._nc.flush()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._nc.drain()

    async def secret_mail(self, event: dict[str, Any]) -> dict[str, str]:
        """What notify gets for a mail with a secret link (address and link), as it asks."""
        bus = Bus(url=self.url, name="test-notify")
        await bus.connect()
        try:
            return await account_mails.ask(bus, CloudEvent.model_validate(event))
        finally:
            await bus.close()

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == event_type]

    async def wait_for(self, event_type: str, count: int = 1) -> list[dict[str, Any]]:
        """Wait (up to 15 s, a safety net, not a measure) for ``count`` events of a type."""
        for _ in range(300):
            found = self.of_type(event_type)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {count} {event_type} event(s); saw {self.types()}")

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://socle.swiss/problems/{code}", body
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["instance"]
    return body


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def payment_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": 15000,
        "currency": "CHF",
        "reference": "PERMIT-2026-001",
        "description": "Permis de construire",
        "return_url": "https://commune.example.ch/procedures/42/paid",
        "provider": "sandbox",
        "procedure_ref": "proc-42",
        "metadata": {"file": "42"},
    }
    body.update(overrides)
    return body
