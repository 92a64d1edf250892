"""Durable consumers: one effect per event through the inbox, dead letter after N failures,
one trace across the bus."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import trace
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from socle.bus import Bus, ConsumerSpec
from socle.events import CloudEvent
from socle.inbox import exactly_once
from socle.telemetry import configure_tracing
from socle.tracing import inject_headers, tracer
from socle_dev.events import consumer_settled
from socle_dev.testing import eventually

effects = Table(
    "effects", MetaData(), Column("id", Integer, primary_key=True), Column("event_id", String(64))
)


async def test_redelivered_event_has_one_effect(nats_server, engine, sessions, tenant):
    async with engine.begin() as conn:
        await conn.run_sync(effects.metadata.create_all)
    failures = {"left": 1}

    async def effect(session, event: CloudEvent) -> None:
        await session.execute(insert(effects).values(event_id=event.id))
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("crash before commit")  # rolled back with the inbox record

    bus = Bus(url=nats_server.url)
    await bus.connect()
    bus.start_consumer(
        ConsumerSpec(
            durable=f"effects-{tenant}",
            subjects=[f"socle.{tenant}.>"],
            handler=exactly_once(sessions, "effects", effect),
            backoff=[0.1],
        )
    )
    event = CloudEvent.new(service="payment", type="payment.succeeded", tenant=tenant, data={})
    try:
        await bus.publish_event(event)
        # The same event published again under another message id (beyond de-duplication):
        await bus.publish(event.nats_subject, event.to_bytes(), msg_id=event.id + "-again")

        async def count() -> int:
            async with sessions() as session:
                return int(
                    await session.scalar(
                        select(func.count())
                        .select_from(effects)
                        .where(effects.c.event_id == event.id)
                    )
                    or 0
                )

        await eventually(lambda: _equals(count, 1), "the effect")

        async def both_copies_acked() -> bool:  # the second copy arrived and was skipped
            return await consumer_settled(bus.js, f"effects-{tenant}")

        await eventually(both_copies_acked, "the consumer to acknowledge both copies")
        assert await count() == 1
        assert failures["left"] == 0
    finally:
        await bus.close()


async def test_event_failing_every_time_goes_to_dead_letter(nats_server, tenant):
    attempts: list[int] = []

    async def always_fails(event: CloudEvent) -> None:
        attempts.append(1)
        raise ValueError("template missing")

    bus = Bus(url=nats_server.url)
    await bus.connect()
    durable = f"failing-{tenant}"
    bus.start_consumer(
        ConsumerSpec(
            durable=durable,
            subjects=[f"socle.{tenant}.>"],
            handler=always_fails,
            max_deliver=3,
            backoff=[0.1],
        )
    )
    dead = await bus.js.subscribe(f"deadletter.{durable}.>", ordered_consumer=True)
    try:
        event = CloudEvent.new(service="user", type="user.registered", tenant=tenant, data={})
        await bus.publish_event(event)
        msg = await dead.next_msg(timeout=15)
        assert CloudEvent.from_bytes(msg.data).id == event.id
        assert msg.headers["Socle-Error"] == "ValueError: template missing"
        assert msg.headers["Socle-Original-Subject"] == event.nats_subject
        assert len(attempts) == 3
    finally:
        await dead.unsubscribe()
        await bus.close()


@pytest.mark.parametrize("carried_in", ["headers", "event"])
async def test_trace_continues_from_publisher_to_consumer(nats_server, tenant, carried_in):
    """The consumer runs in the publisher's trace. A tool that copies an event without its
    headers keeps the trace too: it travels in the event itself (the CloudEvents
    distributed-tracing extension)."""
    configure_tracing("test")
    seen: list[int] = []

    async def handler(event: CloudEvent) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)

    bus = Bus(url=nats_server.url)
    await bus.connect()
    bus.start_consumer(
        ConsumerSpec(
            durable=f"traced-{carried_in}-{tenant}",
            subjects=[f"socle.{tenant}.>"],
            handler=handler,
        )
    )
    try:
        with tracer.start_as_current_span("citizen click") as span:
            event = CloudEvent.new(
                service="payment", type="payment.created", tenant=tenant, data={}
            )
            trace_id = span.get_span_context().trace_id
            if carried_in == "headers":
                headers = inject_headers()
            else:
                event.traceparent = inject_headers()["traceparent"]  # type: ignore[attr-defined]
                headers = {}
        await bus.publish(event.nats_subject, event.to_bytes(), event.id, headers)

        async def arrived() -> bool:
            return bool(seen)

        await eventually(arrived, "the event")
        assert seen == [trace_id]
    finally:
        await bus.close()


async def test_a_message_that_is_no_event_goes_to_dead_letter(nats_server, tenant):
    handled: list[CloudEvent] = []

    async def handler(event: CloudEvent) -> None:
        handled.append(event)

    bus = Bus(url=nats_server.url)
    await bus.connect()
    durable = f"garbled-{tenant}"
    bus.start_consumer(
        ConsumerSpec(
            durable=durable,
            subjects=[f"socle.{tenant}.>"],
            handler=handler,
            max_deliver=2,
            backoff=[0.1],
        )
    )
    dead = await bus.js.subscribe(f"deadletter.{durable}.>", ordered_consumer=True)
    try:
        await bus.publish(f"socle.{tenant}.user.registered", b"{not json", f"garbled-{tenant}")
        msg = await dead.next_msg(timeout=15)
        assert msg.data == b"{not json"
        assert msg.headers["Socle-Error"].startswith("JSONDecodeError")
        assert handled == []
    finally:
        await dead.unsubscribe()
        await bus.close()


async def _equals(fn, value) -> bool:
    return await fn() == value


async def test_first_connection_to_an_absent_bus_fails_clearly():
    from socle.bus import BusUnavailable
    from socle_dev.localinfra import free_port

    bus = Bus(url=f"nats://127.0.0.1:{free_port()}", connect_timeout=0.5)
    with pytest.raises(BusUnavailable, match="cannot reach NATS"):
        await bus.connect()


async def test_an_unordered_consumer_handles_other_events_while_one_waits(nats_server, tenant):
    """The first event's handler waits until the second one is handled: handled one after
    the other, neither would ever be."""
    second_handled = asyncio.Event()
    handled: list[str] = []

    async def handler(event: CloudEvent) -> None:
        if event.type == "user.registered":
            await second_handled.wait()  # e.g. a producer slow to answer a lookup
        handled.append(event.type)
        if event.type == "payment.created":
            second_handled.set()

    bus = Bus(url=nats_server.url)
    await bus.connect()
    bus.start_consumer(
        ConsumerSpec(
            durable=f"unordered-{tenant}",
            subjects=[f"socle.{tenant}.>"],
            handler=handler,
            ordered=False,
        )
    )
    try:
        for kind in ("user.registered", "payment.created"):
            await bus.publish_event(
                CloudEvent.new(service="test", type=kind, tenant=tenant, data={})
            )

        async def both() -> bool:
            return len(handled) == 2

        await eventually(both, "both events handled")
        assert handled == ["payment.created", "user.registered"]
        await eventually(
            lambda: consumer_settled(bus.js, f"unordered-{tenant}"), "both acknowledged"
        )
    finally:
        await bus.close()


async def test_an_ordered_consumer_keeps_the_order_of_the_stream(nats_server, tenant):
    handled: list[int] = []

    async def handler(event: CloudEvent) -> None:
        handled.append(int(event.data["n"]))

    bus = Bus(url=nats_server.url)
    await bus.connect()
    bus.start_consumer(
        ConsumerSpec(durable=f"ordered-{tenant}", subjects=[f"socle.{tenant}.>"], handler=handler)
    )
    try:
        for n in range(40):
            await bus.publish_event(
                CloudEvent.new(service="test", type="thing.changed", tenant=tenant, data={"n": n})
            )

        async def all_of_them() -> bool:
            return len(handled) == 40

        await eventually(all_of_them, "every event handled")
        assert handled == list(range(40))
    finally:
        await bus.close()


NOBODY_ANSWERS_SECONDS = 3600.0
"""What a request would wait for an answer that never comes: the tests below end long before
(the safety net of the test run stops them otherwise)."""


async def test_a_request_nobody_listens_to_fails_at_once(nats_server, tenant):
    from socle.bus import BusUnavailable

    bus = Bus(url=nats_server.url)
    await bus.connect()
    try:
        with pytest.raises(BusUnavailable, match="NoResponders"):
            async with asyncio.timeout(60):  # the safety net, not a measure
                await bus.request(f"rpc.nobody.{tenant}", b"{}", wait=NOBODY_ANSWERS_SECONDS)
    finally:
        await bus.close()


async def test_a_request_whose_responder_fails_fails_at_once(nats_server, tenant):
    from socle.bus import BusUnavailable

    async def broken(_: bytes) -> bytes:
        raise RuntimeError("database unreachable")

    responder = Bus(url=nats_server.url, name="responder")
    responder.serve(f"rpc.broken.{tenant}", broken, queue="broken")
    await responder.connect()
    asker = Bus(url=nats_server.url, name="asker")
    await asker.connect()
    try:
        with pytest.raises(BusUnavailable, match="responder failed"):
            async with asyncio.timeout(60):  # the safety net, not a measure
                await asker.request(f"rpc.broken.{tenant}", b"{}", wait=NOBODY_ANSWERS_SECONDS)
    finally:
        await asker.close()
        await responder.close()
