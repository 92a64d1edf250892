"""Fixtures of the storage tests: the app on real PostgreSQL, NATS and SeaweedFS, tokens,
events read from the bus, and a clamd stand-in."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from minio import Minio

from socle.localinfra import S3Server, free_port
from socle.testing import running
from socle_storage.app import create_app
from socle_storage.context import Storage
from socle_storage.settings import StorageSettings
from tests.storage.clamd_standin import ClamdStandIn

READ_WRITE = ["documents:read", "documents:write"]
PDF = b"%PDF-1.7\n" + b"1 0 obj\n<< /Type /Catalog >>\nendobj\n" * 200 + b"%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def s3_server_for_tests(directory: Path, log: Any = None) -> S3Server:
    """A SeaweedFS of a test's own (on free ports), for tests that stop the store."""
    return S3Server.create(
        directory, free_port(), "socle-test", "socle-test-secret-" + uuid.uuid4().hex, log=log
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


BUCKET = "socle-documents"


def bucket_keys(s3: Minio, tenant: str) -> list[str]:
    """The keys of the tenant's objects in the store."""
    if not s3.bucket_exists(BUCKET):
        return []
    objects = s3.list_objects(BUCKET, prefix=f"{tenant}/", recursive=True)
    return [o.object_name for o in objects if o.object_name]


class BusWatcher:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type_]

    async def wait_for(self, type_: str, count: int = 1, timeout: float = 15.0) -> list[Any]:
        async def poll() -> list[Any]:
            while len(self.of_type(type_)) < count:
                await asyncio.sleep(0.05)
            return self.of_type(type_)

        return await asyncio.wait_for(poll(), timeout)


@pytest.fixture
async def bus(nats_server, tenant) -> AsyncIterator[BusWatcher]:
    """Every event of the test's tenant, as published on NATS."""
    watcher = BusWatcher()
    nc = await nats.connect(nats_server.url)

    async def on_message(msg: Any) -> None:
        event = json.loads(msg.data)
        event["_subject"] = msg.subject
        watcher.events.append(event)

    await nc.subscribe(f"socle.{tenant}.>", cb=on_message)
    yield watcher
    await nc.drain()


def multipart(
    content: bytes,
    *,
    filename: str = "plan.pdf",
    content_type: str = "application/pdf",
    **fields: str,
) -> dict[str, Any]:
    """``files``/``data`` arguments of httpx for an upload."""
    return {"files": {"file": (filename, content, content_type)}, "data": fields}


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    content: bytes = PDF,
    *,
    filename: str = "plan.pdf",
    content_type: str = "application/pdf",
    **fields: str,
) -> httpx.Response:
    fields.setdefault("kind", "building-plan")
    return await client.post(
        "/v1/documents",
        headers=headers,
        **multipart(content, filename=filename, content_type=content_type, **fields),
    )


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["type"].endswith("/" + code), body
    assert body["detail"] and body["title"]
    return dict(body)


BOUNDARY = "socle-test-boundary-7f3a"


def streamed_body(
    chunks: Any,
    *,
    filename: str = "big.pdf",
    content_type: str = "application/pdf",
    fields: dict[str, str] | None = None,
) -> tuple[dict[str, str], Any]:
    """A multipart body sent chunk by chunk (as a browser streams a large file)."""

    async def body() -> AsyncIterator[bytes]:
        for name, value in (fields or {}).items():
            yield (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            ).encode()
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        ).encode()
        async for chunk in chunks:
            yield chunk
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    return {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}, body()


async def pdf_chunks(total: int, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    """``total`` bytes of a PDF-looking file, one reused chunk at a time."""
    block = b"%PDF-1.7\n" + b"0" * (chunk - 9)
    yield block
    sent = len(block)
    filler = b"1" * chunk
    while sent < total:
        piece = filler[: min(chunk, total - sent)]
        sent += len(piece)
        yield piece
