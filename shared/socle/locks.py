"""One replica at a time: a PostgreSQL advisory lock around one iteration of a periodic job.

::

    async with exclusive(engine, "payment-expiry") as held:
        if held:
            await expire_stale()

``held`` is False when another process holds the lock (it is doing this iteration now): the
caller skips it and tries again at its next period. The lock is a session-level advisory
lock on a connection of its own, released when the block ends, and by PostgreSQL itself when
that connection dies with its process, so a crashed replica never leaves it behind. On
SQLite (one process, the embedded default) there is nothing to share: ``held`` is True.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from socle.periodic import Pass

log = structlog.get_logger("socle.locks")


def lock_key(name: str) -> int:
    """The signed 64-bit advisory-lock key of ``name`` (stable across processes)."""
    return int.from_bytes(hashlib.sha256(b"socle-lock|" + name.encode()).digest()[:8], "big") - (
        1 << 63
    )


def engine_of(target: AsyncEngine | async_sessionmaker[AsyncSession]) -> AsyncEngine:
    if isinstance(target, AsyncEngine):
        return target
    bind = target.kw.get("bind")
    if not isinstance(bind, AsyncEngine):
        raise TypeError("the session maker is not bound to an engine")
    return bind


@asynccontextmanager
async def exclusive(
    target: AsyncEngine | async_sessionmaker[AsyncSession], name: str
) -> AsyncIterator[bool]:
    """Whether this process got the lock ``name`` (held until the block ends)."""
    engine = engine_of(target)
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = lock_key(name)
    async with engine.connect() as connection:
        held = bool(
            (
                await connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
            ).scalar_one()
        )
        await connection.commit()  # the lock is the session's, not the transaction's
        if not held:
            log.debug("lock_held_elsewhere", lock=name)
        try:
            yield held
        finally:
            if held:
                try:
                    await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    await connection.commit()
                except Exception:
                    # never hand a connection that may still hold the lock back to the pool
                    await connection.invalidate()
                    raise


def exclusive_pass(
    target: AsyncEngine | async_sessionmaker[AsyncSession], name: str, work: Pass
) -> Pass:
    """``work`` run only while this replica holds the lock ``name`` (a replica that does not
    get it reports nothing done: another replica is at it)."""

    async def one_pass() -> int:
        async with exclusive(target, name) as held:
            return await work() if held else 0

    return one_pass
