"""The identity service running in-process on real PostgreSQL and NATS, and small factories
that create what a test needs through the same use cases the admin API and CLI run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from socle_dev.testing import running
from socle_identity import directory
from socle_identity.app import create_app
from tests.support.identity import (
    ISSUER,
    PASSWORD,
    add_client,
    back_office,
    quick_settings,
    tenant_with_client,
)


@dataclass
class Identity:
    app: Any
    client: httpx.AsyncClient

    @property
    def sessions(self) -> Any:
        return self.app.state.runtime.sessions

    @property
    def provider(self) -> Any:
        return self.app.state.runtime.context.provider

    def http(self, **kwargs: Any) -> httpx.AsyncClient:
        """Another in-process HTTP client (its own cookie jar: a browser, a commune app)."""
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        return httpx.AsyncClient(transport=transport, base_url=ISSUER, **kwargs)


@pytest.fixture(scope="module")
async def identity(migrated_database, nats_server) -> AsyncIterator[Identity]:
    settings = quick_settings(
        migrated_database("identity"),
        nats_server.url,
        ISSUER,
        outbox_poll_seconds=0.2,
        login_max_failures=3,
    )
    app = create_app(settings)
    async with running(app) as client:
        yield Identity(app, client)


@dataclass
class Commune:
    """A tenant with an admin client (client credentials, identity:admin)."""

    tenant: str
    admin_id: str
    admin_secret: str
    identity: Identity

    async def admin_token(self) -> str:
        response = await self.identity.client.post(
            "/token",
            data={"grant_type": "client_credentials", "scope": "identity:admin"},
            auth=(self.admin_id, self.admin_secret),
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def add_client(self, **spec: Any) -> tuple[str, str | None]:
        client, secret = await add_client(
            self.identity.sessions, self.tenant, directory.ClientSpec(**spec)
        )
        return client.client_id, secret

    async def add_user(self, email: str, roles: list[str] | None = None) -> str:
        async with self.identity.sessions() as session, session.begin():
            user = await directory.create_user(
                session,
                self.identity.provider.passwords,
                tenant=self.tenant,
                email=email,
                password=PASSWORD,
                roles=roles or ["citizen"],
                given_name="Anna",
                family_name="Muster",
                email_verified=True,
            )
            return str(user.id)


@pytest.fixture
async def commune(identity: Identity, tenant: str) -> Commune:
    client, secret = await tenant_with_client(
        identity.sessions,
        tenant,
        back_office(["identity:admin", "payments:read", "documents:write"]),
    )
    assert secret is not None
    return Commune(tenant, client.client_id, secret, identity)
