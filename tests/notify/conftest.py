"""Fixtures of the notify tests: one migrated PostgreSQL database for the module run, an app
factory wired to the real NATS and SMTP sink, tokens, and a recorder of bus events."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import nats
import pytest

from socle import account_mails
from socle.account_mails import AccountMailAnswer, AccountMailRequest
from socle.bus import Bus
from socle.events import CloudEvent
from socle_dev.events import EventRecorder
from socle_dev.stub_http import StubServer
from socle_dev.testing import eventually, running
from socle_notify.app import create_app
from socle_notify.settings import NotifySettings
from tests.support.notify import (
    client_token,
)


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

    from socle.db import outbox_table

    async def idle() -> bool:
        # published, rather than recorded in the inbox: notify's own events that no
        # subscription wants are acknowledged without an inbox record
        async with runtime.sessions() as session:
            left = (
                await session.execute(
                    select(func.count())
                    .select_from(outbox_table)
                    .where(outbox_table.c.published_at.is_(None))
                )
            ).scalar_one()
        return bool(left == 0)

    async def taken() -> bool:
        # every event delivered to the consumer; one it answered with a delayed retry (an
        # account mail whose producer is not running in these tests) stays unacknowledged
        # for minutes and is not waited for
        info = await runtime.bus.js.consumer_info("SOCLE", consumer)
        return bool(info.num_pending == 0)

    with contextlib.suppress(AssertionError):
        await eventually(idle, "events consumed", within=10)
        await eventually(taken, "every event taken by the consumer", within=10)


@pytest.fixture
async def events(nats_server: Any, tenant: str) -> AsyncIterator[EventRecorder]:
    """Every event of the test's tenant, as published on NATS."""
    async with EventRecorder(nats_server.url, tenant=tenant) as recorder:
        yield recorder


@pytest.fixture
def endpoint() -> Iterator[StubServer]:
    """A webhook receiver or SMS gateway: records requests, answers 204 unless told."""
    with StubServer(status=204) as server:
        yield server


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

    def knows(
        self, event: CloudEvent, email: str, url: str = "", values: dict[str, str] | None = None
    ) -> CloudEvent:
        self.answers[event.id] = AccountMailAnswer(
            status="ok", email=email, url=url, values=values or {}
        )
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
