"""Admin API (scope identity:admin): tenants, clients, staff accounts, deletion."""

from __future__ import annotations

import uuid

from socle_dev.events import EventRecorder
from socle_identity import directory
from tests.support.identity import REDIRECT


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_register_client_returns_its_secret_once_and_publishes_the_event(
    identity, commune, nats_server
):
    token = await commune.admin_token()
    body = {
        "name": "Guichet virtuel",
        "client_type": "confidential",
        "redirect_uris": [REDIRECT],
        "scopes": ["openid", "email", "payments:write"],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_method": "client_secret_post",
    }
    async with EventRecorder(nats_server.url, subject=f"socle.{commune.tenant}.>") as events:
        created = await identity.client.post(
            "/v1/clients", json=body, headers={**bearer(token), "Idempotency-Key": "k1"}
        )
        assert created.status_code == 201, created.text
        event = await events.first("client.registered")
    client = created.json()
    assert client["tenant"] == commune.tenant
    assert client["client_secret"]
    assert event["data"] == {
        "client_id": client["client_id"],
        "name": "Guichet virtuel",
        "client_type": "confidential",
        "grant_types": body["grant_types"],
        "scopes": body["scopes"],
    }
    assert event["tenant"] == commune.tenant

    replay = await identity.client.post(
        "/v1/clients", json=body, headers={**bearer(token), "Idempotency-Key": "k1"}
    )
    assert replay.json()["client_id"] == client["client_id"]

    shown = await identity.client.get(f"/v1/clients/{client['client_id']}", headers=bearer(token))
    assert shown.status_code == 200
    assert "client_secret" not in shown.json()
    listed = await identity.client.get("/v1/clients", headers=bearer(token))
    assert client["client_id"] in [c["client_id"] for c in listed.json()["items"]]

    # The secret works with the registered method.
    issued = await identity.client.post(
        "/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    )
    assert issued.status_code == 200, issued.text
    assert issued.json()["scope"] == "payments:write"


async def test_bad_client_registrations_are_explained(identity, commune):
    token = await commune.admin_token()
    cases = [
        ({"name": "x", "scopes": ["openid", "root"]}, "invalid-scope"),
        ({"name": "x", "redirect_uris": ["http://evil.example/cb"]}, "invalid-redirect-uri"),
        ({"name": "x", "redirect_uris": [REDIRECT + "#frag"]}, "invalid-redirect-uri"),
        ({"name": "x"}, "invalid-redirect-uri"),
        (
            {"name": "x", "client_type": "public", "grant_types": ["client_credentials"]},
            "invalid-grant-types",
        ),
    ]
    for body, code in cases:
        response = await identity.client.post("/v1/clients", json=body, headers=bearer(token))
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["type"].endswith(code), problem
        assert problem["detail"]


async def test_other_tenants_clients_and_users_answer_404(identity, commune, tenant):
    other_tenant = f"o{uuid.uuid4().hex[:10]}"
    async with identity.sessions() as session, session.begin():
        await directory.create_tenant(session, slug=other_tenant, name="Other")
        other_client, _ = await directory.register_client(
            session,
            tenant=other_tenant,
            spec=directory.ClientSpec(name="Theirs", grant_types=["client_credentials"]),
        )
        other_user = await directory.create_user(
            session,
            identity.provider.passwords,
            tenant=other_tenant,
            email="them@example.ch",
            password="long enough password",
            roles=["agent"],
        )
    token = await commune.admin_token()
    for path in (f"/v1/clients/{other_client.client_id}", f"/v1/users/{other_user.id}"):
        response = await identity.client.get(path, headers=bearer(token))
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
    deleted = await identity.client.delete(f"/v1/users/{other_user.id}", headers=bearer(token))
    assert deleted.status_code == 404


async def test_staff_accounts_and_deletion_event(identity, commune, nats_server):
    token = await commune.admin_token()
    created = await identity.client.post(
        "/v1/users",
        json={
            "email": "Agent.Smith@Vevey.CH",
            "password": "a long enough password",
            "roles": ["agent"],
            "given_name": "Jean",
            "family_name": "Smith",
        },
        headers=bearer(token),
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email"] == "Agent.Smith@vevey.ch"
    assert user["roles"] == ["agent"]
    assert "password" not in user and "password_hash" not in user

    duplicate = await identity.client.post(
        "/v1/users",
        json={"email": "agent.smith@vevey.ch", "password": "another long password"},
        headers=bearer(token),
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["type"].endswith("user-exists")
    weak = await identity.client.post(
        "/v1/users", json={"email": "new@vevey.ch", "password": "short"}, headers=bearer(token)
    )
    assert weak.status_code == 422 and weak.json()["type"].endswith("weak-password")

    async with EventRecorder(nats_server.url, subject=f"socle.{commune.tenant}.user.>") as events:
        gone = await identity.client.delete(f"/v1/users/{user['id']}", headers=bearer(token))
        assert gone.status_code == 204
        event = await events.first("user.deleted")
    assert event["data"] == {"user_id": user["id"]}
    again = await identity.client.get(f"/v1/users/{user['id']}", headers=bearer(token))
    assert again.status_code == 404


async def test_tenants_are_created_by_platform_admins_only(identity, commune):
    token = await commune.admin_token()
    refused = await identity.client.post(
        "/v1/tenants", json={"slug": "lausanne", "name": "Lausanne"}, headers=bearer(token)
    )
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("platform-admin-required")

    async with identity.sessions() as session, session.begin():
        if await session.get(directory.Tenant, "platform") is None:
            await directory.create_tenant(session, slug="platform", name="Platform")
        ops, secret = await directory.register_client(
            session,
            tenant="platform",
            spec=directory.ClientSpec(
                name="Operators", grant_types=["client_credentials"], scopes=["identity:admin"]
            ),
        )
    # Administrative scopes are never given by default: the operator names them.
    issued = await identity.client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "identity:admin"},
        auth=(ops.client_id, secret),
    )
    platform_token = issued.json()["access_token"]
    slug = f"c{uuid.uuid4().hex[:8]}"
    created = await identity.client.post(
        "/v1/tenants",
        json={"slug": slug, "name": "Nouvelle commune"},
        headers=bearer(platform_token),
    )
    assert created.status_code == 201, created.text
    assert created.json()["slug"] == slug
    exists = await identity.client.post(
        "/v1/tenants", json={"slug": slug, "name": "Again"}, headers=bearer(platform_token)
    )
    assert exists.status_code == 409
    bad = await identity.client.post(
        "/v1/tenants", json={"slug": "Not A Slug", "name": "x"}, headers=bearer(platform_token)
    )
    assert bad.status_code == 422


async def test_admin_api_requires_the_admin_scope(identity, commune):
    response = await identity.client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "payments:read"},
        auth=(commune.admin_id, commune.admin_secret),
    )
    token = response.json()["access_token"]
    # A payments token is not even meant for identity.
    refused = await identity.client.get("/v1/clients", headers=bearer(token))
    assert refused.status_code == 401
    missing = await identity.client.get("/v1/clients")
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
