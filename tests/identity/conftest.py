"""The identity service running in-process on real PostgreSQL and NATS, and small factories
that create what a test needs through the same use cases the admin API and CLI run."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import nats
import pytest

from socle.testing import running
from socle_identity import directory
from socle_identity.app import create_app
from socle_identity.settings import IdentitySettings

ISSUER = "http://testserver"
PASSWORD = "correct horse battery"


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
    settings = IdentitySettings(
        database_url=migrated_database("identity"),
        nats_url=nats_server.url,
        issuer=ISSUER,
        outbox_poll_seconds=0.2,
        argon2_time_cost=1,
        argon2_memory_kib=8192,
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
        async with self.identity.sessions() as session, session.begin():
            client, secret = await directory.register_client(
                session, tenant=self.tenant, spec=directory.ClientSpec(**spec)
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
    async with identity.sessions() as session, session.begin():
        await directory.create_tenant(session, slug=tenant, name=f"Commune {tenant}")
        client, secret = await directory.register_client(
            session,
            tenant=tenant,
            spec=directory.ClientSpec(
                name="Back office",
                grant_types=["client_credentials"],
                scopes=["identity:admin", "payments:read", "documents:write"],
                roles=["admin"],
            ),
        )
    assert secret is not None
    return Commune(tenant, client.client_id, secret, identity)


REDIRECT = "https://app.example.ch/callback"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name} in page"
    return match.group(1).replace("&#34;", '"').replace("&amp;", "&").replace("&#39;", "'")


async def log_in(
    browser: httpx.AsyncClient, authorize_url: str, email: str, password: str = PASSWORD
) -> httpx.Response:
    """Drive the login form as a browser: open it, fill it, submit it."""
    page = await browser.get(authorize_url)
    assert page.status_code == 200, page.text
    return await browser.post(
        "/login",
        data={
            "csrf_token": hidden(page.text, "csrf_token"),
            "request": hidden(page.text, "request"),
            "email": email,
            "password": password,
        },
    )


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class Events:
    """Events on the bus for one tenant, as another service would see them."""

    def __init__(self, url: str, subject: str) -> None:
        self.url = url
        self.subject = subject
        self.received: list[dict[str, Any]] = []
        self._nc: Any = None

    async def __aenter__(self) -> Events:
        self._nc = await nats.connect(self.url)

        async def on_message(msg: Any) -> None:
            self.received.append(json.loads(msg.data))

        await self._nc.subscribe(self.subject, cb=on_message)
        await self._nc.flush()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._nc.drain()

    async def wait_for(self, event_type: str, timeout: float = 10.0, **data: Any) -> dict[str, Any]:
        """The first event of ``event_type`` whose data has the given items."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            for event in self.received:
                if event["type"] == event_type and all(
                    event["data"].get(k) == v for k, v in data.items()
                ):
                    return event
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {event_type} event; got {[e['type'] for e in self.received]}")


async def account_token(browser: httpx.AsyncClient) -> str:
    """What identity's own account pages do: exchange the browser's (recent) login session
    for a short token with scope ``identity:account``."""
    response = await browser.post(
        "/account/token", headers={"X-CSRF-Token": browser.cookies.get("socle_csrf", "")}
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "openid identity:account"
    return str(response.json()["access_token"])
