"""A token that identity takes back stops at identity at once and is announced on the bus
(``token.revoked``) for every other service: a revoked access token, a revoked or replayed
grant, a logout, a disabled or deleted client, a secret rotated after a leak, a deleted
account. Played as the attacker who holds the old token."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import jwt
from sqlalchemy import select

from socle.db import create_engine, outbox_table
from socle_dev.events import EventRecorder
from tests.support.identity import REDIRECT, cli, log_in, pkce_pair, query, redeem_code

SCOPES = ["openid", "email", "payments:read", "offline_access"]


def claims_of(token: str) -> dict:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def revocations(commune, nats_server) -> EventRecorder:
    """``token.revoked`` events of the commune, on the subject other services listen to."""
    return EventRecorder(nats_server.url, subject=f"socle.{commune.tenant}.token.revoked")


def assert_revocation(event: dict, claim: str, value: str, issued_at_least: int) -> None:
    assert event["source"] == "/socle/identity"
    data = event["data"]
    assert set(data) == {"claim", "value", "issued_before", "expires_at"}
    assert data["claim"] == claim and data["value"] == value
    assert isinstance(data["issued_before"], int) and isinstance(data["expires_at"], int)
    assert data["issued_before"] >= issued_at_least
    assert data["expires_at"] > data["issued_before"]


async def web_app(commune) -> tuple[str, str]:
    client_id, secret = await commune.add_client(
        name="Portail",
        redirect_uris=[REDIRECT],
        post_logout_redirect_uris=["https://app.example.ch/bye"],
        scopes=SCOPES,
        grant_types=["authorization_code", "refresh_token"],
    )
    assert secret is not None
    return client_id, secret


async def code_for(browser, client_id: str, email: str) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    url = "/authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "scope": " ".join(SCOPES),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    done = await log_in(browser, url, email)
    assert done.status_code == 303, done.text
    return query(done.headers["location"])["code"], verifier


async def exchange(identity, client_id: str, secret: str, code: str, verifier: str):
    return await redeem_code(identity.client, code, verifier, (client_id, secret))


async def login_tokens(identity, commune, email: str, browser=None) -> tuple[str, str, dict]:
    client_id, secret = await web_app(commune)
    await commune.add_user(email)
    if browser is None:
        async with identity.http() as b:
            code, verifier = await code_for(b, client_id, email)
    else:
        code, verifier = await code_for(browser, client_id, email)
    response = await exchange(identity, client_id, secret, code, verifier)
    assert response.status_code == 200, response.text
    return client_id, secret, response.json()


async def userinfo_status(identity, token: str) -> int:
    return (await identity.client.get("/userinfo", headers=bearer(token))).status_code


async def test_person_tokens_carry_session_and_grant_ids_kept_across_refreshes(identity, commune):
    client_id, secret, tokens = await login_tokens(identity, commune, "ida@example.ch")
    first = claims_of(tokens["access_token"])
    assert {"jti", "iat", "client_id", "sid", "gid"} <= set(first)
    assert first["client_id"] == client_id
    refreshed = await identity.client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(client_id, secret),
    )
    second = claims_of(refreshed.json()["access_token"])
    assert (second["sid"], second["gid"]) == (first["sid"], first["gid"])
    assert second["jti"] != first["jti"]
    assert second["exp"] - second["iat"] <= 300


async def test_a_revoked_access_token_is_announced_and_refused(identity, commune, nats_server):
    client_id, secret, tokens = await login_tokens(identity, commune, "jan@example.ch")
    access = tokens["access_token"]
    claims = claims_of(access)
    assert await userinfo_status(identity, access) == 200
    async with revocations(commune, nats_server) as events:
        revoked = await identity.client.post(
            "/revoke", data={"token": access}, auth=(client_id, secret)
        )
        assert revoked.status_code == 200
        event = await events.first("token.revoked", claim="jti")
    assert_revocation(event, "jti", claims["jti"], claims["iat"])
    assert event["data"]["expires_at"] >= claims["exp"]
    assert event["subject"] == f"client:{client_id}"
    assert await userinfo_status(identity, access) == 401
    introspected = await identity.client.post(
        "/introspect", data={"token": access}, auth=(client_id, secret)
    )
    assert introspected.json() == {"active": False}
    # The rest of the login still works: a refresh gives a token that is accepted.
    refreshed = await identity.client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(client_id, secret),
    )
    assert await userinfo_status(identity, refreshed.json()["access_token"]) == 200


async def test_revoking_the_refresh_token_stops_the_whole_grant(identity, commune, nats_server):
    client_id, secret, tokens = await login_tokens(identity, commune, "kim@example.ch")
    gid = claims_of(tokens["access_token"])["gid"]
    async with revocations(commune, nats_server) as events:
        await identity.client.post(
            "/revoke", data={"token": tokens["refresh_token"]}, auth=(client_id, secret)
        )
        event = await events.first("token.revoked", claim="gid")
    assert_revocation(event, "gid", gid, claims_of(tokens["access_token"])["iat"])
    assert await userinfo_status(identity, tokens["access_token"]) == 401


async def test_a_replayed_code_revokes_what_it_gave(identity, commune, nats_server):
    client_id, secret = await web_app(commune)
    await commune.add_user("lea@example.ch")
    async with identity.http() as browser:
        code, verifier = await code_for(browser, client_id, "lea@example.ch")
    first = await exchange(identity, client_id, secret, code, verifier)
    access = first.json()["access_token"]
    assert await userinfo_status(identity, access) == 200
    async with revocations(commune, nats_server) as events:
        replay = await exchange(identity, client_id, secret, code, verifier)
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        event = await events.first("token.revoked", claim="gid")
    assert_revocation(event, "gid", claims_of(access)["gid"], claims_of(access)["iat"])
    assert await userinfo_status(identity, access) == 401
    refresh = await identity.client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]},
        auth=(client_id, secret),
    )
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


async def test_logout_ends_the_session_and_its_tokens(identity, commune, nats_server):
    async with identity.http() as browser:
        client_id, _, tokens = await login_tokens(
            identity, commune, "max@example.ch", browser=browser
        )
        sid = claims_of(tokens["access_token"])["sid"]
        async with revocations(commune, nats_server) as events:
            # the application proves it acts for the person: no confirmation page
            bye = await browser.get(
                "/logout", params={"client_id": client_id, "id_token_hint": tokens["id_token"]}
            )
            assert bye.status_code == 200
            event = await events.first("token.revoked", claim="sid")
    assert_revocation(event, "sid", sid, claims_of(tokens["access_token"])["iat"])
    assert event["subject"].startswith("user:")
    assert await userinfo_status(identity, tokens["access_token"]) == 401


async def test_a_disabled_client_gets_nothing_and_its_tokens_stop(identity, commune, nats_server):
    client_id, secret, tokens = await login_tokens(identity, commune, "nora@example.ch")
    access = tokens["access_token"]
    admin = bearer(await commune.admin_token())
    async with revocations(commune, nats_server) as events:
        disabled = await identity.client.patch(
            f"/v1/clients/{client_id}", json={"enabled": False}, headers=admin
        )
        assert disabled.status_code == 200, disabled.text
        assert disabled.json()["enabled"] is False
        event = await events.first("token.revoked", claim="client_id")
    assert_revocation(event, "client_id", client_id, claims_of(access)["iat"])
    assert await userinfo_status(identity, access) == 401
    refresh = await identity.client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(client_id, secret),
    )
    assert refresh.status_code == 401 and refresh.json()["error"] == "invalid_client"
    async with identity.http() as browser:
        _, challenge = pkce_pair()
        page = await browser.get(
            "/authorize",
            params={
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": REDIRECT,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        assert page.status_code == 400 and "location" not in page.headers

    enabled = await identity.client.patch(
        f"/v1/clients/{client_id}", json={"enabled": True}, headers=admin
    )
    assert enabled.json()["enabled"] is True
    async with identity.http() as browser:
        code, verifier = await code_for(browser, client_id, "nora@example.ch")
    fresh = await exchange(identity, client_id, secret, code, verifier)
    assert await userinfo_status(identity, fresh.json()["access_token"]) == 200
    assert await userinfo_status(identity, access) == 401  # the old one stays refused
    old_refresh = await identity.client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(client_id, secret),
    )
    assert old_refresh.status_code == 400 and old_refresh.json()["error"] == "invalid_grant"


async def test_a_deleted_client_is_gone_with_its_tokens(identity, commune, nats_server):
    client_id, secret, tokens = await login_tokens(identity, commune, "otto@example.ch")
    admin = bearer(await commune.admin_token())
    async with revocations(commune, nats_server) as events:
        gone = await identity.client.delete(f"/v1/clients/{client_id}", headers=admin)
        assert gone.status_code == 204
        event = await events.first("token.revoked", claim="client_id", value=client_id)
    assert_revocation(event, "client_id", client_id, claims_of(tokens["access_token"])["iat"])
    assert (await identity.client.get(f"/v1/clients/{client_id}", headers=admin)).status_code == 404
    assert await userinfo_status(identity, tokens["access_token"]) == 401
    refused = await identity.client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(client_id, secret),
    )
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


async def test_a_rotated_secret_with_revocation_stops_the_old_tokens(
    identity, commune, nats_server
):
    service_id, old_secret = await commune.add_client(
        name="Connector", grant_types=["client_credentials"], scopes=["identity:admin"]
    )

    async def service_token(secret: str) -> str:
        response = await identity.client.post(
            "/token",
            data={"grant_type": "client_credentials", "scope": "identity:admin"},
            auth=(service_id, secret),
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    leaked = await service_token(old_secret)
    assert (await identity.client.get("/v1/clients", headers=bearer(leaked))).status_code == 200
    admin = bearer(await commune.admin_token())
    # Without revocation, tokens already issued keep working; the old secret does not.
    kept = await identity.client.post(f"/v1/clients/{service_id}/secret", json={}, headers=admin)
    assert kept.status_code == 200, kept.text
    assert kept.json()["tokens_revoked"] is False
    assert (await identity.client.get("/v1/clients", headers=bearer(leaked))).status_code == 200
    old = await identity.client.post(
        "/token", data={"grant_type": "client_credentials"}, auth=(service_id, old_secret)
    )
    assert old.status_code == 401

    async with revocations(commune, nats_server) as events:
        rotated = await identity.client.post(
            f"/v1/clients/{service_id}/secret", json={"revoke_tokens": True}, headers=admin
        )
        assert rotated.status_code == 200, rotated.text
        event = await events.first("token.revoked", claim="client_id", value=service_id)
    assert_revocation(event, "client_id", service_id, claims_of(leaked)["iat"])
    assert event["data"]["issued_before"] <= int(time.time())
    refused = await identity.client.get("/v1/clients", headers=bearer(leaked))
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    new = await service_token(rotated.json()["client_secret"])
    assert claims_of(new)["iat"] > event["data"]["issued_before"]
    assert (await identity.client.get("/v1/clients", headers=bearer(new))).status_code == 200
    public_id, _ = await commune.add_client(
        name="Mobile", public=True, redirect_uris=[REDIRECT], scopes=["openid"]
    )
    no_secret = await identity.client.post(
        f"/v1/clients/{public_id}/secret", json={}, headers=admin
    )
    assert no_secret.status_code == 409


async def test_a_deleted_account_has_its_grants_revoked(identity, commune, nats_server):
    client_id, secret, tokens = await login_tokens(identity, commune, "pia@example.ch")
    claims = claims_of(tokens["access_token"])
    admin = bearer(await commune.admin_token())
    async with revocations(commune, nats_server) as events:
        gone = await identity.client.delete(f"/v1/users/{claims['sub']}", headers=admin)
        assert gone.status_code == 204
        grant = await events.first("token.revoked", claim="gid", value=claims["gid"])
        session = await events.first("token.revoked", claim="sid", value=claims["sid"])
    assert_revocation(grant, "gid", claims["gid"], claims["iat"])
    assert_revocation(session, "sid", claims["sid"], claims["iat"])
    introspected = await identity.client.post(
        "/introspect", data={"token": tokens["access_token"]}, auth=(client_id, secret)
    )
    assert introspected.json() == {"active": False}


async def test_operators_disable_enable_rotate_and_delete_clients_from_the_cli(
    migrated_database, tmp_path
):
    url = migrated_database("identity")
    assert cli(url, "create-tenant", "morges").returncode == 0
    made = cli(
        url,
        "create-client",
        "--tenant",
        "morges",
        "--name",
        "ERP",
        "--grant",
        "client_credentials",
        "--scope",
        "payments:read",
        "--client-id",
        "morges-erp",
    )
    assert made.returncode == 0, made.stderr
    disabled = cli(url, "disable-client", "morges-erp")
    assert disabled.returncode == 0, disabled.stderr
    assert json.loads(disabled.stdout) == {"client_id": "morges-erp", "enabled": False}
    enabled = cli(url, "enable-client", "morges-erp")
    assert json.loads(enabled.stdout)["enabled"] is True
    rotated = cli(url, "rotate-client-secret", "morges-erp", "--revoke-tokens")
    assert rotated.returncode == 0, rotated.stderr
    body = json.loads(rotated.stdout)
    assert body["tokens_revoked"] is True and len(body["client_secret"]) > 20
    deleted = cli(url, "delete-client", "morges-erp")
    assert json.loads(deleted.stdout) == {"client_id": "morges-erp", "deleted": True}
    unknown = cli(url, "disable-client", "morges-erp")
    assert unknown.returncode == 1 and "No client" in unknown.stderr
    # Each of disable, rotate --revoke-tokens and delete left a token.revoked in the outbox.
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(outbox_table.c.subject, outbox_table.c.payload).where(
                    outbox_table.c.subject == "socle.morges.token.revoked"
                )
            )
            events = [json.loads(row.payload) for row in rows]
    finally:
        await engine.dispose()
    assert [e["data"]["claim"] for e in events] == ["client_id"] * 3
    assert {e["data"]["value"] for e in events} == {"morges-erp"}
