"""Database engines, sessions, and the tables every service carries (outbox, inbox, idempotency)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    AsyncSessionTransaction,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_only

from socle import sqlite_inline

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on PostgreSQL and SQLite alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


# Tables every service has, in its own database.
infra_metadata = MetaData(naming_convention=NAMING)

outbox_table = Table(
    "outbox",
    infra_metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("subject", String(255), nullable=False),
    Column("aggregate", String(128), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("published_at", UTCDateTime, nullable=True, index=True),
)

inbox_table = Table(
    "inbox",
    infra_metadata,
    Column("consumer", String(128), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("processed_at", UTCDateTime, nullable=False, default=utcnow),
)

idempotency_table = Table(
    "idempotency_keys",
    infra_metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("scope", String(255), nullable=False),
    Column("key", String(255), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("response", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),
)


READ_ONLY = "socle_read_only"
WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLAC"})


class ReadOnlyTransaction(RuntimeError):
    """A statement that writes was sent in a transaction opened with :func:`read_only`."""


async def read_only(session: AsyncSession) -> None:
    """Declare the session's transaction read-only; call it first thing inside
    ``session.begin()``, before any statement.

    On SQLite, transactions that may write start with ``BEGIN IMMEDIATE`` (the write lock, so
    that a read-then-write transaction never fails with "database is locked"); a read-only one
    starts with a plain ``BEGIN`` and runs beside the writer. A write in it raises
    :class:`ReadOnlyTransaction` (a bug, not a load problem). On PostgreSQL it changes nothing.
    """
    await session.connection(execution_options={READ_ONLY: True})


SelectT = TypeVar("SelectT", bound=Select[Any])


def for_update(query: SelectT, *, skip_locked: bool = False, of: Any = None) -> SelectT:
    """``query`` locking the rows it reads until the transaction ends, for a read-then-write.

    On PostgreSQL it is ``SELECT ... FOR UPDATE`` (``SKIP LOCKED`` with ``skip_locked``: rows
    another transaction holds are passed over, for queues shared by replicas; ``of``: lock only
    those tables of a join). On SQLite the clause is left out: a transaction that may write
    holds the database's one write lock from its ``BEGIN`` (see :func:`create_engine`), so
    writers are already serialised. Rows already loaded in the session are refreshed with what
    the locked read returns."""
    return query.with_for_update(skip_locked=skip_locked, of=of).execution_options(
        populate_existing=True
    )


def serialises_writers(session: AsyncSession) -> bool:
    """Whether the session's database lets one writing transaction at a time (SQLite's write
    lock) rather than locking rows (PostgreSQL): a transaction held open while waiting on
    something else would then hold up every other writer."""
    return session.get_bind().dialect.name == "sqlite"


def upsert_insert(session: AsyncSession, table: Any) -> Any:
    """``INSERT`` with ``ON CONFLICT`` clauses for the session's database (PostgreSQL or
    SQLite): ``upsert_insert(session, t).values(...).on_conflict_do_nothing()``."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


OUTAGE_SQLSTATES = ("08", "57P", "53300")
"""PostgreSQL's connection exceptions, a server shutting down or starting up, too many
connections: the database is unavailable, the request may be retried."""


def create_engine(
    url: str,
    *,
    pool_size: int | None = None,
    max_overflow: int | None = None,
    pool_timeout: float | None = None,
    **kwargs: Any,
) -> AsyncEngine:
    """An async engine for PostgreSQL (asyncpg) or SQLite (aiosqlite); the pool bounds are
    SQLAlchemy's defaults unless given. Its errors never quote a statement's parameters
    (they hold personal data and end up in logs)."""
    kwargs.setdefault("hide_parameters", True)
    in_memory = is_sqlite(url) and make_url(url).database in (None, "", ":memory:")
    for key, value in (
        ("pool_size", pool_size),
        ("max_overflow", max_overflow),
        ("pool_timeout", pool_timeout),
    ):
        if value is not None and not in_memory:  # one shared connection: no pool to size
            kwargs[key] = value
    if is_sqlite(url):
        db_path = make_url(url).database
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        inline = not make_url(url).query
        if inline:  # statements on the event loop, writers queued in-process
            kwargs["async_creator"] = sqlite_inline.connector(db_path or ":memory:")
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let the "begin" hook below open transactions
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across process crashes
            cur.execute("PRAGMA foreign_keys=ON")
            busy_ms = sqlite_inline.STATEMENT_BUSY_MS if inline else 30000
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # A transaction that may write takes the write lock at BEGIN, so concurrent
            # writers queue instead of failing; a read-only one takes no lock (WAL readers
            # see a snapshot and never wait for writers).
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")
            elif inline:
                await_only(conn.connection.driver_connection.begin_write())
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _sqlite_no_write(
            conn: Any, _cursor: Any, statement: str, *_args: Any, **_kw: Any
        ) -> None:
            if conn.get_execution_options().get(READ_ONLY) and statement.lstrip()[:6].upper() in (
                WRITES
            ):
                raise ReadOnlyTransaction(f"write in a read-only transaction: {statement[:60]}")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        # A server that is down may fail the connection with any OSError (a unix socket
        # that is gone is FileNotFoundError): make it a ConnectionError, known as an outage.
        # So is a server shutting down or starting up (SQLSTATE 57P0x), raised at connect.
        try:
            return dialect.connect(*cargs, **cparams)
        except ConnectionError:
            raise
        except Exception as exc:
            state = getattr(exc, "sqlstate", None)
            if isinstance(exc, OSError) or (
                isinstance(state, str) and state.startswith(OUTAGE_SQLSTATES)
            ):
                raise ConnectionError(f"database unreachable: {exc.__class__.__name__}") from exc
            raise

    return engine


class _Transaction(AsyncSessionTransaction):
    __slots__ = ()

    async def start(self, is_ctxmanager: bool = False) -> AsyncSessionTransaction:
        if self.nested:
            return await super().start(is_ctxmanager)
        # Session.begin() does no IO (the connection is taken by the first statement):
        # no greenlet needed.
        self.sync_transaction = self._assign_proxied(self.session.sync_session.begin())
        if is_ctxmanager:
            self.sync_transaction.__enter__()
        return self


class Session(AsyncSession):
    """SQLAlchemy's ``AsyncSession`` without the greenlet and the task it spends where there
    is no IO to wait for: beginning a transaction (the connection is taken by the first
    statement), and closing a session with no transaction left (once committed or rolled
    back). Closing one with a transaction still open rolls it back as before, in a task of
    its own that a cancel does not abandon."""

    def begin(self) -> AsyncSessionTransaction:
        return _Transaction(self)

    async def close(self) -> None:
        if self.sync_session.in_transaction():
            await super().close()
        else:
            self.sync_session.close()

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        if self.sync_session.in_transaction():
            await super().__aexit__(type_, value, traceback)
        else:
            self.sync_session.close()


def create_sessionmaker(
    engine: AsyncEngine, sync_session_class: type[OrmSession] = OrmSession
) -> async_sessionmaker[AsyncSession]:
    """Sessions of ``engine`` (:class:`Session`); objects stay readable after commit."""
    return async_sessionmaker(
        engine,
        class_=Session,
        expire_on_commit=False,
        sync_session_class=sync_session_class,
    )


P = ParamSpec("P")
R = TypeVar("R")
Sessions = async_sessionmaker[AsyncSession]


def in_transaction(
    step: Callable[Concatenate[AsyncSession, P], Awaitable[R]],
) -> Callable[Concatenate[Sessions, P], Awaitable[R]]:
    """The use case of a domain step written against a session: it opens a session and its
    transaction, runs the step, commits (or rolls back on an exception)."""

    @functools.wraps(step)
    async def use_case(sessions: Sessions, /, *args: P.args, **kwargs: P.kwargs) -> R:
        async with sessions() as session, session.begin():
            return await step(session, *args, **kwargs)

    return use_case
