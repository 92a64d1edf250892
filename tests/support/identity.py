"""Helpers of the identity tests: PKCE, logging in through the pages, the command line."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from socle_identity import directory
from socle_identity.models import Client
from socle_identity.settings import IdentitySettings

ISSUER = "http://testserver"
PASSWORD = "correct horse battery"
REDIRECT = "https://app.example.ch/callback"


def quick_settings(
    database_url: str, nats_url: str, issuer: str, **extra: object
) -> IdentitySettings:
    """identity's settings for a test: passwords hashed with argon2's cheapest cost."""
    return IdentitySettings(
        database_url=database_url,
        nats_url=nats_url,
        issuer=issuer,
        argon2_time_cost=1,
        argon2_memory_kib=8192,
        **extra,  # type: ignore[arg-type]
    )


def back_office(scopes: list[str], name: str = "Back office") -> directory.ClientSpec:
    """A commune's back office: client credentials, the admin role, these scopes."""
    return directory.ClientSpec(
        name=name, grant_types=["client_credentials"], scopes=scopes, roles=["admin"]
    )


def verified_citizen(email: str, password: str = PASSWORD) -> dict[str, Any]:
    """``create_user``'s keywords for Anna Muster, a citizen whose address is confirmed."""
    return {
        "email": email,
        "password": password,
        "roles": ["citizen"],
        "given_name": "Anna",
        "family_name": "Muster",
        "email_verified": True,
    }


async def add_client(
    sessions: Callable[[], Any], tenant: str, spec: directory.ClientSpec
) -> tuple[Client, str | None]:
    """Register a client for an existing tenant, in a transaction of its own; it and its
    secret (none for a public client)."""
    async with sessions() as session, session.begin():
        return await directory.register_client(session, tenant=tenant, spec=spec)


async def tenant_with_client(
    sessions: Callable[[], Any],
    tenant: str,
    spec: directory.ClientSpec,
    *,
    name: str = "",
    client_id: str | None = None,
    passwords: Any = None,
    users: Sequence[Mapping[str, Any]] = (),
) -> tuple[Client, str | None]:
    """A new tenant (named ``Commune <tenant>`` unless ``name``) with one client registered
    and these users (``create_user``'s keywords; ``passwords`` hashes theirs), in one
    transaction. Returns the client and its secret."""
    async with sessions() as session, session.begin():
        await directory.create_tenant(session, slug=tenant, name=name or f"Commune {tenant}")
        client, secret = await directory.register_client(
            session, tenant=tenant, spec=spec, client_id=client_id
        )
        for user in users:
            await directory.create_user(session, passwords, tenant=tenant, **user)
    return client, secret


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


async def register(
    browser: httpx.AsyncClient,
    client_id: str,
    email: str,
    password: str,
    given_name: str,
    family_name: str,
) -> httpx.Response:
    """Register on identity's page, as a browser: open the form, fill it, submit it."""
    page = await browser.get("/register", params={"client_id": client_id})
    assert page.status_code == 200, page.text
    return await browser.post(
        "/register",
        data={
            "csrf_token": hidden(page.text, "csrf_token"),
            "client_id": client_id,
            "email": email,
            "password": password,
            "given_name": given_name,
            "family_name": family_name,
        },
    )


async def ask_password_reset(
    browser: httpx.AsyncClient, client_id: str, email: str
) -> httpx.Response:
    """Ask for a reset link on identity's page, as a browser: open the form, submit it."""
    page = await browser.get("/password-reset", params={"client_id": client_id})
    return await browser.post(
        "/password-reset",
        data={
            "csrf_token": hidden(page.text, "csrf_token"),
            "client_id": client_id,
            "email": email,
        },
    )


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def account_token(browser: httpx.AsyncClient) -> str:
    """What identity's own account pages do: exchange the browser's (recent) login session
    for a short token with scope ``identity:account``."""
    response = await browser.post(
        "/account/token", headers={"X-CSRF-Token": browser.cookies.get("socle_csrf", "")}
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "openid identity:account"
    return str(response.json()["access_token"])


def authorize_url(client_id: str, challenge: str | None = None, **extra: str) -> str:
    from urllib.parse import urlencode

    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid",
        "state": "st4te",
    }
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return f"/authorize?{urlencode(params)}"


def assert_oauth_error(response, error: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error, body
    assert "access_token" not in body
    assert response.headers["cache-control"] == "no-store"


def cli(database_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "SOCLE_DATABASE_URL": database_url,
        "SOCLE_ISSUER": "http://testserver",
        "SOCLE_ARGON2_TIME_COST": "1",
        "SOCLE_ARGON2_MEMORY_KIB": "8192",
    }
    return subprocess.run(
        [sys.executable, "-m", "socle_identity", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def code_flow_client(commune) -> tuple[str, str]:
    client_id, secret = await commune.add_client(
        name="Portail",
        redirect_uris=[REDIRECT],
        scopes=["openid", "email", "profile"],
        grant_types=["authorization_code"],
    )
    assert secret is not None
    return client_id, secret


async def redeem_code(
    http: httpx.AsyncClient, code: str, verifier: str, auth: tuple[str, str]
) -> httpx.Response:
    """The client's back channel: the authorisation code (and PKCE verifier) for tokens."""
    return await http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        auth=auth,
    )


async def tokens_after_login(identity, browser, client_id, secret, email, **extra):
    verifier, challenge = pkce_pair()
    done = await log_in(browser, authorize_url(client_id, challenge, **extra), email)
    assert done.status_code == 303, done.text
    response = await redeem_code(
        identity.client, query(done.headers["location"])["code"], verifier, (client_id, secret)
    )
    assert response.status_code == 200, response.text
    return response.json()
