"""The platform for export tests: identity and every exporting service, served on free ports."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from socle.db import create_engine, create_sessionmaker
from socle_dev.localinfra import free_port
from socle_dev.testing import running, served
from socle_identity import directory
from socle_identity.app import create_app as create_identity
from tests.support.identity import quick_settings
from tests.support.privacy import (
    SCOPES,
)
from tests.support.services import build

SERVICES = ("storage", "payment", "notify", "procedures")
EXPORTING = ("identity", *SERVICES)
EXPORT_SCOPES = ["documents:read", "documents:write"]
BOB = "bob@example.ch"


async def commune(database_url: str, tenant: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """The commune at identity, before identity starts (its services' settings name the
    client): the back office's client and the services' own client, with which they write
    their export parts and identity reads the archive."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await directory.create_tenant(session, slug=tenant, name=f"Commune {tenant}")
            made = []
            for name, scopes in (("Back office", SCOPES.split()), ("Services", EXPORT_SCOPES)):
                client, secret = await directory.register_client(
                    session,
                    tenant=tenant,
                    spec=directory.ClientSpec(
                        name=name,
                        grant_types=["client_credentials"],
                        scopes=scopes,
                        roles=["admin"],
                    ),
                )
                made.append((client.client_id, str(secret)))
    finally:
        await engine.dispose()
    return made[0], made[1]


async def token(issuer: str, client: tuple[str, str]) -> str:
    async with httpx.AsyncClient(base_url=issuer, timeout=30) as http:
        answer = await http.post(
            "/token", data={"grant_type": "client_credentials", "scope": SCOPES}, auth=client
        )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


@contextlib.asynccontextmanager
async def platform(
    migrated_database: Any,
    nats_server: Any,
    s3_server: Any,
    tenant: str,
    more: dict[str, dict[str, Any]] | None = None,
) -> AsyncIterator[tuple[Any, str, str, dict[str, Any], dict[str, httpx.AsyncClient]]]:
    """The platform; ``more`` adds settings per service (``identity`` too)."""
    more = more or {}
    port, storage_port = free_port(), free_port()
    issuer = f"http://127.0.0.1:{port}"
    storage_url = f"http://127.0.0.1:{storage_port}"
    database = migrated_database("identity")
    back_office, (client_id, secret) = await commune(database, tenant)
    writers = {
        "export_storage_url": storage_url,
        "export_client_id": client_id,
        "export_client_secret": secret,
    }
    identity = create_identity(
        quick_settings(
            database,
            nats_server.url,
            issuer,
            outbox_poll_seconds=0.1,
            **writers,
            **more.get("identity", {}),
        )
    )
    async with served(identity, port), contextlib.AsyncExitStack() as stack:
        admin = await token(issuer, back_office)
        extra: dict[str, dict[str, Any]] = {
            "storage": {
                "s3_endpoint": s3_server.endpoint,
                "s3_access_key": s3_server.access_key,
                "s3_secret_key": s3_server.secret_key,
            },
        }
        apps, clients = {}, {}
        for service in SERVICES:
            app = build(
                service,
                database_url=migrated_database(service),
                nats_url=nats_server.url,
                issuer=issuer,
                outbox_poll_seconds=0.1,
                **(extra.get(service) or writers),
                **more.get(service, {}),
            )
            if service == "storage":
                await stack.enter_async_context(served(app, storage_port))
                clients[service] = await stack.enter_async_context(
                    httpx.AsyncClient(base_url=storage_url, timeout=30)
                )
            else:
                clients[service] = await stack.enter_async_context(running(app))
            apps[service] = app
        yield identity, issuer, admin, apps, clients
