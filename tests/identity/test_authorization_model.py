"""Which scopes a person gets, played as the attacker: the roles decide, not what the client
was registered with; no scope asked means a small default; account changes need identity's
own token and a recent login."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import jwt
from sqlalchemy import update

from socle.db import utcnow
from socle_dev.testing import running
from socle_identity.app import create_app
from socle_identity.models import LoginSession, User
from socle_identity.settings import IdentitySettings
from tests.support.identity import ISSUER, REDIRECT, account_token, log_in, pkce_pair, query

GREEDY = (
    "openid email notifications:read notifications:send notifications:admin "
    "procedures:admin identity:admin payments:read payments:write documents:read"
)
PERSONAL = "openid email notifications:read payments:read payments:write documents:read"


def authorize_url(client_id: str, challenge: str, scope: str | None, **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "state": "st4te",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    if scope is not None:
        params["scope"] = scope
    return f"/authorize?{urlencode(params)}"


async def public_app(commune, scopes: list[str]) -> str:
    """A public client (PKCE, no secret) the commune registered with generous scopes."""
    client_id, secret = await commune.add_client(
        name="Guichet mobile",
        public=True,
        redirect_uris=[REDIRECT],
        scopes=scopes,
        grant_types=["authorization_code", "refresh_token"],
    )
    assert secret is None
    return client_id


async def tokens_for(identity, client_id: str, email: str, scope: str | None, browser=None) -> dict:
    verifier, challenge = pkce_pair()

    async def go(b) -> dict:
        done = await log_in(b, authorize_url(client_id, challenge, scope), email)
        assert done.status_code == 303, done.text
        back = query(done.headers["location"])
        assert "code" in back, back
        response = await identity.client.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": back["code"],
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
                "client_id": client_id,
            },
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    if browser is not None:
        return await go(browser)
    async with identity.http() as b:
        return await go(b)


def scopes_of(access_token: str) -> set[str]:
    return set(jwt.decode(access_token, options={"verify_signature": False})["scope"].split())


async def test_citizen_through_a_generous_public_client_gets_only_personal_scopes(
    identity, commune
):
    client_id = await public_app(commune, GREEDY.split())
    await commune.add_user("citizen@example.ch", roles=["citizen"])
    tokens = await tokens_for(identity, client_id, "citizen@example.ch", GREEDY)
    assert set(tokens["scope"].split()) == set(PERSONAL.split())
    assert scopes_of(tokens["access_token"]) == set(PERSONAL.split())
    # The commune's mails stay out of reach: no notifications:send, no admin scope.
    assert "notifications:send" not in tokens["scope"]
    assert not [s for s in tokens["scope"].split() if s.endswith(":admin")]
    # The refresh gives no more.
    refreshed = await identity.client.post(
        "/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": client_id,
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    assert set(refreshed.json()["scope"].split()) == set(PERSONAL.split())


async def test_each_role_gets_what_the_policy_says(identity, commune):
    client_id = await public_app(commune, GREEDY.split())
    expected = {
        "mediator": set(PERSONAL.split()),
        "agent": set(PERSONAL.split()) | {"notifications:send"},
        "admin": set(GREEDY.split()),
    }
    for role, scopes in expected.items():
        email = f"{role}@example.ch"
        await commune.add_user(email, roles=[role])
        tokens = await tokens_for(identity, client_id, email, GREEDY)
        assert set(tokens["scope"].split()) == scopes, role
        claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
        assert claims["roles"] == [role]


async def test_a_refresh_follows_the_roles_the_person_has_now(identity, commune):
    client_id = await public_app(commune, GREEDY.split())
    user_id = await commune.add_user("clerk@example.ch", roles=["agent"])
    tokens = await tokens_for(identity, client_id, "clerk@example.ch", GREEDY)
    assert "notifications:send" in tokens["scope"].split()
    # The clerk leaves the administration and keeps a citizen account.
    async with identity.sessions() as session, session.begin():
        await session.execute(update(User).where(User.id == user_id).values(roles=["citizen"]))
    refreshed = await identity.client.post(
        "/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": client_id,
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    assert set(refreshed.json()["scope"].split()) == set(PERSONAL.split())
    # And the narrower family stays narrow.
    again = await identity.client.post(
        "/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refreshed.json()["refresh_token"],
            "client_id": client_id,
            "scope": "openid notifications:send",
        },
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_scope"


async def test_requests_without_scope_get_the_documented_default(identity, commune):
    client_id = await public_app(commune, GREEDY.split())
    await commune.add_user("anna@example.ch", roles=["admin"])
    tokens = await tokens_for(identity, client_id, "anna@example.ch", None)
    assert tokens["scope"] == "openid"
    assert scopes_of(tokens["access_token"]) == {"openid"}
    assert "id_token" in tokens

    # Client credentials: the client's service scopes, never the administrative ones.
    service_id, secret = await commune.add_client(
        name="ERP",
        grant_types=["client_credentials"],
        scopes=["payments:read", "notifications:send", "identity:admin", "procedures:admin"],
    )
    default = await identity.client.post(
        "/token", data={"grant_type": "client_credentials"}, auth=(service_id, secret)
    )
    assert default.status_code == 200, default.text
    assert set(default.json()["scope"].split()) == {"payments:read", "notifications:send"}
    named = await identity.client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "identity:admin"},
        auth=(service_id, secret),
    )
    assert named.json()["scope"] == "identity:admin"

    admin_only, admin_secret = await commune.add_client(
        name="Console", grant_types=["client_credentials"], scopes=["identity:admin"]
    )
    refused = await identity.client.post(
        "/token", data={"grant_type": "client_credentials"}, auth=(admin_only, admin_secret)
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_scope"
    assert "access_token" not in refused.json()


async def test_no_client_can_obtain_the_account_scope(identity, commune):
    admin = {"Authorization": f"Bearer {await commune.admin_token()}"}
    registered = await identity.client.post(
        "/v1/clients",
        json={
            "name": "Sneaky",
            "redirect_uris": [REDIRECT],
            "scopes": ["openid", "identity:account"],
        },
        headers=admin,
    )
    assert registered.status_code == 422
    client_id = await public_app(commune, ["openid"])
    await commune.add_user("bea@example.ch")
    _, challenge = pkce_pair()
    async with identity.http() as browser:
        asked = await browser.get(authorize_url(client_id, challenge, "openid identity:account"))
    assert asked.status_code == 302
    assert query(asked.headers["location"])["error"] == "invalid_scope"
    service = await identity.client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "identity:account"},
        auth=(commune.admin_id, commune.admin_secret),
    )
    assert service.status_code == 400 and service.json()["error"] == "invalid_scope"


async def test_an_ordinary_relying_party_cannot_delete_the_account_or_take_its_second_factor(
    identity, commune
):
    client_id = await public_app(commune, ["openid", "email", "profile"])
    user_id = await commune.add_user("carl@example.ch")
    tokens = await tokens_for(identity, client_id, "carl@example.ch", "openid email profile")
    rp = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await identity.client.get("/v1/me", headers=rp)).json()["id"] == user_id
    for method, path in (
        ("DELETE", "/v1/me"),
        ("POST", "/v1/me/totp"),
        ("POST", "/v1/me/totp/confirm"),
        ("DELETE", "/v1/me/totp"),
    ):
        response = await identity.client.request(
            method, path, headers=rp, json={"code": "123456"} if "confirm" in path else None
        )
        assert response.status_code == 403, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert "identity:account" in response.headers["www-authenticate"]
    me = await identity.client.get("/v1/me", headers=rp)
    assert me.status_code == 200 and me.json()["second_factor"] is False


async def test_account_token_needs_identity_session_csrf_and_a_recent_login(identity, commune):
    client_id = await public_app(commune, ["openid"])
    await commune.add_user("dina@example.ch")
    async with identity.http() as stranger:
        nobody = await stranger.post("/account/token", headers={"X-CSRF-Token": "x"})
        assert nobody.status_code == 401
        assert nobody.json()["type"].endswith("login-required")
    async with identity.http() as browser:
        await tokens_for(identity, client_id, "dina@example.ch", "openid", browser=browser)
        # A page of another site cannot read identity's CSRF cookie to send it back.
        forged = await browser.post("/account/token")
        assert forged.status_code == 403
        assert forged.headers["content-type"] == "application/problem+json"
        token = await account_token(browser)
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["client_id"] == "socle-identity" and claims["aud"] == "socle-identity"
        assert claims["sid"] and claims["auth_time"] <= claims["iat"]

        # Ten minutes later the login is too old for account changes.
        async with identity.sessions() as session, session.begin():
            await session.execute(
                update(LoginSession)
                .where(LoginSession.user_id == claims["sub"])
                .values(auth_time=utcnow() - timedelta(minutes=10))
            )
        stale = await browser.post(
            "/account/token", headers={"X-CSRF-Token": browser.cookies["socle_csrf"]}
        )
        assert stale.status_code == 401
        assert stale.json()["type"].endswith("reauthentication-required")
        assert "max_age=300" in stale.headers["www-authenticate"]
        # Logging in again (prompt=login) makes it recent.
        _, challenge = pkce_pair()
        again = await log_in(
            browser,
            authorize_url(client_id, challenge, "openid", prompt="login"),
            "dina@example.ch",
        )
        assert again.status_code == 303
        fresh = await account_token(browser)
    removed = await identity.client.delete(
        "/v1/me/totp", headers={"Authorization": f"Bearer {fresh}"}
    )
    assert removed.status_code == 409  # authorised; there is simply no second factor


async def test_an_account_token_of_an_older_login_is_refused(identity, commune):
    client_id = await public_app(commune, ["openid"])
    await commune.add_user("emma@example.ch")
    async with identity.http() as browser:
        tokens = await tokens_for(identity, client_id, "emma@example.ch", "openid", browser=browser)
        sub = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sub"]
        async with identity.sessions() as session, session.begin():
            await session.execute(
                update(LoginSession)
                .where(LoginSession.user_id == sub)
                .values(auth_time=utcnow() - timedelta(seconds=120))
            )
        token = await account_token(browser)
    bearer = {"Authorization": f"Bearer {token}"}
    # The same identity with a one-minute window (SOCLE_REAUTH_SECONDS=60) refuses it.
    strict = IdentitySettings(
        database_url=identity.provider.settings.database_url,
        nats_url=identity.provider.settings.nats_url,
        issuer=ISSUER,
        reauth_seconds=60,
    )
    async with running(create_app(strict)) as other:
        refused = await other.delete("/v1/me", headers=bearer)
        assert refused.status_code == 401
        assert refused.json()["type"].endswith("reauthentication-required")
        assert (await other.get("/v1/me", headers=bearer)).status_code == 200
    # Within five minutes it is accepted.
    assert (await identity.client.delete("/v1/me", headers=bearer)).status_code == 204
