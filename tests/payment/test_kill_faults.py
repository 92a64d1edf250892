"""kill -9 during a stream of payments, on PostgreSQL, with ``socle-payment serve`` as a real
process: of the NATS server (every payment's events reach the stream once, none lost, none
doubled, and no client sees a 500), and of the service itself (every request replayed with
its key after the restart has had exactly one effect, and nothing answers 5xx)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import text

from socle.db import create_engine
from socle_dev.localinfra import free_port
from socle_dev.testing import eventually
from tests.support.payment import create_until_done, payment_body, serve_payment

CLIENTS = 8
PROBLEM = "application/problem+json"


async def _sql(database_url: str, query: str, **params: Any) -> list[Any]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(query), params)).all())
    finally:
        await engine.dispose()


async def _references(database_url: str, tenant: str) -> Counter[str]:
    """How many payments each reference has, read from the table."""
    rows = await _sql(database_url, "SELECT reference FROM payments WHERE tenant = :t", t=tenant)
    return Counter(reference for (reference,) in rows)


async def _unpublished(database_url: str, tenant: str) -> int:
    [(count,)] = await _sql(
        database_url,
        "SELECT count(*) FROM outbox WHERE published_at IS NULL AND subject LIKE :s",
        s=f"socle.{tenant}.%",
    )
    return int(count)


async def _all_published(database_url: str, tenant: str) -> bool:
    return await _unpublished(database_url, tenant) == 0


async def _assert_published_once(url: str, tenant: str, payment_ids: list[str]) -> None:
    """The stream holds each payment's events (created, then pending at once) exactly once:
    none lost, none published twice."""
    stored = await _stream(url, tenant)
    ids = Counter(event_id for event_id, _, _ in stored)
    assert [i for i, n in ids.items() if n > 1] == []  # no event id stored twice
    per_payment = Counter((payment, kind) for _, kind, payment in stored)
    expected = Counter(
        {(p, f"payment.{kind}"): 1 for p in payment_ids for kind in ("created", "pending")}
    )
    assert per_payment == expected


async def _stream(url: str, tenant: str) -> list[tuple[str, str, str]]:
    """(event id, type, payment id) of every message of ``tenant`` stored in the stream, read
    from the first by a consumer of its own (nats-py, nothing of socle), to the last."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(
            f"socle.{tenant}.>",
            stream="SOCLE",
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE),
        )
        stored: dict[int, tuple[str, str, str]] = {}  # by stream sequence: one per message
        while (await sub.consumer_info()).num_pending:
            for msg in await sub.fetch(256, timeout=5.0):
                event = json.loads(msg.data)
                stored[msg.metadata.sequence.stream] = (
                    event["id"],
                    event["type"],
                    event["data"]["payment_id"],
                )
        await sub.unsubscribe()
        return list(stored.values())
    finally:
        await nc.close()


# ---- kill -9 of NATS ---------------------------------------------------------------------


async def test_nats_killed_and_restarted_during_a_stream_of_payments_loses_no_event(
    settings_for, auth, tenant, payment_database, private_nats, tmp_path
):
    settings = settings_for(nats_url=private_nats.url)
    port = free_port()
    created: dict[str, str] = {}  # key -> payment id
    seen: list[int] = []
    flowing = True

    async def client_loop(client: httpx.AsyncClient) -> None:
        while flowing:
            key = uuid.uuid4().hex
            created[key] = await create_until_done(client, auth(), key, seen)

    async def at_least(count: int) -> bool:
        return len(created) >= count

    with (tmp_path / "payment.log").open("wb") as log:
        service = await serve_payment(settings, port, log)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                clients = [asyncio.create_task(client_loop(client)) for _ in range(CLIENTS)]
                try:
                    await eventually(partial(at_least, 20), "the stream to flow", within=30)
                    for _ in range(3):  # killed and restarted three times
                        await asyncio.to_thread(private_nats.kill)  # kill -9, mid-stream
                        before = len(created)

                        async def recorded_while_down(before: int = before) -> bool:
                            return len(created) >= before + 10 and bool(
                                await _unpublished(payment_database, tenant)
                            )

                        await eventually(recorded_while_down, "payments while NATS is down")
                        await asyncio.to_thread(private_nats.start)  # same store, same port
                        after = len(created)
                        await eventually(partial(at_least, after + 10), "payments after")
                finally:
                    flowing = False
                    await asyncio.gather(*clients)

                published = partial(_all_published, payment_database, tenant)
                await eventually(published, "the outbox to be published", within=30)
        finally:
            await asyncio.to_thread(service.stop)

    assert set(seen) <= {201, 503}, Counter(seen)  # never a 500
    assert await _references(payment_database, tenant) == Counter(
        {f"KEY-{key}": 1 for key in created}
    )
    await _assert_published_once(private_nats.url, tenant, list(created.values()))


# ---- kill -9 of the service ------------------------------------------------------------


async def _replay(
    client: httpx.AsyncClient, headers: dict[str, str], key: str, seen: list[httpx.Response]
) -> httpx.Response:
    """The request again with its key until it has its answer. A 409
    ``idempotency-in-progress`` is expected for a key whose attempt the killed process held:
    nobody can know at once whether that attempt is still running (in a replica, or in
    the killed process, stuck at the provider), so its key is held until its lease is over;
    then the retry resumes it. The client waits as Retry-After asks."""
    while True:
        response = await client.post(
            "/v1/payments",
            json=payment_body(provider="stripe", reference=f"KEY-{key}"),
            headers={**headers, "Idempotency-Key": key},
        )
        seen.append(response)
        if response.status_code != 409:
            return response
        await asyncio.sleep(int(response.headers["retry-after"]))


def _problem_type(response: httpx.Response) -> str:
    assert response.headers["content-type"] == PROBLEM, response.text
    return str(response.json()["type"]).rsplit("/", 1)[-1]


async def test_the_service_killed_during_idempotent_posts_has_one_effect_per_key(
    stripe_settings, stripe_standin, slow_stripe, auth, tenant, payment_database, tmp_path
):
    # A short Stripe timeout keeps the killed process's lease (3 x timeout + 5 s) short; the
    # sweep of creations cut short runs, as in production, and often: it races the retries.
    settings = stripe_settings(
        payment_stripe_timeout_seconds=2.0, payment_cut_short_sweep_seconds=0.5
    )
    port = free_port()
    keys = [uuid.uuid4().hex for _ in range(120)]
    first: dict[str, httpx.Response] = {}  # the answer before the kill, where there was one
    cut: list[str] = []  # sent, and the process died before answering
    killed = False
    slow_stripe.set()  # Stripe answers at once, until the test holds it back

    def sessions_of(payment_id: str) -> list[dict[str, Any]]:
        return [
            s
            for s in list(stripe_standin.sessions.values())
            if s["client_reference_id"] == payment_id
        ]

    async def client_loop(client: httpx.AsyncClient, pending: Iterator[str]) -> None:
        while not killed and (key := next(pending, None)) is not None:
            try:
                first[key] = await client.post(
                    "/v1/payments",
                    json=payment_body(provider="stripe", reference=f"KEY-{key}"),
                    headers={**auth(), "Idempotency-Key": key},
                )
            except httpx.TransportError:
                cut.append(key)
                return

    async def answered(count: int) -> bool:
        return len(first) >= count

    async def held_at_stripe(low: int, high: int) -> bool:
        return bool(low <= stripe_standin.held <= high)

    pending = iter(keys)
    with (tmp_path / "payment.log").open("wb") as log:
        # Killed twice: once wherever its requests are, once while Stripe is slow to answer
        # (some creations then wait for it: their payment recorded, its checkout not yet).
        for stripe_slow in (False, True):
            service = await serve_payment(settings, port, log)
            killed = False
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                    clients = [
                        asyncio.create_task(client_loop(client, pending)) for _ in range(CLIENTS)
                    ]
                    flowed = partial(answered, len(first) + 20)
                    await eventually(flowed, "the stream to flow")
                    if stripe_slow:
                        slow_stripe.clear()
                        await eventually(partial(held_at_stripe, 3, CLIENTS), "Stripe to be asked")
                    await asyncio.to_thread(service.kill)  # kill -9, mid-stream
                    killed = True
                    await asyncio.gather(*clients)
            finally:
                await asyncio.to_thread(service.kill)
            slow_stripe.set()  # Stripe opens the checkouts it was asked for before the kill
            await eventually(partial(held_at_stripe, 0, 0), "Stripe to answer")
        assert cut, "no request was cut short by the kills: the test proves nothing"

        service = await serve_payment(settings, port, log)
        replayed: list[httpx.Response] = []
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                headers = auth()
                lanes = [keys[n::CLIENTS] for n in range(CLIENTS)]

                async def replay_lane(lane: list[str]) -> list[httpx.Response]:
                    return [await _replay(client, headers, key, replayed) for key in lane]

                answers = await asyncio.gather(*(replay_lane(lane) for lane in lanes))
                published = partial(_all_published, payment_database, tenant)
                await eventually(published, "the outbox to be published", within=30)
        finally:
            await asyncio.to_thread(service.stop)

    last = {
        key: r
        for lane, got in zip(lanes, answers, strict=True)
        for key, r in zip(lane, got, strict=True)
    }
    assert {r.status_code for r in first.values()} == {201}
    statuses = Counter(r.status_code for r in replayed)
    assert set(statuses) <= {201, 409}, statuses  # no 5xx after the restart
    for response in replayed:
        if response.status_code == 409:
            assert _problem_type(response) == "idempotency-in-progress", response.text
            assert int(response.headers["retry-after"]) >= 1
    # one payment per key, the same one answered before and after the kill
    assert all(last[key].status_code == 201 for key in keys)
    for key, response in first.items():
        assert last[key].json() == response.json()
    ids = {key: last[key].json()["id"] for key in keys}
    assert len(set(ids.values())) == len(keys)
    assert await _references(payment_database, tenant) == Counter({f"KEY-{key}": 1 for key in keys})
    # one checkout per key at the provider, the one the payment points to
    for key, payment_id in ids.items():
        assert [s["id"] for s in sessions_of(payment_id)] == [
            last[key].json()["provider_payment_id"]
        ], key
    # the events of the creations killed before the relay marked them: once in the stream
    await _assert_published_once(settings.nats_url, tenant, list(ids.values()))
