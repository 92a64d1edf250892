"""Outcomes recorded many to a transaction: each caller still gets its own result, and one
outcome that cannot be recorded never undoes the others recorded with it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.db import create_engine, create_sessionmaker
from socle_notify.settling import Settler


async def test_a_faulty_outcome_does_not_undo_the_others(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/settle.db")
    sessions = create_sessionmaker(engine)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE outcome (n INTEGER PRIMARY KEY)"))
    together: list[int] = []

    async def record(session: AsyncSession, n: int) -> str:
        together.append(n)
        if n == 3:
            raise ValueError("this one cannot be recorded")
        await session.execute(text("INSERT INTO outcome (n) VALUES (:n)"), {"n": n})
        return f"recorded {n}"

    settler: Settler[int, str] = Settler(sessions, record)
    try:
        answers = await asyncio.gather(*(settler(n) for n in range(1, 7)), return_exceptions=True)
        assert answers[:2] + answers[3:] == [f"recorded {n}" for n in (1, 2, 4, 5, 6)]
        assert isinstance(answers[2], ValueError)
        async with sessions() as session:
            kept = list((await session.execute(text("SELECT n FROM outcome ORDER BY n"))).scalars())
        assert kept == [1, 2, 4, 5, 6]
        assert len(together) > 6  # several went in one transaction, then each alone again
    finally:
        await settler.stop()
        await engine.dispose()


async def test_outcomes_are_recorded_together(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/settle.db")
    sessions = create_sessionmaker(engine)
    opened = 0

    def counted() -> AsyncSession:
        nonlocal opened
        opened += 1
        return sessions()

    async def record(session: AsyncSession, n: int) -> int:
        return n * 2

    settler: Settler[int, int] = Settler(cast(async_sessionmaker[AsyncSession], counted), record)
    try:
        assert await asyncio.gather(*(settler(n) for n in range(20))) == [n * 2 for n in range(20)]
        assert opened < 20
    finally:
        await settler.stop()
        await engine.dispose()


async def test_a_lone_outcome_fails_as_itself(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/settle.db")

    async def record(session: AsyncSession, item: int) -> int:
        raise LookupError(item)

    settler: Settler[int, int] = Settler(create_sessionmaker(engine), record)
    try:
        with pytest.raises(LookupError):
            await settler(1)
    finally:
        await settler.stop()
        await engine.dispose()
