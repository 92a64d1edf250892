"""Nothing kept by accident: the shared tables that only serve a moment (published outbox
rows, the inbox's processed event ids, idempotency keys) are pruned once they are older
than their retention, in small batches, by a loop every service runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Table, delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.config import ServiceSettings
from socle.db import idempotency_table, inbox_table, outbox_table, utcnow
from socle.periodic import Periodic

log = structlog.get_logger("socle.pruning")

BACKLOG_LOOP = "retention"
"""The loop's name in ``background_backlog_items``: rows past their retention, not yet
pruned."""


@dataclass(frozen=True)
class Rule:
    """Rows of ``table`` whose ``column`` is older than ``keep_seconds`` go (0: kept)."""

    name: str
    table: Table
    column: str
    keep_seconds: int

    def due(self, now: datetime) -> ColumnElement[bool]:
        return self.table.c[self.column] < now - timedelta(seconds=self.keep_seconds)

    def key(self) -> Any:
        keys = list(self.table.primary_key.columns)
        return keys[0] if len(keys) == 1 else tuple_(*keys)


def rules_of(settings: ServiceSettings) -> list[Rule]:
    """The retention rules of a service's settings (a table kept forever has none)."""
    rules = [
        # only published rows: ``published_at`` is NULL while a row waits for the bus
        Rule("outbox", outbox_table, "published_at", settings.outbox_retention_seconds),
        Rule("inbox", inbox_table, "processed_at", settings.inbox_retention_seconds),
        Rule(
            "idempotency", idempotency_table, "created_at", settings.idempotency_retention_seconds
        ),
    ]
    return [rule for rule in rules if rule.keep_seconds > 0]


class Pruner:
    """Deletes what is past its retention, ``batch`` rows a transaction, until none is left;
    then sleeps ``interval`` seconds. Several replicas may run it: a row is deleted once."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        rules: list[Rule],
        *,
        interval: float = 3600.0,
        batch: int = 1000,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.rules = rules
        self.interval = interval
        self.batch = batch
        self.clock = clock
        # one pass a turn: prune_once itself goes on until nothing due is left
        self._loop = Periodic("retention", interval, self._pass, max_rounds=1)

    async def prune_once(self) -> dict[str, int]:
        """Prune every table until nothing due is left; rows deleted per table."""
        now = self.clock()
        pruned: dict[str, int] = {}
        for rule in self.rules:
            pruned[rule.name] = await prune(self.sessions, rule, batch=self.batch, now=now)
        if any(pruned.values()):
            log.info("retention_pruned", **pruned)
        return pruned

    async def backlog(self) -> int:
        """Rows past their retention (what the next pass will delete)."""
        now = self.clock()
        total = 0
        async with self.sessions() as session:
            for rule in self.rules:
                query = select(func.count()).select_from(rule.table).where(rule.due(now))
                total += int(await session.scalar(query) or 0)
        return total

    async def _pass(self) -> int:
        return sum((await self.prune_once()).values())

    def start(self) -> None:
        if self.rules:
            self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()


async def prune_batch(
    sessions: async_sessionmaker[AsyncSession], rule: Rule, now: datetime, batch: int
) -> int:
    """Delete at most ``batch`` rows past ``rule``'s retention, in one transaction."""
    due = select(*rule.table.primary_key.columns).where(rule.due(now)).limit(batch)
    async with sessions() as session, session.begin():
        result = await session.execute(delete(rule.table).where(rule.key().in_(due)))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def prune(
    sessions: async_sessionmaker[AsyncSession],
    rule: Rule,
    *,
    batch: int = 1000,
    now: datetime | None = None,
) -> int:
    """Delete every row past ``rule``'s retention, ``batch`` a transaction (for a service's
    own tables, from its retention pass); how many. A rule keeping rows forever does
    nothing."""
    if rule.keep_seconds <= 0:
        return 0
    now = now or utcnow()
    total = 0
    while True:
        deleted = await prune_batch(sessions, rule, now, batch)
        total += deleted
        if deleted < batch:
            return total


def pruner_for(settings: ServiceSettings, sessions: async_sessionmaker[AsyncSession]) -> Pruner:
    return Pruner(
        sessions,
        rules_of(settings),
        interval=settings.retention_interval_seconds,
        batch=settings.retention_batch,
    )
