"""SQLite for the async engine without a thread per connection: each statement runs on the
event loop, and a process's writers queue on an asyncio lock instead of in SQLite's busy
handler.

aiosqlite, which SQLAlchemy's ``sqlite+aiosqlite`` dialect drives, runs every call (cursor,
execute, fetch, close, commit) on the connection's own thread: about ten thread hops for a
one-row write transaction, each a wake-up of a thread and of the event loop. A statement of
this platform's kind takes tens of microseconds inside SQLite (WAL, ``synchronous=NORMAL``),
far less than those hops. So the driver connection below offers aiosqlite's interface to
SQLAlchemy's adapter but runs each call inline.

The catch is SQLite's single writer: ``BEGIN IMMEDIATE`` run inline while another connection
of the same process holds the write lock would block the event loop, and with it the holder.
So a write transaction first takes an in-process asyncio lock per database file (FIFO, handed
over at once on commit or rollback, where SQLite's busy handler sleeps 1, 2, 5, 10… ms between
tries), and only then the SQLite lock, retried with asyncio sleeps while another process holds
it. Read-only transactions (``socle.db.read_only``) take neither: WAL readers never wait.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import weakref
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

LOCK_WAIT_SECONDS = 30.0
"""How long a write transaction waits for the write lock before failing as "database is
locked" (as SQLite's busy timeout did)."""
STATEMENT_BUSY_MS = 100
"""SQLite's own busy timeout for a statement run inline: it blocks the event loop, so short.
Only another process's checkpoint or recovery can make a statement wait at all in WAL."""

_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def write_lock(database: str) -> asyncio.Lock:
    """The lock of ``database`` for the running loop (tests run several loops in turn)."""
    loop = asyncio.get_running_loop()
    return _locks.setdefault(loop, {}).setdefault(database, asyncio.Lock())


class InlineCursor:
    """aiosqlite's cursor interface over a ``sqlite3.Cursor``, run inline."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _Inline:
    """Stands for aiosqlite's queue to its thread (SQLAlchemy sets the isolation level
    through it): runs the function at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:
            future.set_exception(exc)


class InlineConnection:
    """aiosqlite's connection interface over a ``sqlite3.Connection``, run inline."""

    def __init__(self, database: str, **kwargs: Any) -> None:
        kwargs.pop("timeout", None)
        kwargs["check_same_thread"] = False  # the pool may close it from the GC's thread
        self._conn = sqlite3.connect(database, timeout=STATEMENT_BUSY_MS / 1000, **kwargs)
        self._tx = _Inline()
        shared = database not in ("", ":memory:") and "mode=memory" not in database
        self._database = os.path.abspath(database) if shared else f":memory:{id(self)}"
        self._held: asyncio.Lock | None = None

    @property
    def isolation_level(self) -> str | None:
        level: str | None = self._conn.isolation_level
        return level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._conn.isolation_level = value

    @property
    def in_transaction(self) -> bool:
        return bool(self._conn.in_transaction)

    async def begin_write(self) -> None:
        """``BEGIN IMMEDIATE`` once this process's other writers are done; another process
        holding the lock is waited for with asyncio sleeps, up to ``LOCK_WAIT_SECONDS``."""
        lock = write_lock(self._database)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        if lock.locked():
            try:
                async with asyncio.timeout(LOCK_WAIT_SECONDS):
                    await lock.acquire()
            except TimeoutError:
                raise sqlite3.OperationalError("database is locked") from None
        else:
            await lock.acquire()
        self._held = lock
        try:
            await self._begin_immediate(deadline)
        except BaseException:  # a failure or a cancel: the next writer may go
            self._release()
            raise

    async def _begin_immediate(self, deadline: float) -> None:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
        # Another process holds SQLite's lock: try again without letting SQLite's busy
        # handler block the event loop, sleeping between tries.
        self._conn.execute("PRAGMA busy_timeout=0")
        try:
            delay = 0.001
            while True:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.05)
                try:
                    self._conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
        finally:
            self._conn.execute(f"PRAGMA busy_timeout={STATEMENT_BUSY_MS}")

    def _release(self) -> None:
        lock, self._held = self._held, None
        if lock is not None and lock.locked():
            lock.release()

    async def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        return await InlineCursor(self._conn.cursor()).execute(sql, parameters)

    async def commit(self) -> None:
        try:
            self._conn.commit()
        finally:
            if not self._conn.in_transaction:
                self._release()

    async def rollback(self) -> None:
        try:
            self._conn.rollback()
        finally:
            self._release()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        try:
            self._conn.close()
        finally:
            self._release()


def connector(database: str, **kwargs: Any) -> Callable[[], Coroutine[Any, Any, InlineConnection]]:
    """An ``async_creator`` for ``create_async_engine``: SQLAlchemy's aiosqlite dialect then
    drives :class:`InlineConnection` instead of aiosqlite's threads."""

    async def connect() -> InlineConnection:
        return InlineConnection(database, **kwargs)

    return connect
