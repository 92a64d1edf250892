"""Transactional outbox: events stored with the change, published by a relay that outlives
the bus."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from socle.bus import Bus, BusUnavailable
from socle.db import for_update, outbox_table, read_only, serialises_writers, utcnow
from socle.events import Event
from socle.periodic import Periodic
from socle.tracing import inject_headers

log = structlog.get_logger("socle.outbox")

PENDING_FLAG = "socle_outbox_pending"
_INSERT = insert(outbox_table)  # built once; each event is its parameters
_PENDING = (
    select(
        outbox_table.c.id,
        outbox_table.c.event_id,
        outbox_table.c.subject,
        outbox_table.c.aggregate,
        outbox_table.c.payload,
        outbox_table.c.headers,
    )
    .where(outbox_table.c.published_at.is_(None))
    .order_by(outbox_table.c.id)
)
_MARK = (
    update(outbox_table)
    .where(outbox_table.c.id.in_(bindparam("ids", expanding=True)))
    .values(published_at=bindparam("at"))
)


async def record_event(session: AsyncSession, event: Event[Any], aggregate: str) -> None:
    """Store ``event`` in the outbox inside the caller's transaction.

    ``aggregate`` (for example ``payment:<id>``) names what the event is about; events of one
    aggregate are published in the order they were recorded.
    """
    headers = inject_headers()
    # The CloudEvents distributed-tracing extension: the trace travels with the event itself
    # (a tool that copies an event keeps it), as well as in the NATS headers.
    for name in ("traceparent", "tracestate"):
        if name in headers and getattr(event, name, None) is None:
            setattr(event, name, headers[name])
    row = {
        "event_id": event.id,
        "subject": event.nats_subject,
        "aggregate": aggregate,
        "payload": event.to_bytes(),
        "headers": headers,
        "created_at": utcnow(),
    }
    await session.run_sync(_insert, row)
    session.info[PENDING_FLAG] = True


def _insert(session: Session, row: dict[str, Any]) -> None:
    """The outbox row, on the session's connection: a Core statement with no ORM object
    needs none of the ORM's execution (a third of a one-event transaction's CPU). Objects
    added before are flushed first, as ``session.execute`` would."""
    session.flush()
    session.connection().execute(_INSERT, row)


class OutboxRelay:
    """Publishes outbox rows in insertion order within each aggregate; an aggregate stops at
    its first failure and is retried later.

    A row is marked published only after JetStream acknowledged it; if the process dies
    between the two, the row is sent again with the same ``Nats-Msg-Id`` and JetStream drops
    the duplicate (the inbox on the consumer side covers anything beyond the window).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
        poll_seconds: float = 1.0,
        batch: int = 200,
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.poll_seconds = poll_seconds
        self.batch = batch
        self._select = _PENDING.limit(batch)  # built once; each turn runs it as it is
        self._loop = Periodic("outbox-relay", poll_seconds, self.relay_once, full_batch=batch)

    def wake(self) -> None:
        """Publish now (a transaction with events committed) rather than at the next poll."""
        self._loop.wake()

    async def relay_once(self) -> int:
        """Publish what is pending; return how many rows were published.

        On SQLite the rows are read in a read-only transaction, published with no
        transaction open (many in flight: one chain per aggregate, so an aggregate's events
        keep their order), then marked published in one short write transaction: the write
        lock is never held while waiting for the bus. On PostgreSQL the rows stay locked
        (``FOR UPDATE SKIP LOCKED``) until marked, so relays of several replicas share the
        work without sending a row twice; other writers are not held up by those row locks.
        """
        async with self.sessions() as session:
            if not serialises_writers(session):
                async with session.begin():
                    rows = (await session.execute(for_update(self._select, skip_locked=True))).all()
                    published = await self._publish(rows)
                    await self._mark(session, published)
                return len(published)
            async with session.begin():
                await read_only(session)
                rows = (await session.execute(self._select)).all()
            published = await self._publish(rows)
            if published:
                async with session.begin():
                    await self._mark(session, published)
            return len(published)

    async def _publish(self, rows: Sequence[Row[Any]]) -> list[int]:
        """Publish ``rows``; the ids acknowledged by JetStream. An aggregate's chain stops at
        its first failure, so nothing of it is published out of order."""
        chains: dict[str, list[Row[Any]]] = {}
        for row in rows:
            chains.setdefault(row.aggregate, []).append(row)
        published: list[int] = []
        failures: list[str] = []

        async def chain(items: list[Row[Any]]) -> None:
            for row in items:
                try:
                    await self.bus.publish(row.subject, row.payload, row.event_id, row.headers)
                except BusUnavailable as exc:
                    failures.append(str(exc))
                    return
                published.append(row.id)

        await asyncio.gather(*(chain(items) for items in chains.values()))
        if failures:
            log.warning(
                "outbox_publish_deferred", pending=len(rows) - len(published), error=failures[0]
            )
        return published

    @staticmethod
    async def _mark(session: AsyncSession, published: list[int]) -> None:
        if published:
            await session.execute(_MARK, {"ids": published, "at": utcnow()})

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
