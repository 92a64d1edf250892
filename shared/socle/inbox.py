"""Inbox: a consumer records the ids it processed, so a redelivered event has no second effect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.db import inbox_table, utcnow
from socle.events import CloudEvent

EffectFn = Callable[[AsyncSession, CloudEvent], Awaitable[None]]

# built once per database kind; each event is its parameters
_RECORD: dict[str, Any] = {
    "postgresql": postgresql.insert(inbox_table).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(inbox_table).on_conflict_do_nothing(),
}


async def first_delivery(session: AsyncSession, consumer: str, event_id: str) -> bool:
    """Record ``event_id`` for ``consumer``; False when it was already processed."""
    dialect = session.get_bind().dialect.name
    result = await session.execute(
        _RECORD["postgresql" if dialect == "postgresql" else "sqlite"],
        {"consumer": consumer, "event_id": event_id, "processed_at": utcnow()},
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def exactly_once(
    sessions: async_sessionmaker[AsyncSession], consumer: str, effect: EffectFn
) -> Callable[[CloudEvent], Awaitable[None]]:
    """Wrap ``effect`` so it runs in one transaction with the inbox record, at most once."""

    async def handle(event: CloudEvent) -> None:
        async with sessions() as session, session.begin():
            if await first_delivery(session, consumer, event.id):
                await effect(session, event)

    return handle
