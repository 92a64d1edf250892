"""Sessions (``socle.db.Session``): what a use case's transaction leaves behind when it ends
by a commit, an exception, or a session closed with its transaction still open; an event
recorded beside ORM objects commits or rolls back with them."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from socle.db import create_engine, create_sessionmaker, infra_metadata, outbox_table, read_only
from socle.events import CloudEvent
from socle.outbox import record_event


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(50), unique=True)


@pytest.fixture
async def sessions(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/sessions.db")
    async with engine.begin() as conn:
        await conn.run_sync(infra_metadata.create_all)
        await conn.run_sync(Base.metadata.create_all)
    yield create_sessionmaker(engine)
    await engine.dispose()


def _event(n: int) -> CloudEvent:
    return CloudEvent.new(service="notes", type="note.added", tenant="t", data={"n": n})


async def _counts(sessions) -> tuple[int, int]:
    async with sessions() as session, session.begin():
        await read_only(session)
        notes = await session.scalar(select(func.count()).select_from(Note))
        events = await session.scalar(select(func.count()).select_from(outbox_table))
    return int(notes or 0), int(events or 0)


async def _add(sessions, n: int, text: str) -> None:
    async with sessions() as session, session.begin():
        session.add(Note(text=text))
        await record_event(session, _event(n), aggregate=f"note:{n}")


async def test_an_object_and_its_event_commit_together(sessions):
    await _add(sessions, 1, "first")
    assert await _counts(sessions) == (1, 1)


async def test_an_object_that_cannot_be_written_takes_its_event_with_it(sessions):
    await _add(sessions, 1, "same")
    with pytest.raises(Exception, match="UNIQUE"):
        await _add(sessions, 2, "same")  # the note is refused: no event for it either
    assert await _counts(sessions) == (1, 1)
    await _add(sessions, 3, "other")  # and the next writer is not held up
    assert await _counts(sessions) == (2, 2)


async def test_a_transaction_ended_by_an_exception_leaves_nothing(sessions):
    with pytest.raises(RuntimeError):
        async with sessions() as session, session.begin():
            await record_event(session, _event(1), aggregate="note:1")
            raise RuntimeError("the use case failed")
    async with asyncio.timeout(10):
        await _add(sessions, 2, "after")
    assert await _counts(sessions) == (1, 1)


async def test_a_session_closed_with_its_transaction_open_rolls_it_back(sessions):
    async with sessions() as session:
        await session.begin()
        await record_event(session, _event(1), aggregate="note:1")
        # closed here without a commit
    async with asyncio.timeout(10):  # the write lock was given back
        await _add(sessions, 2, "after")
    assert await _counts(sessions) == (1, 1)


async def test_a_committed_session_can_begin_again(sessions):
    async with sessions() as session:
        async with session.begin():
            await record_event(session, _event(1), aggregate="note:1")
        async with session.begin():
            session.add(Note(text="second"))
    assert await _counts(sessions) == (1, 1)
