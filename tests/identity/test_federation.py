"""Federation against a real, independent OpenID provider (npm oidc-provider, installed by
the test run into a temporary folder) running locally."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urljoin

import httpx
import jwt
import pytest

from socle_dev.localinfra import free_port
from tests.support.identity import (
    ISSUER,
    REDIRECT,
    authorize_url,
    hidden,
    log_in,
    pkce_pair,
    query,
    redeem_code,
)

HERE = Path(__file__).resolve().parent
UPSTREAM_SECRET = "upstream-client-secret-for-tests"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    folder = tmp_path_factory.mktemp("oidc-provider")
    npm = shutil.which("npm")
    assert npm, "npm is needed to install the upstream provider"
    subprocess.run(
        [npm, "install", "--prefix", str(folder), "oidc-provider@9", "--no-audit", "--no-fund"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    shutil.copy(HERE / "upstream.mjs", folder / "upstream.mjs")
    port = free_port()
    process = subprocess.Popen(
        ["node", "upstream.mjs"],
        cwd=folder,
        env={
            "PATH": "/usr/bin:/bin:/usr/local/bin",
            "PORT": str(port),
            "REDIRECT": f"{ISSUER}/federation/callback",
            "CLIENT_SECRET": UPSTREAM_SECRET,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.stdout.readline().strip() != "ready":
        pass
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def browser_for(identity, upstream: str) -> httpx.AsyncClient:
    """One cookie jar across the provider (in-process) and the upstream (real HTTP)."""
    return httpx.AsyncClient(
        mounts={
            ISSUER: httpx.ASGITransport(app=identity.app),
            upstream: httpx.AsyncHTTPTransport(),
        },
        base_url=ISSUER,
    )


async def walk(browser: httpx.AsyncClient, response: httpx.Response) -> httpx.Response:
    """Follow redirects like a browser, stopping at the commune app's callback."""
    while response.is_redirect:
        target = urljoin(str(response.url), response.headers["location"])
        if target.startswith(REDIRECT):
            return response
        response = await browser.get(target)
    return response


async def submit_upstream_form(browser, page: httpx.Response, login: str) -> httpx.Response:
    action = re.search(r'<form[^>]*action="([^"]+)"', page.text)
    assert action, page.text[-600:]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    if 'name="login"' in page.text:
        fields.update(login=login, password="any")
    return await browser.post(urljoin(str(page.url), action.group(1)), data=fields)


async def federated_login(identity, upstream, client_id, login: str) -> httpx.Response:
    verifier, challenge = pkce_pair()
    async with browser_for(identity, upstream) as browser:
        page = await browser.get(authorize_url(client_id, challenge, scope="openid email"))
        link = re.search(r'id="federation" href="([^"]+)"', page.text)
        assert link, "the login page offers the upstream provider"
        assert "AGOV test" in page.text
        response = await walk(browser, await browser.get(link.group(1).replace("&amp;", "&")))
        while not response.is_redirect:  # the upstream's login, then consent, pages
            response = await walk(browser, await submit_upstream_form(browser, response, login))
        return response, verifier


async def test_citizens_log_in_through_the_upstream_provider(identity, commune, upstream):
    token = await commune.admin_token()
    configured = await identity.client.put(
        "/v1/federation",
        json={
            "name": "AGOV test",
            "issuer": upstream,
            "client_id": "socle",
            "client_secret": UPSTREAM_SECRET,
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert configured.status_code == 200, configured.text
    assert configured.json()["redirect_uri"] == f"{ISSUER}/federation/callback"
    assert "client_secret" not in configured.json()
    client_id, secret = await commune.add_client(
        name="Guichet", redirect_uris=[REDIRECT], scopes=["openid", "email"]
    )

    async def tokens_for(login: str) -> dict:
        done, verifier = await federated_login(identity, upstream, client_id, login)
        location = done.headers["location"]
        assert location.startswith(REDIRECT), location
        response = await redeem_code(
            identity.client, query(location)["code"], verifier, (client_id, secret)
        )
        assert response.status_code == 200, response.text
        return jwt.decode(response.json()["id_token"], options={"verify_signature": False})

    first = await tokens_for("uma")
    assert first["email"] == "uma@upstream.example" and first["amr"] == ["fed"]
    # The same upstream identity comes back to the same local account.
    again = await tokens_for("uma")
    assert again["sub"] == first["sub"]
    other = await tokens_for("otto")
    assert other["sub"] != first["sub"]


async def test_an_existing_account_is_linked_by_verified_email(identity, commune, upstream):
    token = await commune.admin_token()
    await identity.client.put(
        "/v1/federation",
        json={
            "name": "AGOV test",
            "issuer": upstream,
            "client_id": "socle",
            "client_secret": UPSTREAM_SECRET,
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    user_id = await commune.add_user("vera@upstream.example")
    client_id, _ = await commune.add_client(
        name="Guichet", redirect_uris=[REDIRECT], scopes=["openid", "email"]
    )
    done, _ = await federated_login(identity, upstream, client_id, "vera")
    assert done.headers["location"].startswith(REDIRECT)
    # The local password still works, and both lead to one account.
    async with identity.http() as browser:
        _, challenge = pkce_pair()
        local = await log_in(browser, authorize_url(client_id, challenge), "vera@upstream.example")
        assert local.status_code == 303
    me = await identity.client.get(
        f"/v1/users/{user_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert me.json()["email"] == "vera@upstream.example"


async def test_forged_callbacks_are_refused(identity, commune, upstream):
    async with browser_for(identity, upstream) as browser:
        forged = await browser.get("/federation/callback", params={"code": "x", "state": "y"})
        assert forged.status_code == 400 and "location" not in forged.headers
    # A tenant without an upstream provider shows no link and refuses the start.
    client_id, _ = await commune.add_client(
        name="Guichet", redirect_uris=[REDIRECT], scopes=["openid"]
    )
    async with identity.http() as browser:
        _, challenge = pkce_pair()
        page = await browser.get(authorize_url(client_id, challenge))
        assert 'id="federation"' not in page.text
        start = await browser.get(
            "/federation/start", params={"request": hidden(page.text, "request")}
        )
        assert start.status_code == 400
