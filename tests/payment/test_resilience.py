"""Overload and outages on PostgreSQL: a small pool under many concurrent creations, and the
database server stopped for real during a stream of requests. Clients retry on 503; every
created payment and its event exist exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import text
from structlog.testing import capture_logs

from socle.db import create_engine
from socle_dev.testing import eventually
from tests.support.infra import PrivatePostgres, create_database, migrate
from tests.support.payment import create_until_done, payment_body, service

PROBLEM = "application/problem+json"


async def _rows(database_url: str, tenant: str) -> tuple[Counter[str], Counter[str]]:
    """Payments per reference and payment.created events per payment, read from the tables."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            refs = (
                await conn.execute(
                    text("SELECT reference FROM payments WHERE tenant = :t"), {"t": tenant}
                )
            ).scalars()
            events = (
                await conn.execute(
                    text("SELECT aggregate FROM outbox WHERE subject = :s"),
                    {"s": f"socle.{tenant}.payment.created"},
                )
            ).scalars()
            return Counter(refs), Counter(events)
    finally:
        await engine.dispose()


def _assert_exactly_once(
    keys: list[str], ids: list[str], refs: Counter[str], events: Counter[str]
) -> None:
    assert refs == Counter({f"KEY-{k}": 1 for k in keys})
    assert len(set(ids)) == len(keys)
    assert events == Counter({f"payment:{i}": 1 for i in ids})


async def test_many_creations_on_a_small_pool_are_201_or_503_never_500(
    settings_for, auth, tenant, payment_database
):
    settings = settings_for(
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout=0.1,
        max_requests_in_flight=64,  # above the pool: the pool is what runs out here
    )
    keys = [uuid.uuid4().hex for _ in range(40)]
    seen: list[int] = []
    async with service(settings) as (client, _):
        ids = await asyncio.gather(*(create_until_done(client, auth(), k, seen) for k in keys))
    statuses = Counter(seen)
    assert set(statuses) <= {201, 503}, statuses
    assert statuses[503] > 0, "the small pool was never exhausted: the test proves nothing"
    refs, events = await _rows(payment_database, tenant)
    _assert_exactly_once(keys, list(ids), refs, events)


async def test_a_database_stopped_during_a_stream_answers_503_then_recovers(
    tmp_path, settings_for, auth, tenant
):
    postgres = await asyncio.to_thread(PrivatePostgres, tmp_path / "pg")
    try:
        url = create_database(postgres.url, "payment")
        migrate(url, "payment")
        settings = settings_for(database_url=url, db_pool_timeout=0.5)
        keys: list[str] = []
        ids: list[str] = []
        while_down: list[int] = []
        async with service(settings) as (client, _):
            for _ in range(5):  # the stream flows
                keys.append(uuid.uuid4().hex)
                ids.append(await create_until_done(client, auth(), keys[-1], []))
            logs = await _outage_and_recovery(client, auth, postgres, keys, ids, while_down)
        assert set(while_down) == {503}
        refs, events = await _rows(url, tenant)
        _assert_exactly_once(keys, ids, refs, events)
        # told once by the API and once by the outbox relay, then their recoveries: no
        # line per request or per poll, no traceback
        told = Counter((e.get("source"), e["event"]) for e in logs if "database_" in e["event"])
        assert told == {
            (None, "database_unavailable"): 1,
            (None, "database_recovered"): 1,
            ("outbox-relay", "database_unavailable"): 1,
            ("outbox-relay", "database_recovered"): 1,
        }, told
        assert not [e for e in logs if e.get("log_level") == "error" or "exception" in e]
    finally:
        await asyncio.to_thread(postgres.close)


async def _outage_and_recovery(
    client: httpx.AsyncClient,
    auth: Any,
    postgres: PrivatePostgres,
    keys: list[str],
    ids: list[str],
    while_down: list[int],
) -> list[dict[str, Any]]:
    with capture_logs() as logs:
        await asyncio.to_thread(postgres.stop)
        for _ in range(10):  # the database is down: 503, never 500, nothing pretended
            key = uuid.uuid4().hex
            response = await client.post(
                "/v1/payments",
                json=payment_body(reference=f"KEY-{key}"),
                headers={**auth(), "Idempotency-Key": key},
            )
            while_down.append(response.status_code)
            assert response.headers["content-type"] == PROBLEM
            assert response.json()["type"].endswith("/database-unavailable")
            assert response.headers["retry-after"]
            keys.append(key)  # the client will retry this one
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        await eventually(lambda: _told(logs, "outbox-relay", "database_unavailable"), "relay")
        await asyncio.to_thread(postgres.start)
        # the same process, not restarted: the refused creations retried, then more
        for key in keys[5:]:
            ids.append(await create_until_done(client, auth(), key, []))
        for _ in range(5):
            keys.append(uuid.uuid4().hex)
            ids.append(await create_until_done(client, auth(), keys[-1], []))
        assert (await client.get("/readyz")).status_code == 200
        await eventually(lambda: _told(logs, "outbox-relay", "database_recovered"), "relay")
    return logs


async def _told(logs: list[dict[str, Any]], source: str, event: str) -> bool:
    return any(e.get("source") == source and e["event"] == event for e in logs)


async def test_a_connection_idle_for_six_seconds_is_still_served(settings_for):
    from socle_dev.localinfra import free_port
    from socle_dev.testing import served
    from socle_payment.app import create_app

    settings = settings_for()
    limits = httpx.Limits(keepalive_expiry=60)
    async with (
        served(create_app(settings), free_port(), settings) as base,
        httpx.AsyncClient(base_url=base, limits=limits) as client,
    ):
        first = await client.get("/healthz")
        before = _local_address(first)
        await asyncio.sleep(6)  # the idle time under test, longer than uvicorn's default 5 s
        second = await client.get("/healthz")
        after = _local_address(second)
    assert (first.status_code, second.status_code) == (200, 200)
    assert before == after  # the same connection, reused


def _local_address(response: httpx.Response) -> Any:
    return response.extensions["network_stream"].get_extra_info("client_addr")
