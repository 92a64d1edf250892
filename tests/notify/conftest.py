"""Fixtures of the notify tests: one migrated PostgreSQL database for the module run, an app
factory wired to the real NATS and SMTP sink, tokens, and a recorder of bus events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import nats
import pytest

from socle import account_mails
from socle.account_mails import AccountMailAnswer, AccountMailRequest
from socle.bus import Bus
from socle.events import CloudEvent
from socle.testing import running
from socle_notify.app import create_app
from socle_notify.settings import NotifySettings


@pytest.fixture(scope="session")
def notify_db(migrated_database: Callable[[str], str]) -> str:
    return migrated_database("notify")


@pytest.fixture
def settings_for(
    notify_db: str, nats_server: Any, issuer: Any, smtp_sink: Any, tmp_path: Any
) -> Callable[..., NotifySettings]:
    def make(**overrides: Any) -> NotifySettings:
        values: dict[str, Any] = {
            "database_url": notify_db,
            "nats_url": nats_server.url,
            "issuer": issuer.issuer,
            "jwks_url": issuer.jwks_url,
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_sink.port,
            "mail_from": "Commune <noreply@commune.ch>",
            "sms_sink_dir": str(tmp_path / "sms"),
            "worker_poll_seconds": 0.05,
            "outbox_poll_seconds": 0.05,
            "retry_base_seconds": 0.1,
            "retry_max_seconds": 0.5,
            "webhook_allow_private": True,
            "webhook_timeout_seconds": 2.0,
        }
        values.update(overrides)
        return NotifySettings(**values)

    return make


@pytest.fixture
def notify(settings_for: Callable[..., NotifySettings]) -> Callable[..., Any]:
    """``async with notify(**settings) as client:`` runs the app with those settings."""

    @contextlib.asynccontextmanager
    async def run(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        settings = settings_for(**overrides)
        app = create_app(settings)
        async with running(app) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client
            await quiesce(app.state.runtime, settings.consumer_name)

    return run


BACK_OFFICE = "commune-back-office"


def client_token(issuer: Any, tenant: str, scopes: list[str], client: str = BACK_OFFICE) -> str:
    """A commune's service acting for itself (client credentials: ``sub`` is its client id)."""
    return str(
        issuer.token(
            audience="socle-notify",
            tenant=tenant,
            scopes=scopes,
            subject=client,
            client_id=client,
            roles=(),
        )
    )


def person_token(
    issuer: Any, tenant: str, subject: str, roles: tuple[str, ...], scopes: list[str]
) -> dict[str, str]:
    """A person's token, through the portal's public client."""
    token = issuer.token(
        audience="socle-notify",
        tenant=tenant,
        scopes=scopes,
        subject=subject,
        client_id="portal",
        roles=roles,
    )
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(issuer: Any, tenant: str) -> dict[str, str]:
    token = client_token(issuer, tenant, ["notifications:admin", "notifications:send"])
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def sender(issuer: Any, tenant: str) -> dict[str, str]:
    token = client_token(issuer, tenant, ["notifications:send"])
    return {"Authorization": f"Bearer {token}"}


async def quiesce(runtime: Any, consumer: str) -> None:
    """Before stopping the app: let the relay publish and the consumer take every event, so
    the stop does not cut a fetch from the bus in the middle."""
    from sqlalchemy import func, select

    from socle.db import inbox_table, outbox_table

    async def idle() -> bool:
        async with runtime.sessions() as session:
            left = (
                await session.execute(
                    select(func.count())
                    .select_from(outbox_table)
                    .where(
                        ~outbox_table.c.event_id.in_(
                            select(inbox_table.c.event_id).where(inbox_table.c.consumer == consumer)
                        )
                    )
                )
            ).scalar_one()
        return bool(left == 0)

    with contextlib.suppress(AssertionError):
        await eventually(idle, "events consumed", timeout=10)
    await asyncio.sleep(0.1)


async def eventually(probe: Callable[[], Awaitable[Any]], what: str, timeout: float = 20.0) -> Any:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what} (last: {result!r})")
        await asyncio.sleep(0.05)


class Events:
    """Every CloudEvent published on ``socle.<tenant>.>`` while the recorder runs."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.received if e["type"] == type_]

    async def wait_for(self, type_: str, count: int = 1) -> list[dict[str, Any]]:
        async def probe() -> list[dict[str, Any]]:
            found = self.of_type(type_)
            return found if len(found) >= count else []

        result: list[dict[str, Any]] = await eventually(probe, f"{count} {type_} event(s)")
        return result


@pytest.fixture
async def events(nats_server: Any, tenant: str) -> AsyncIterator[Events]:
    recorder = Events()
    nc = await nats.connect(nats_server.url)

    async def on_message(msg: Any) -> None:
        recorder.received.append(json.loads(msg.data))

    await nc.subscribe(f"socle.{tenant}.>", cb=on_message)
    await nc.flush()
    yield recorder
    await nc.close()


class HttpEndpoint:
    """A real HTTP server in a thread: records requests, answers what ``responses`` says."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 204
        self.body = b""
        self.delay = 0.0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                endpoint.requests.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": raw,
                    }
                )
                if endpoint.delay:
                    time.sleep(endpoint.delay)
                self.send_response(endpoint.status)
                self.send_header("content-length", str(len(endpoint.body)))
                self.end_headers()
                self.wfile.write(endpoint.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[HttpEndpoint]:
    server = HttpEndpoint()
    server.start()
    yield server
    server.stop()


def email_template(**contents: dict[str, str]) -> dict[str, Any]:
    return {
        "name": "Accusé de réception",
        "channel": "email",
        "default_language": "fr",
        "contents": contents,
    }


async def create_template(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post("/v1/templates", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("/" + code), body
    assert body["status"] == status and body["title"] and body["detail"]
    return body


@pytest.fixture
async def bus(nats_server: Any) -> AsyncIterator[Bus]:
    """A publisher of events, as another service."""
    publisher = Bus(url=nats_server.url, name="test-publisher")
    await publisher.connect()
    yield publisher
    await publisher.close()


class IdentityDesk:
    """The producers' answers to notify's requests for a mail's address (and link), for one
    tenant: identity's account mails, procedures' mandate confirmation and request mails,
    payment's payer address."""

    def __init__(self) -> None:
        self.answers: dict[str, AccountMailAnswer] = {}
        self.asked: list[str] = []

    def knows(self, event: CloudEvent, email: str, url: str = "") -> CloudEvent:
        self.answers[event.id] = AccountMailAnswer(status="ok", email=email, url=url)
        return event


@pytest.fixture
async def identity_desk(nats_server: Any, tenant: str) -> AsyncIterator[IdentityDesk]:
    desk = IdentityDesk()
    nc = await nats.connect(nats_server.url)

    async def answer(msg: Any) -> None:
        request = AccountMailRequest.model_validate_json(msg.data)
        desk.asked.append(request.event_id)
        found = desk.answers.get(request.event_id, AccountMailAnswer(status="gone"))
        await msg.respond(found.model_dump_json().encode())

    await nc.subscribe(account_mails.subject_of(tenant), cb=answer)
    for prefix in (
        account_mails.MANDATE_SUBJECT_PREFIX,
        account_mails.REQUEST_SUBJECT_PREFIX,
        account_mails.PAYMENT_SUBJECT_PREFIX,
    ):
        await nc.subscribe(account_mails.subject_of(tenant, prefix), cb=answer)
    await nc.flush()
    yield desk
    await nc.drain()
