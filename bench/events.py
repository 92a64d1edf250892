"""Events end to end: from a committed outbox row to a durable consumer's ack."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import nats
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from socle.bus import Bus, ConsumerSpec
from socle.db import create_engine, create_sessionmaker, infra_metadata
from socle.events import CloudEvent
from socle.outbox import OutboxRelay, record_event
from socle_dev.localinfra import NatsServer, free_port

Case = tuple[str, str, str, str, float, float]
WRITERS = 8
BURST = 2000  # events, as fast as 8 writers go: the rate
PACED_RATE = 1000.0  # events/s over all writers: the latencies
PACED_SECONDS = 3.0
ORDERED = os.environ.get("SOCLE_BENCH_ORDERED_CONSUMER") == "1"
"""Measure an ordered consumer (one event in flight) instead of one whose effects commute."""
CPU_MS: dict[str, float] = {}
"""The last run's CPU time of this process per event of the burst (ms), ``ours`` and ``peer``:
steadier than a rate on a loaded machine."""
P99_MS: dict[str, float] = {}
"""The last run's p99 latency at ``PACED_RATE`` (ms): the report checks it against the target."""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _drive(
    send: Callable[[int], Awaitable[None]], seen: dict[int, float], count: int, rate: float | None
) -> float:
    """``count`` events sent by 8 writers (paced to ``rate`` when given); seconds until the
    consumer acknowledged the last one."""
    start = time.perf_counter()

    async def writer(w: int) -> None:
        for n, i in enumerate(range(w, count, WRITERS)):
            if rate is not None:  # writer w sends its n-th event at (n * 8 + w) / rate
                delay = start + (n * WRITERS + w) / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            await send(i)

    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    async with asyncio.timeout(60):
        while len(seen) < count:
            await asyncio.sleep(0.005)
    return time.perf_counter() - start


def _latencies(sent: dict[int, float], seen: dict[int, float]) -> tuple[float, float]:
    ms = [1000 * (seen[i] - sent[i]) for i in seen]
    return percentile(ms, 0.5), percentile(ms, 0.99)


class _Phase:
    """When each event was sent (committed, or published for the peer) and acknowledged."""

    def __init__(self) -> None:
        self.sent: dict[int, float] = {}
        self.seen: dict[int, float] = {}
        self.cpu_ms = 0.0

    async def run(
        self, send: Callable[[_Phase, int], Awaitable[None]]
    ) -> tuple[float, float, float]:
        """Events/s of a burst; p50 and p99 (ms) at ``PACED_RATE``."""
        cpu = time.process_time()
        seconds = await _drive(lambda i: send(self, i), self.seen, BURST, None)
        self.cpu_ms = 1000 * (time.process_time() - cpu) / BURST
        rate = BURST / seconds
        self.sent, self.seen = {}, {}
        paced = int(PACED_RATE * PACED_SECONDS)
        await _drive(lambda i: send(self, i), self.seen, paced, PACED_RATE)
        p50, p99 = _latencies(self.sent, self.seen)
        return rate, p50, p99


async def _ours(
    folder: Path, url: str, tenants: Sequence[str] = ("outbox",)
) -> tuple[float, float, float]:
    """The events of ``tenants`` in turn (bench/growth.py spreads them over many)."""
    engine = create_engine(f"sqlite+aiosqlite:///{folder}/events.db")
    async with engine.begin() as conn:
        await conn.run_sync(infra_metadata.create_all)
    sessions = create_sessionmaker(engine)
    bus = Bus(url=url, name="bench-outbox")
    await bus.connect()
    relay = OutboxRelay(sessions, bus)
    phase = _Phase()
    ids: dict[str, int] = {}

    async def handler(event: CloudEvent) -> None:
        phase.seen[ids[event.id]] = time.perf_counter()

    async def send(current: _Phase, i: int) -> None:
        tenant = tenants[i % len(tenants)]
        event = CloudEvent.new(service="bench", type="bench.done", tenant=tenant, data={"i": i})
        ids[event.id] = i
        async with sessions() as session, session.begin():
            await record_event(session, event, aggregate=f"bench-{i % WRITERS}")
        current.sent[i] = time.perf_counter()
        relay.wake()  # as a service's sessions do after a commit that recorded an event

    relay.start()
    # Effects that commute (as notify's): events handled concurrently, as the peer's
    # consumer takes them in batches with no order kept either.
    bus.start_consumer(
        ConsumerSpec(
            durable="bench", subjects=["socle.*.bench.done"], handler=handler, ordered=ORDERED
        )
    )
    try:
        result = await phase.run(send)
        CPU_MS["ours"] = phase.cpu_ms
        return result
    finally:
        await relay.stop()
        await bus.close()
        await engine.dispose()


async def _peer(url: str) -> tuple[float, float, float]:
    """Bare nats-py: publish awaiting JetStream's ack, a durable pull consumer acking each."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="PEER", subjects=["peer.>"]))
    await js.add_consumer(
        "PEER", ConsumerConfig(durable_name="peer", ack_policy=AckPolicy.EXPLICIT)
    )
    sub = await js.pull_subscribe_bind("peer", "PEER")
    phase = _Phase()

    async def consume() -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                for msg in await sub.fetch(32, timeout=1.0):
                    phase.seen[int(msg.data)] = time.perf_counter()
                    await msg.ack()

    async def send(current: _Phase, i: int) -> None:
        start = time.perf_counter()
        await js.publish(f"peer.bench.{i % WRITERS}", str(i).encode())
        current.sent[i] = start

    consumer = asyncio.create_task(consume())
    try:
        result = await phase.run(send)
        CPU_MS["peer"] = phase.cpu_ms
        return result
    finally:
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        await nc.close()


async def events_end_to_end(folder: Path) -> Case:
    """Events from a committed outbox row to a durable consumer's ack, 8 concurrent writers
    (one SQLite transaction per event, the relay woken by each commit as in a service, a
    `socle.bus` durable consumer whose effects commute: `ordered=False`) against bare
    nats-py (8 writers each awaiting JetStream's publish ack, a durable pull consumer acking
    each message) on the same NATS server. The rate is a burst of 2,000 events; p50/p99 are
    measured separately with the writers paced to 1,000 events/s for 3 s (ours from the
    commit, the peer's from the publish call, each to the consumer's ack)."""
    server = NatsServer.create(folder / f"nats-{free_port()}", free_port())
    server.start()
    try:
        ours, p50, p99 = await _ours(folder, server.url)
        peer, peer_p50, peer_p99 = await _peer(server.url)
    finally:
        server.stop()
    P99_MS["events_end_to_end"] = p99
    return (
        "events, committed outbox row to a durable consumer's ack (8 writers)",
        f"outbox + relay + consumer (p50 {p50:.0f} ms, p99 {p99:.0f} ms at 1,000/s)",
        f"bare nats-py (p50 {peer_p50:.1f} ms, p99 {peer_p99:.1f} ms at 1,000/s)",
        "events/s",
        ours,
        peer,
    )


if __name__ == "__main__":  # this row alone: python -m bench.events
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        load = os.getloadavg()
        _, ours_label, peer_label, unit, ours_rate, peer_rate = asyncio.run(
            events_end_to_end(Path(tmp))
        )
        print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        print(f"ours {ours_rate:,.0f} {unit}: {ours_label}")
        print(f"peer {peer_rate:,.0f} {unit}: {peer_label}")
        print(f"ratio {ours_rate / peer_rate:.2f}")
        print(f"CPU per event: ours {CPU_MS['ours']:.2f} ms, peer {CPU_MS['peer']:.2f} ms")
