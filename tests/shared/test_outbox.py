"""The outbox relay survives the bus going down: nothing lost, nothing doubled, order kept."""

from __future__ import annotations

from sqlalchemy import func, select, update
from structlog.testing import capture_logs

from socle.bus import Bus
from socle.db import outbox_table
from socle.events import CloudEvent
from socle.outbox import OutboxRelay, record_event
from socle_dev.testing import eventually


async def stream_events(bus: Bus, tenant: str) -> list[CloudEvent]:
    """Every event of ``tenant`` in the stream, in stream order."""
    sub = await bus.js.subscribe(f"socle.{tenant}.>", ordered_consumer=True)
    events = []
    try:
        while True:
            msg = await sub.next_msg(timeout=1.0)
            events.append(CloudEvent.from_bytes(msg.data))
    except TimeoutError:
        pass
    finally:
        await sub.unsubscribe()
    return events


async def test_events_recorded_while_bus_is_down_are_published_once_in_order(
    private_nats, sessions, tenant
):
    bus = Bus(url=private_nats.url)
    await bus.connect()
    with capture_logs() as logs:  # the relay logs with the capture on
        relay = OutboxRelay(sessions, bus, poll_seconds=0.2)
        relay.start()
        try:
            private_nats.stop()
            # Two aggregates changing state while the bus is away.
            for step in range(10):
                for aggregate in ("a", "b"):
                    async with sessions() as session, session.begin():
                        await record_event(
                            session,
                            CloudEvent.new(
                                service="payment",
                                type="payment.updated",
                                tenant=tenant,
                                data={"aggregate": aggregate, "step": step},
                            ),
                            aggregate=aggregate,
                        )

            async def relay_failed() -> bool:  # the relay tries, fails and keeps the rows
                return any(entry["event"] == "outbox_publish_deferred" for entry in logs)

            await eventually(relay_failed, "the relay to defer publishing")

            async def pending() -> int:
                async with sessions() as session:
                    return int(
                        await session.scalar(
                            select(func.count())
                            .select_from(outbox_table)
                            .where(outbox_table.c.published_at.is_(None))
                        )
                        or 0
                    )

            assert await pending() >= 20
            private_nats.start()  # same store, same port: the client reconnects

            async def all_published() -> bool:
                return await pending() == 0

            await eventually(all_published, "every row published", within=20)

            events = await stream_events(bus, tenant)
            assert len(events) == 20
            assert len({e.id for e in events}) == 20
            for aggregate in ("a", "b"):
                steps = [e.data["step"] for e in events if e.data["aggregate"] == aggregate]
                assert steps == list(range(10))

            # A relay that dies after publishing but before marking sends the rows again:
            # JetStream drops them as duplicates of the same Nats-Msg-Id.
            async with sessions() as session, session.begin():
                await session.execute(
                    update(outbox_table)
                    .where(outbox_table.c.subject.like(f"socle.{tenant}.%"))
                    .values(published_at=None)
                )
            await relay.relay_once()
            assert len(await stream_events(bus, tenant)) == 20
        finally:
            await relay.stop()
            await bus.close()
