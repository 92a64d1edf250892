"""Transactional outbox: events stored with the change, published by a relay that outlives
the bus."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.aio import stop_task
from socle.bus import Bus, BusUnavailable
from socle.db import outbox_table, utcnow
from socle.events import CloudEvent
from socle.tracing import inject_headers

log = structlog.get_logger("socle.outbox")

PENDING_FLAG = "socle_outbox_pending"


async def record_event(session: AsyncSession, event: CloudEvent, aggregate: str) -> None:
    """Store ``event`` in the outbox inside the caller's transaction.

    ``aggregate`` (for example ``payment:<id>``) names what the event is about; events of one
    aggregate are published in the order they were recorded.
    """
    await session.execute(
        insert(outbox_table).values(
            event_id=event.id,
            subject=event.nats_subject,
            aggregate=aggregate,
            payload=event.to_bytes(),
            headers=inject_headers(),
            created_at=utcnow(),
        )
    )
    session.info[PENDING_FLAG] = True


class OutboxRelay:
    """Publishes outbox rows in insertion order; stops at the first failure and retries later.

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
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def relay_once(self) -> int:
        """Publish what is pending; return how many rows were published."""
        async with self.sessions() as session, session.begin():
            query = (
                select(
                    outbox_table.c.id,
                    outbox_table.c.event_id,
                    outbox_table.c.subject,
                    outbox_table.c.payload,
                    outbox_table.c.headers,
                )
                .where(outbox_table.c.published_at.is_(None))
                .order_by(outbox_table.c.id)
                .limit(self.batch)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update()
            rows = (await session.execute(query)).all()
            published: list[int] = []
            for row in rows:
                try:
                    await self.bus.publish(
                        row.subject, row.payload, row.event_id, dict(row.headers or {})
                    )
                except BusUnavailable as exc:
                    log.warning(
                        "outbox_publish_deferred",
                        pending=len(rows) - len(published),
                        error=str(exc),
                    )
                    break
                published.append(row.id)
            if published:
                await session.execute(
                    update(outbox_table)
                    .where(outbox_table.c.id.in_(published))
                    .values(published_at=utcnow())
                )
            return len(published)

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                sent = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox_relay_failed", error=repr(exc))
                sent = 0
            if sent == self.batch:
                continue
            # asyncio.timeout, not wait_for: wait_for may swallow a cancel arriving as it wakes.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)
