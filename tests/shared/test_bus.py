"""Durable consumers: one effect per event through the inbox, dead letter after N failures,
one trace across the bus."""

from __future__ import annotations

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


async def test_trace_continues_from_publisher_to_consumer(nats_server, tenant):
    configure_tracing("test")
    seen: list[int] = []

    async def handler(event: CloudEvent) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)

    bus = Bus(url=nats_server.url)
    await bus.connect()
    bus.start_consumer(
        ConsumerSpec(durable=f"traced-{tenant}", subjects=[f"socle.{tenant}.>"], handler=handler)
    )
    try:
        with tracer.start_as_current_span("citizen click") as span:
            event = CloudEvent.new(
                service="payment", type="payment.created", tenant=tenant, data={}
            )
            await bus.publish(event.nats_subject, event.to_bytes(), event.id, inject_headers())
            trace_id = span.get_span_context().trace_id

        async def arrived() -> bool:
            return bool(seen)

        await eventually(arrived, "the event")
        assert seen == [trace_id]
    finally:
        await bus.close()


async def _equals(fn, value) -> bool:
    return await fn() == value


async def test_first_connection_to_an_absent_bus_fails_clearly():
    from socle.bus import BusUnavailable
    from socle_dev.localinfra import free_port

    bus = Bus(url=f"nats://127.0.0.1:{free_port()}", connect_timeout=0.5)
    with pytest.raises(BusUnavailable, match="cannot reach NATS"):
        await bus.connect()
