"""``socle.locks.exclusive``: one holder at a time across processes (each its own connection
pool here, as replicas have), released when the block ends, even by a cancellation; on
SQLite (one process) always held."""

from __future__ import annotations

import asyncio

from socle.db import create_engine
from socle.locks import exclusive


async def test_only_one_replica_holds_a_lock_at_a_time(new_database):
    url = new_database("locks")
    first, second = create_engine(url), create_engine(url)
    try:
        async with exclusive(first, "payment-expiry") as held:
            assert held
            async with exclusive(second, "payment-expiry") as also:
                assert not also  # the other replica skips this run
            async with exclusive(second, "storage-purge") as other:
                assert other  # another job's lock is free
        async with exclusive(second, "payment-expiry") as after:
            assert after  # released when the block ended

        # A replica stopped while it holds the lock (its task cancelled) releases it.
        holding = asyncio.Event()
        release = asyncio.Event()

        async def stopped_replica() -> None:
            async with exclusive(first, "procedures-anonymise") as held:
                assert held
                holding.set()
                await release.wait()

        task = asyncio.create_task(stopped_replica())
        await holding.wait()
        async with exclusive(second, "procedures-anonymise") as taken:
            assert not taken
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async with exclusive(second, "procedures-anonymise") as freed:
            assert freed
    finally:
        await first.dispose()
        await second.dispose()


async def test_on_sqlite_the_only_process_always_holds_it(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}")
    try:
        async with (
            exclusive(engine, "payment-expiry") as held,
            exclusive(engine, "payment-expiry") as again,
        ):
            assert held and again
    finally:
        await engine.dispose()
