"""Helpers of the procedures tests: the platform in-process, examples, requests and agents."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from socle_dev.testing import eventually, running
from socle_payment.app import create_app as create_payment_app
from socle_payment.settings import PaymentSettings
from socle_procedures.app import create_app
from socle_procedures.portal import sessions
from socle_procedures.settings import ProceduresSettings
from socle_storage.app import create_app as create_storage_app
from socle_storage.settings import StorageSettings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "services" / "procedures" / "examples"
CITIZEN_SCOPES = ["procedures:read", "procedures:write", "payments:read", "payments:write"]
AUDIENCES = ["socle-procedures", "socle-payment", "socle-storage"]
#: What the back-office's agents hold (an approval stores its decision in storage).
STAFF_SCOPES = ["procedures:read", "procedures:write", "documents:read", "documents:write"]


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    return loaded


@dataclass
class Platform:
    api: httpx.AsyncClient
    payment: httpx.AsyncClient
    app: Any
    issuer: Any
    tenant: str

    def token(
        self, subject: str = "citizen-1", *, roles=("citizen",), scopes=None, tenant=None, **claims
    ) -> str:
        return self.issuer.token(
            audience=AUDIENCES,
            tenant=tenant or self.tenant,
            subject=subject,
            roles=roles,
            scopes=CITIZEN_SCOPES if scopes is None else scopes,
            **claims,
        )

    def auth(self, subject: str = "citizen-1", **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(subject, **kwargs)}"}

    def admin(self, tenant: str | None = None) -> dict[str, str]:
        token = self.issuer.token(
            audience=AUDIENCES,
            tenant=tenant or self.tenant,
            subject="back-office",
            client_id="back-office",
            roles=("admin",),
            scopes=["procedures:admin", "procedures:read", "procedures:write"],
        )
        return {"Authorization": f"Bearer {token}"}

    def staff(self) -> dict[str, str]:
        return self.auth("agent-7", roles=("agent",), scopes=STAFF_SCOPES)

    async def publish(self, name: str, tenant: str | None = None) -> dict[str, Any]:
        created = await self.api.post(
            "/v1/procedures", json=example(name), headers=self.admin(tenant)
        )
        assert created.status_code == 201, created.text
        body = created.json()
        published = await self.api.post(
            f"/v1/procedures/{body['slug']}/versions/{body['version']}/publish",
            headers=self.admin(tenant),
        )
        assert published.status_code == 200, published.text
        return dict(published.json())

    async def pay_on_sandbox(
        self, next_url: str, card: str = "4242 4242 4242 4242"
    ) -> httpx.Response:
        path = httpx.URL(next_url).path
        page = await self.payment.get(path)
        assert page.status_code == 200, page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        return await self.payment.post(path, data={"csrf_token": token[1], "card_number": card})

    async def wait_for(
        self, request_id: str, predicate: Callable[[dict[str, Any]], bool], headers=None
    ) -> dict[str, Any]:
        """The request once it satisfies ``predicate`` (15 s at most, a safety net)."""

        async def there() -> dict[str, Any] | None:
            url = f"/v1/requests/{request_id}"
            body: dict[str, Any] = (await self.api.get(url, headers=headers or self.auth())).json()
            return body if predicate(body) else None

        found: dict[str, Any] = await eventually(there, f"request {request_id} to get there")
        return found


@asynccontextmanager
async def platform_for(
    procedures_database: str,
    payment_db: str,
    nats_server: Any,
    issuer: Any,
    tenant: str,
    storage_db: str,
    s3_server: Any,
    **overrides: Any,
) -> AsyncIterator[Platform]:
    payment_app = create_payment_app(
        PaymentSettings(
            database_url=payment_db,
            nats_url=nats_server.url,
            issuer=issuer.issuer,
            jwks_url=issuer.jwks_url,
            outbox_poll_seconds=0.2,
            payment_expiry_sweep_seconds=0,
            payment_public_url="http://payment.test",
        )
    )
    storage_app = create_storage_app(
        StorageSettings(
            database_url=storage_db,
            nats_url=nats_server.url,
            issuer=issuer.issuer,
            jwks_url=issuer.jwks_url,
            s3_endpoint=s3_server.endpoint,
            s3_access_key=s3_server.access_key,
            s3_secret_key=s3_server.secret_key,
            purge_interval_seconds=0,
            outbox_poll_seconds=0.2,
        )
    )
    settings = ProceduresSettings(
        database_url=procedures_database,
        nats_url=nats_server.url,
        issuer=issuer.issuer,
        jwks_url=issuer.jwks_url,
        outbox_poll_seconds=0.2,
        payment_url="http://payment.test",
        storage_url="http://storage.test",
        public_url="http://testserver",
        portal_tenant=tenant,
        **overrides,
    )
    async with running(payment_app) as payment, running(storage_app):
        transport = httpx.ASGITransport(app=payment_app)
        app = create_app(
            settings,
            payment_transport=transport,
            storage_transport=httpx.ASGITransport(app=storage_app),
        )
        async with running(app) as api:
            payment.base_url = httpx.URL("http://payment.test")
            yield Platform(api=api, payment=payment, app=app, issuer=issuer, tenant=tenant)


HOLDER = {
    "name": "Anna",
    "email": "anna@example.ch",
    "address": {"street": "Rue du Lac", "number": "1", "postal_code": "1800", "locality": "Vevey"},
}


VEHICLE = {"plate": "VD 12345", "zone": "A", "months": "1"}


async def submitted_parking(platform: Any, who: str = "citizen-1") -> dict[str, Any]:
    """A parking-card request submitted by ``who`` (its QR-bill issued)."""
    auth = platform.auth(who, email="anna@example.ch")
    created = await platform.api.post(
        "/v1/requests", json={"procedure": "parking-card"}, headers=auth
    )
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    for step, answers in (("holder", HOLDER), ("vehicle", VEHICLE)):
        saved = await platform.api.put(
            f"/v1/requests/{rid}/steps/{step}", json={"answers": answers}, headers=auth
        )
        assert saved.status_code == 200, saved.text
    bill = await platform.api.post(f"/v1/requests/{rid}/payment", headers=auth)
    assert bill.status_code == 200, bill.text
    submitted = await platform.api.post(f"/v1/requests/{rid}/submit", headers=auth)
    assert submitted.status_code == 200, submitted.text
    return dict(submitted.json())


def agent(platform: Any, name: str = "agent-7", tenant: str | None = None) -> dict[str, str]:
    return platform.auth(name, roles=("agent",), scopes=STAFF_SCOPES, tenant=tenant)


async def logged_in(
    platform: Any, subject: str, roles=("agent",), tenant=None, scopes=STAFF_SCOPES
) -> dict[str, str]:
    """A portal session as the login at identity leaves it; the cookie that names it."""
    token = platform.token(subject, roles=roles, scopes=scopes, tenant=tenant)
    async with platform.app.state.runtime.sessions() as db, db.begin():
        session_id = await sessions.open_session(
            db,
            tenant=tenant or platform.tenant,
            subject=subject,
            tokens={"access_token": token, "expires_in": 600},
            claims={"sub": subject},
            ttl=600,
        )
    return {sessions.SESSION_COOKIE: session_id, sessions.LANG_COOKIE: "en"}


DOG = {
    "owner": {
        "name": "Anna Muster",
        "email": "anna@example.ch",
        "address": {
            "street": "Rue du Lac",
            "number": "3",
            "postal_code": "1800",
            "locality": "Vevey",
        },
    },
    "dog": {
        "dog_name": "Rex",
        "breed": "Berner Sennenhund",
        "birth_date": "2024-03-01",
        "microchip": "756098100123456",
        "moved_in": True,
        "previous_commune": "Montreux",
    },
}


async def start(platform, slug="dog-registration", who="citizen-1"):
    created = await platform.api.post(
        "/v1/requests", json={"procedure": slug}, headers=platform.auth(who)
    )
    assert created.status_code == 201, created.text
    return created.json()


async def answer(platform, request_id, step, answers, who="citizen-1"):
    return await platform.api.put(
        f"/v1/requests/{request_id}/steps/{step}",
        json={"answers": answers},
        headers=platform.auth(who),
    )
