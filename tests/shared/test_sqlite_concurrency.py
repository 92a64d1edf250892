"""SQLite under concurrent load: readers run beside the writer, read-then-write transactions
queue instead of failing with "database is locked", the relay publishes while writers write,
a write slipped into a read-only transaction is refused, and a writer waiting for another
process neither holds up readers nor, once cancelled, the writers after it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
from sqlalchemy import func, select, text

from socle import sqlite_inline
from socle.bus import Bus
from socle.db import (
    ReadOnlyTransaction,
    create_engine,
    create_sessionmaker,
    infra_metadata,
    outbox_table,
    read_only,
)
from socle.events import CloudEvent
from socle.outbox import OutboxRelay, record_event
from socle_dev.localinfra import NatsServer, free_port
from socle_dev.testing import eventually


@pytest.fixture
async def sqlite_sessions(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/load.db", pool_size=8, max_overflow=8)
    async with engine.begin() as conn:
        await conn.run_sync(infra_metadata.create_all)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def test_readers_and_read_then_write_transactions_all_succeed(sqlite_sessions, tmp_path):
    nats = NatsServer.create(tmp_path / "nats", free_port())
    nats.start()
    bus = Bus(url=nats.url)
    await bus.connect()
    relay = OutboxRelay(sqlite_sessions, bus, poll_seconds=0.05)
    relay.start()
    writes_per_worker, workers = 25, 12

    async def writer(worker: int) -> None:
        for i in range(writes_per_worker):
            async with sqlite_sessions() as session, session.begin():
                # read first, then write: the case that fails with "database is locked"
                # when a deferred transaction is upgraded while another writer commits
                await session.scalar(select(func.count()).select_from(outbox_table))
                event = CloudEvent.new(
                    service="load", type="load.done", tenant="load", data={"w": worker, "i": i}
                )
                await record_event(session, event, aggregate=f"load:{worker}")
            relay.wake()

    async def reader() -> int:
        seen = 0
        for _ in range(writes_per_worker):
            async with sqlite_sessions() as session, session.begin():
                await read_only(session)
                seen = await session.scalar(select(func.count()).select_from(outbox_table)) or 0
        return seen

    try:
        await asyncio.gather(
            *(writer(w) for w in range(workers)), *(reader() for _ in range(workers))
        )
        total = writes_per_worker * workers

        async def unpublished() -> int:
            async with sqlite_sessions() as session, session.begin():
                await read_only(session)
                return (
                    await session.scalar(
                        select(func.count())
                        .select_from(outbox_table)
                        .where(outbox_table.c.published_at.is_(None))
                    )
                    or 0
                )

        async def drained() -> bool:
            relay.wake()
            return await unpublished() == 0

        await eventually(drained, "the relay to publish every event", within=30)
        info = await bus.js.stream_info("SOCLE")
        assert info.state.messages >= total
    finally:
        await relay.stop()
        await bus.close()
        nats.stop()


async def test_a_write_in_a_read_only_transaction_is_refused(sqlite_sessions):
    with pytest.raises(ReadOnlyTransaction):
        async with sqlite_sessions() as session, session.begin():
            await read_only(session)
            await session.execute(text("DELETE FROM outbox"))


class _OtherProcessWriter:
    """Another process's write transaction on the same file (a plain sqlite3 connection in
    a thread), held until released."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.holding = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        self.holding.set()
        self.release.wait(30)
        conn.execute("COMMIT")
        conn.close()

    def __enter__(self) -> _OtherProcessWriter:
        self.thread.start()
        self.holding.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join()


async def _write_one(sessions, n: int) -> None:
    event = CloudEvent.new(service="load", type="load.done", tenant="load", data={"n": n})
    async with sessions() as session, session.begin():
        await record_event(session, event, aggregate=f"load:{n}")


async def test_a_writer_waiting_for_another_process_leaves_readers_served(
    sqlite_sessions, tmp_path
):
    with _OtherProcessWriter(f"{tmp_path}/load.db") as other:
        writer = asyncio.create_task(_write_one(sqlite_sessions, 1))
        await asyncio.sleep(0)
        async with sqlite_sessions() as session, session.begin():
            await read_only(session)  # served while the writer waits
            assert await session.scalar(select(func.count()).select_from(outbox_table)) == 0
        assert not writer.done()
        other.release.set()
        async with asyncio.timeout(20):
            await writer
    async with sqlite_sessions() as session, session.begin():
        await read_only(session)
        assert await session.scalar(select(func.count()).select_from(outbox_table)) == 1


async def test_a_writer_cancelled_while_waiting_does_not_block_the_next(sqlite_sessions, tmp_path):
    with _OtherProcessWriter(f"{tmp_path}/load.db") as other:
        waiting = asyncio.create_task(_write_one(sqlite_sessions, 1))  # behind the other process
        queued = asyncio.create_task(_write_one(sqlite_sessions, 2))  # behind the first
        lock = sqlite_inline.write_lock(f"{tmp_path}/load.db")

        async def first_in_line() -> bool:  # it holds this process's turn, SQLite's is taken
            return lock.locked() and not waiting.done()

        await eventually(first_in_line, "the first writer waiting for the other process")
        waiting.cancel()
        queued.cancel()
        await asyncio.gather(waiting, queued, return_exceptions=True)
        other.release.set()
    async with asyncio.timeout(20):
        await _write_one(sqlite_sessions, 3)
    async with sqlite_sessions() as session, session.begin():
        await read_only(session)
        assert await session.scalar(select(func.count()).select_from(outbox_table)) == 1
