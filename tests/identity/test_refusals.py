"""Bad input and attacks: each refused with the OAuth error the specifications name, never a
500 and never a token."""

from __future__ import annotations

import json
from datetime import timedelta

import structlog
from sqlalchemy import update

from socle.db import utcnow
from socle_identity.models import AuthorizationCode
from socle_identity.passwords import digest
from tests.support.identity import (
    REDIRECT,
    assert_oauth_error,
    authorize_url,
    hidden,
    log_in,
    pkce_pair,
    query,
    redeem_code,
)


async def app_with_user(commune, **spec):
    client_id, secret = await commune.add_client(
        name="App",
        redirect_uris=[REDIRECT],
        scopes=["openid", "email", "payments:read"],
        grant_types=["authorization_code", "refresh_token"],
        **spec,
    )
    email = f"u{client_id[-6:]}@example.ch"
    await commune.add_user(email)
    return client_id, secret, email


async def get_code(identity, client_id: str, email: str, challenge: str | None) -> str:
    async with identity.http() as browser:
        done = await log_in(browser, authorize_url(client_id, challenge), email)
        assert done.status_code == 303, done.text
        return query(done.headers["location"])["code"]


async def test_client_authentication_failures(identity, commune):
    cc = {"grant_type": "client_credentials"}
    unknown = await identity.client.post("/token", data=cc, auth=("nobody", "secret"))
    assert_oauth_error(unknown, "invalid_client", 401)
    assert unknown.headers["www-authenticate"].startswith("Basic")
    bad_secret = await identity.client.post("/token", data=cc, auth=(commune.admin_id, "wrong"))
    assert_oauth_error(bad_secret, "invalid_client", 401)
    no_secret = await identity.client.post("/token", data={**cc, "client_id": commune.admin_id})
    assert_oauth_error(no_secret, "invalid_client")
    # The admin client is registered for client_secret_basic: the body method is refused.
    wrong_method = await identity.client.post(
        "/token",
        data={**cc, "client_id": commune.admin_id, "client_secret": commune.admin_secret},
    )
    assert_oauth_error(wrong_method, "invalid_client")


async def test_grant_and_scope_refusals(identity, commune):
    auth = (commune.admin_id, commune.admin_secret)
    too_wide = await identity.client.post(
        "/token", data={"grant_type": "client_credentials", "scope": "payments:write"}, auth=auth
    )
    assert_oauth_error(too_wide, "invalid_scope")
    unsupported = await identity.client.post("/token", data={"grant_type": "password"}, auth=auth)
    assert_oauth_error(unsupported, "unsupported_grant_type")
    missing = await identity.client.post("/token", data={}, auth=auth)
    assert_oauth_error(missing, "invalid_request")
    not_allowed = await identity.client.post(
        "/token", data={"grant_type": "authorization_code", "code": "x"}, auth=auth
    )
    assert_oauth_error(not_allowed, "unauthorized_client")


async def test_authorization_request_refusals_never_redirect_to_untrusted_places(identity, commune):
    client_id, _, _ = await app_with_user(commune)
    _, challenge = pkce_pair()
    async with identity.http() as browser:
        unknown = await browser.get(authorize_url("no-such-client", challenge))
        assert unknown.status_code == 400 and "location" not in unknown.headers
        assert "invalid_client" in unknown.text
        for evil in (
            "https://evil.example/callback",
            REDIRECT + "/../evil",
            REDIRECT + "?next=https://evil.example",
            REDIRECT.upper(),
        ):
            page = await browser.get(authorize_url(client_id, challenge, redirect_uri=evil))
            assert page.status_code == 400 and "location" not in page.headers, evil
            assert "redirect_uri" in page.text
        # Once the redirect URI is trusted, errors go back to the app with the state.
        bad_scope = await browser.get(
            authorize_url(client_id, challenge, scope="openid procedures:admin")
        )
        assert bad_scope.status_code == 302
        back = query(bad_scope.headers["location"])
        assert bad_scope.headers["location"].startswith(REDIRECT + "?")
        assert back["error"] == "invalid_scope" and back["state"] == "st4te"
        token_flow = await browser.get(authorize_url(client_id, challenge, response_type="token"))
        assert query(token_flow.headers["location"])["error"] == "unsupported_response_type"
        plain = await browser.get(
            authorize_url(client_id, challenge, code_challenge_method="plain")
        )
        assert query(plain.headers["location"])["error"] == "invalid_request"


async def test_public_clients_must_use_pkce(identity, commune):
    client_id, _, _ = await app_with_user(commune, public=True)
    async with identity.http() as browser:
        response = await browser.get(authorize_url(client_id))
    assert response.status_code == 302
    back = query(response.headers["location"])
    assert back["error"] == "invalid_request" and "code_challenge" in back["error_description"]


async def test_code_exchange_refusals(identity, commune):
    client_id, secret, email = await app_with_user(commune)
    auth = (client_id, secret)
    verifier, challenge = pkce_pair()

    def exchange(code: str, **extra: str) -> dict[str, str]:
        return {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        } | extra

    # Missing verifier, wrong verifier, wrong redirect URI: each burns the code.
    code = await get_code(identity, client_id, email, challenge)
    data = exchange(code)
    del data["code_verifier"]
    assert_oauth_error(await identity.client.post("/token", data=data, auth=auth), "invalid_grant")
    code = await get_code(identity, client_id, email, challenge)
    wrong = exchange(code, code_verifier="w" * 50)
    assert_oauth_error(await identity.client.post("/token", data=wrong, auth=auth), "invalid_grant")
    code = await get_code(identity, client_id, email, challenge)
    elsewhere = exchange(code, redirect_uri="https://app.example.ch/other")
    response = await identity.client.post("/token", data=elsewhere, auth=auth)
    assert_oauth_error(response, "invalid_grant")
    retry = await identity.client.post("/token", data=exchange(code), auth=auth)
    assert_oauth_error(retry, "invalid_grant")

    # Another client cannot redeem this client's code.
    other_id, other_secret, _ = await app_with_user(commune)
    code = await get_code(identity, client_id, email, challenge)
    stolen = await identity.client.post(
        "/token", data=exchange(code), auth=(other_id, other_secret)
    )
    assert_oauth_error(stolen, "invalid_grant")

    # Expired code.
    code = await get_code(identity, client_id, email, challenge)
    async with identity.sessions() as session, session.begin():
        await session.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.code_hash == digest(code))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = await identity.client.post("/token", data=exchange(code), auth=auth)
    assert_oauth_error(expired, "invalid_grant")
    assert "expired" in expired.json()["error_description"]

    # Replayed code: refused, and the tokens of the first exchange are revoked.
    code = await get_code(identity, client_id, email, challenge)
    first = await identity.client.post("/token", data=exchange(code), auth=auth)
    assert first.status_code == 200
    replay = await identity.client.post("/token", data=exchange(code), auth=auth)
    assert_oauth_error(replay, "invalid_grant")
    refresh = await identity.client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]},
        auth=auth,
    )
    assert_oauth_error(refresh, "invalid_grant")


async def test_reused_refresh_token_revokes_the_family(identity, commune):
    client_id, secret, email = await app_with_user(commune)
    auth = (client_id, secret)
    verifier, challenge = pkce_pair()
    code = await get_code(identity, client_id, email, challenge)
    tokens = await redeem_code(identity.client, code, verifier, auth)
    first = tokens.json()["refresh_token"]

    def refresh(token: str, **extra: str):
        data = {"grant_type": "refresh_token", "refresh_token": token} | extra
        return identity.client.post("/token", data=data, auth=auth)

    wider = await refresh(first, scope="openid payments:read procedures:read")
    assert_oauth_error(wider, "invalid_scope")
    second = (await refresh(first)).json()["refresh_token"]  # legitimate rotation
    # An attacker replays the first token: refused, and the whole family dies...
    assert_oauth_error(await refresh(first), "invalid_grant")
    # ... including the legitimate holder's current token.
    response = await refresh(second)
    assert_oauth_error(response, "invalid_grant")
    assert "Log in again" in response.json()["error_description"]


async def test_login_form_refuses_cross_site_posts(identity, commune):
    client_id, _, email = await app_with_user(commune)
    _, challenge = pkce_pair()
    async with identity.http() as browser:
        page = await browser.get(authorize_url(client_id, challenge))
        form = {
            "request": hidden(page.text, "request"),
            "email": email,
            "password": "correct horse battery",
        }
        # A forged form without the token, or with another token.
        for csrf in ("", "forged-token"):
            forged = await browser.post("/login", data={**form, "csrf_token": csrf})
            assert forged.status_code == 403 and "location" not in forged.headers
    # Another browser (no CSRF cookie) posting a valid-looking form.
    async with identity.http() as attacker:
        forged = await attacker.post(
            "/login", data={**form, "csrf_token": hidden(page.text, "csrf_token")}
        )
        assert forged.status_code == 403 and "location" not in forged.headers


async def test_logout_never_redirects_to_unregistered_addresses(identity, commune):
    client_id, _, _ = await app_with_user(commune)
    async with identity.http() as browser:
        response = await browser.get(
            "/logout",
            params={"client_id": client_id, "post_logout_redirect_uri": "https://evil.example/"},
        )
        assert response.status_code == 400 and "location" not in response.headers
        plain = await browser.get("/logout")
        assert plain.status_code == 200


async def test_wrong_passwords_lock_the_account_with_a_clear_message(identity, commune):
    client_id, _, email = await app_with_user(commune)
    _, challenge = pkce_pair()
    async with identity.http(headers={"Accept-Language": "en"}) as browser:
        url = authorize_url(client_id, challenge)
        for _ in range(2):
            wrong = await log_in(browser, url, email, "not the password")
            assert wrong.status_code == 401
            assert "Wrong e-mail address or password" in wrong.text
        unknown = await log_in(browser, url, "nobody@example.ch", "whatever it is")
        assert unknown.status_code == 401 and "Wrong e-mail address" in unknown.text
        locked = await log_in(browser, url, email, "not the password")
        assert locked.status_code == 429
        assert "this account is locked. Try again in 15 minutes" in locked.text
        # Even the right password is refused while locked.
        still = await log_in(browser, url, email)
        assert still.status_code == 429 and "location" not in still.headers


async def test_security_events_are_logged_without_secrets(identity, commune):
    client_id, secret, email = await app_with_user(commune)
    auth = (client_id, secret)
    verifier, challenge = pkce_pair()
    code = await get_code(identity, client_id, email, challenge)
    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    with structlog.testing.capture_logs() as entries:
        tokens = (await identity.client.post("/token", data=exchange, auth=auth)).json()
        await identity.client.post("/token", data=exchange, auth=auth)  # replayed code
        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        await identity.client.post("/token", data=refresh, auth=auth)
        await identity.client.post("/token", data=refresh, auth=auth)  # reused refresh token
        async with identity.http() as browser:
            for _ in range(3):
                await log_in(
                    browser, authorize_url(client_id, challenge), email, "wrong password 1"
                )
    logged = json.dumps(entries, default=str)
    assert "authorization_code_replayed" in logged
    assert "refresh_token_reused" in logged
    assert "account_locked" in logged
    for secret_value in (
        code,
        secret,
        verifier,
        tokens["refresh_token"],
        tokens["access_token"],
        "wrong password 1",
        email,
    ):
        assert secret_value not in logged


async def test_authorization_endpoint_accepts_form_posts(identity, commune):
    client_id, _, email = await app_with_user(commune)
    _, challenge = pkce_pair()
    async with identity.http() as browser:
        page = await browser.post(
            "/authorize",
            data={
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": REDIRECT,
                "scope": "openid",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        assert page.status_code == 200 and 'name="password"' in page.text
        done = await browser.post(
            "/login",
            data={
                "csrf_token": hidden(page.text, "csrf_token"),
                "request": hidden(page.text, "request"),
                "email": email,
                "password": "correct horse battery",
            },
        )
        assert done.status_code == 303 and "code=" in done.headers["location"]
