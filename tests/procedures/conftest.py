"""The procedures service in-process on real PostgreSQL and NATS, payment and storage beside
it (their APIs reached in-process with the caller's token), the three examples published."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from socle_dev.testing import running
from socle_payment.app import create_app as create_payment_app
from socle_payment.settings import PaymentSettings
from socle_procedures.app import create_app
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


@pytest.fixture(scope="session")
def procedures_database(migrated_database: Callable[[str], str]) -> str:
    return migrated_database("procedures")


@pytest.fixture(scope="session")
def payment_db(migrated_database: Callable[[str], str]) -> str:
    return migrated_database("payment")


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
        """Wait (15 s at most, a safety net) until the request satisfies ``predicate``."""
        body: dict[str, Any] = {}
        for _ in range(300):
            body = (
                await self.api.get(f"/v1/requests/{request_id}", headers=headers or self.auth())
            ).json()
            if predicate(body):
                return body
            await asyncio.sleep(0.05)
        raise AssertionError(f"request never got there: {body}")


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


@pytest.fixture(scope="session")
def storage_db(migrated_database: Callable[[str], str]) -> str:
    return migrated_database("storage")


@pytest.fixture
async def platform(
    procedures_database, payment_db, nats_server, issuer, tenant, storage_db, s3_server
) -> AsyncIterator[Platform]:
    async with platform_for(
        procedures_database, payment_db, nats_server, issuer, tenant, storage_db, s3_server
    ) as p:
        yield p


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://socle.swiss/problems/{code}", body
    return body
