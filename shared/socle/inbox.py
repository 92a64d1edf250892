"""Inbox: a consumer records the ids it processed, so a redelivered event has no second effect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.db import inbox_table, utcnow
from socle.events import CloudEvent

T = TypeVar("T")

# Built once, in the syntax PostgreSQL and SQLite share: the dialects' ``on_conflict_do_nothing``
# constructs cannot be cached, so SQLAlchemy would compile that statement again for every event.
_RECORD = text(
    "INSERT INTO inbox (consumer, event_id, processed_at) "
    "VALUES (:consumer, :event_id, :processed_at) ON CONFLICT DO NOTHING"
).bindparams(bindparam("processed_at", type_=inbox_table.c.processed_at.type))


async def first_delivery(session: AsyncSession, consumer: str, event_id: str) -> bool:
    """Record ``event_id`` for ``consumer``; False when it was already processed."""
    result = await session.execute(
        _RECORD, {"consumer": consumer, "event_id": event_id, "processed_at": utcnow()}
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def exactly_once(
    sessions: async_sessionmaker[AsyncSession],
    consumer: str,
    effect: Callable[[AsyncSession, CloudEvent], Awaitable[T]],
) -> Callable[[CloudEvent], Awaitable[T | None]]:
    """Wrap ``effect`` so it runs in one transaction with the inbox record, at most once;
    the handler returns what ``effect`` returned once committed (None for an event already
    processed)."""

    async def handle(event: CloudEvent) -> T | None:
        async with sessions() as session, session.begin():
            if await first_delivery(session, consumer, event.id):
                return await effect(session, event)
        return None

    return handle
