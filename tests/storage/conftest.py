"""Fixtures of the storage tests: the app on real PostgreSQL, NATS and SeaweedFS, tokens,
events read from the bus, and a clamd stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from minio import Minio

from socle_dev.events import EventRecorder
from socle_dev.testing import running
from socle_storage.app import create_app
from socle_storage.context import Storage
from socle_storage.settings import StorageSettings
from tests.support.clamd_standin import ClamdStandIn
from tests.support.storage import (
    READ_WRITE,
)


@pytest.fixture(scope="session")
def storage_database(migrated_database: Callable[[str], str]) -> str:
    """One migrated database for the storage tests; each test has its own tenant."""
    return migrated_database("storage")


@pytest.fixture(scope="session")
def clamd() -> Iterator[ClamdStandIn]:
    standin = ClamdStandIn()
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture
def settings_for(
    storage_database, nats_server, issuer, s3_server
) -> Callable[..., StorageSettings]:
    def build(**overrides: Any) -> StorageSettings:
        values: dict[str, Any] = {
            "database_url": storage_database,
            "nats_url": nats_server.url,
            "issuer": issuer.issuer,
            "jwks_url": issuer.jwks_url,
            "outbox_poll_seconds": 0.2,
            "s3_endpoint": s3_server.endpoint,
            "s3_access_key": s3_server.access_key,
            "s3_secret_key": s3_server.secret_key,
            "purge_interval_seconds": 0,
            "s3_part_size_bytes": 5 * 1024 * 1024,
        }
        values.update(overrides)
        return StorageSettings(**values)

    return build


@pytest.fixture
def started(settings_for) -> Callable[..., Any]:
    """``async with started(**settings) as (client, storage)``: the app, running."""

    @asynccontextmanager
    async def run(**overrides: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Storage]]:
        app = create_app(settings_for(**overrides))
        async with running(app) as client:
            yield client, app.state.runtime.context

    return run


@pytest.fixture
async def client(started) -> AsyncIterator[httpx.AsyncClient]:
    async with started() as (http, _):
        yield http


@pytest.fixture
def auth(issuer, tenant) -> Callable[..., dict[str, str]]:
    """Authorization headers; a citizen ``citizen-1`` of the test's tenant by default."""

    def headers(
        subject: str = "citizen-1",
        roles: tuple[str, ...] = ("citizen",),
        scopes: list[str] | None = None,
        for_tenant: str | None = None,
        client_id: str = "portal",
    ) -> dict[str, str]:
        token = issuer.token(
            audience="socle-storage",
            tenant=for_tenant or tenant,
            scopes=READ_WRITE if scopes is None else scopes,
            subject=subject,
            roles=roles,
            client_id=client_id,
        )
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
def service(auth) -> dict[str, str]:
    """A service acting for the tenant (client credentials: ``sub`` is its client id)."""
    return auth(subject="procedures-service", roles=(), client_id="procedures-service")


@pytest.fixture
def admin(auth) -> dict[str, str]:
    return auth(subject="admin-1", roles=("admin",))


@pytest.fixture
def s3(s3_server) -> Minio:
    return Minio(
        s3_server.endpoint.removeprefix("http://"),
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        secure=False,
        region="us-east-1",
    )


@pytest.fixture
async def bus(nats_server, tenant) -> AsyncIterator[EventRecorder]:
    """Every event of the test's tenant, as published on NATS."""
    async with EventRecorder(nats_server.url, tenant=tenant) as recorder:
        yield recorder
