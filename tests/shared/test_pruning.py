"""Published outbox rows, inbox records and idempotency keys are pruned once past their
retention; what is recent, or still waiting for the bus, stays."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select

from socle.config import ServiceSettings
from socle.db import idempotency_table, inbox_table, outbox_table, utcnow
from socle.pruning import Pruner, rules_of

DAY = timedelta(days=1)


def pruner(sessions, now: datetime, **settings: int) -> Pruner:
    """A pruner whose clock reads ``now``, with small batches so several are needed."""
    return Pruner(sessions, rules_of(ServiceSettings(**settings)), batch=2, clock=lambda: now)


async def outbox_row(sessions, *, created: datetime, published: datetime | None) -> str:
    event_id = uuid.uuid4().hex
    async with sessions() as session, session.begin():
        await session.execute(
            insert(outbox_table).values(
                event_id=event_id,
                subject="socle.t.user.deleted",
                aggregate="user:1",
                payload=b"{}",
                headers={},
                created_at=created,
                published_at=published,
            )
        )
    return event_id


async def outbox_ids(sessions, ids: list[str]) -> set[str]:
    async with sessions() as session:
        query = select(outbox_table.c.event_id).where(outbox_table.c.event_id.in_(ids))
        return set((await session.execute(query)).scalars())


async def test_published_outbox_rows_go_after_their_retention(sessions):
    now = utcnow()
    old = [await outbox_row(sessions, created=now - 9 * DAY, published=now - 8 * DAY)]
    old += [await outbox_row(sessions, created=now - 9 * DAY, published=now - 8 * DAY)]
    old += [await outbox_row(sessions, created=now - 9 * DAY, published=now - 8 * DAY)]
    recent = await outbox_row(sessions, created=now - 2 * DAY, published=now - 2 * DAY)
    waiting = await outbox_row(sessions, created=now - 30 * DAY, published=None)

    pruned = await pruner(sessions, now).prune_once()

    assert pruned["outbox"] >= 3  # three batches of two at most: it goes on until none is due
    assert await outbox_ids(sessions, [*old, recent, waiting]) == {recent, waiting}


async def test_the_outbox_retention_is_a_setting(sessions):
    now = utcnow()
    row = await outbox_row(sessions, created=now - 2 * DAY, published=now - 2 * DAY)
    await pruner(sessions, now, outbox_retention_seconds=3600).prune_once()
    assert await outbox_ids(sessions, [row]) == set()


async def inbox_row(sessions, consumer: str, processed: datetime) -> str:
    event_id = uuid.uuid4().hex
    async with sessions() as session, session.begin():
        await session.execute(
            insert(inbox_table).values(consumer=consumer, event_id=event_id, processed_at=processed)
        )
    return event_id


async def test_inbox_records_go_after_their_retention(sessions, tenant):
    now = utcnow()
    old = [await inbox_row(sessions, tenant, now - 31 * DAY) for _ in range(3)]
    recent = await inbox_row(sessions, tenant, now - 20 * DAY)

    await pruner(sessions, now).prune_once()

    async with sessions() as session:
        query = select(inbox_table.c.event_id).where(inbox_table.c.consumer == tenant)
        left = set((await session.execute(query)).scalars())
    assert left == {recent}
    assert not set(old) & left


async def idempotency_row(sessions, scope: str, created: datetime) -> str:
    key = uuid.uuid4().hex
    async with sessions() as session, session.begin():
        await session.execute(
            insert(idempotency_table).values(
                scope=scope,
                key=key,
                fingerprint="f" * 64,
                status_code=201,
                response="{}",
                created_at=created,
            )
        )
    return key


async def test_idempotency_keys_go_after_their_retention(sessions, tenant):
    now = utcnow()
    old = await idempotency_row(sessions, tenant, now - 25 * timedelta(hours=1))
    recent = await idempotency_row(sessions, tenant, now - 23 * timedelta(hours=1))

    await pruner(sessions, now).prune_once()

    async with sessions() as session:
        query = select(idempotency_table.c.key).where(idempotency_table.c.scope == tenant)
        assert set((await session.execute(query)).scalars()) == {recent}
    assert old != recent


async def test_the_backlog_counts_what_is_due(sessions, tenant):
    now = utcnow()
    await idempotency_row(sessions, tenant, now - 2 * DAY)
    pruning = pruner(sessions, now)
    assert await pruning.backlog() >= 1
    await pruning.prune_once()
    assert await pruning.backlog() == 0


def test_a_table_kept_forever_has_no_rule():
    names = {rule.name for rule in rules_of(ServiceSettings(idempotency_retention_seconds=0))}
    assert names == {"outbox", "inbox"}


def test_an_inbox_shorter_than_the_stream_is_refused():
    with pytest.raises(ValueError, match="inbox_retention_seconds"):
        ServiceSettings(stream_max_age_seconds=10 * 86400, inbox_retention_seconds=86400)
