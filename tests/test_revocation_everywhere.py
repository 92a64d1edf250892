"""A token revoked at identity, or held by a client that identity disables, stops working at
payment, storage and notify within 5 seconds: identity publishes ``token.revoked`` and every
service follows it (real identity over HTTP, real NATS, the services in-process)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from socle_dev.localinfra import free_port
from socle_dev.testing import eventually, running, served
from socle_identity.app import create_app as create_identity
from tests.support.identity import back_office, quick_settings, tenant_with_client
from tests.support.services import build

PROBES = {
    "payment": "/v1/payments",
    "storage": "/v1/documents",
    "notify": "/v1/notifications",
}
SCOPES = "identity:admin payments:read documents:read notifications:send"


@contextlib.asynccontextmanager
async def platform(migrated_database, nats_server) -> AsyncIterator[tuple[Any, str, dict]]:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    identity = create_identity(
        quick_settings(
            migrated_database("identity"),
            nats_server.url,
            issuer,
        )
    )
    async with served(identity, port), contextlib.AsyncExitStack() as stack:
        clients = {}
        for service in PROBES:
            app = build(
                service,
                database_url=migrated_database(service),
                nats_url=nats_server.url,
                issuer=issuer,
            )
            clients[service] = await stack.enter_async_context(running(app))
        yield identity, issuer, clients


async def commune_client(identity: Any, tenant: str) -> tuple[str, str]:
    client, secret = await tenant_with_client(
        identity.state.runtime.sessions, tenant, back_office(SCOPES.split())
    )
    assert secret is not None
    return client.client_id, secret


async def token(http: httpx.AsyncClient, client_id: str, secret: str) -> str:
    answer = await http.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": SCOPES},
        auth=(client_id, secret),
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


async def test_a_revoked_access_token_stops_at_every_service(
    migrated_database, nats_server, tenant
):
    async with platform(migrated_database, nats_server) as (identity, issuer, clients):
        client_id, secret = await commune_client(identity, tenant)
        async with httpx.AsyncClient(base_url=issuer) as http:
            access = await token(http, client_id, secret)
            other = await token(http, client_id, secret)
            for service, client in clients.items():
                answer = await client.get(
                    PROBES[service], headers={"Authorization": f"Bearer {access}"}
                )
                assert answer.status_code == 200, (service, answer.text)
            revoked = await http.post("/revoke", data={"token": access}, auth=(client_id, secret))
            assert revoked.status_code == 200
            await refused_everywhere_after(clients, access)
            for service, client in clients.items():  # the client's other token still works
                answer = await client.get(
                    PROBES[service], headers={"Authorization": f"Bearer {other}"}
                )
                assert answer.status_code == 200, service


async def test_a_disabled_client_stops_at_every_service(migrated_database, nats_server, tenant):
    async with platform(migrated_database, nats_server) as (identity, issuer, clients):
        client_id, secret = await commune_client(identity, tenant)
        admin_id, admin_secret = await commune_client(identity, f"{tenant}x")
        async with httpx.AsyncClient(base_url=issuer) as http:
            access = await token(http, client_id, secret)
            for service, client in clients.items():
                answer = await client.get(
                    PROBES[service], headers={"Authorization": f"Bearer {access}"}
                )
                assert answer.status_code == 200, service
            disabled = await http.patch(
                f"/v1/clients/{client_id}",
                json={"enabled": False},
                headers={"Authorization": f"Bearer {access}"},
            )
            assert disabled.status_code == 200, disabled.text
            await refused_everywhere_after(clients, access)
            again = await http.post(
                "/token",
                data={"grant_type": "client_credentials", "scope": SCOPES},
                auth=(client_id, secret),
            )
            assert again.status_code == 401
            assert again.json()["error"] == "invalid_client"
            assert admin_id  # another commune's client is untouched
            assert await token(http, admin_id, admin_secret)


async def refused_everywhere_after(clients: dict[str, httpx.AsyncClient], access: str) -> None:
    headers = {"Authorization": f"Bearer {access}"}

    async def all_refused() -> bool:
        for service, client in clients.items():
            if (await client.get(PROBES[service], headers=headers)).status_code != 401:
                return False
        return True

    await eventually(all_refused, "every service to refuse the revoked token", within=5)
