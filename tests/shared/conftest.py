from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from socle.db import create_engine, create_sessionmaker, infra_metadata


@pytest.fixture(scope="session")
def library_database(new_database: Callable[[str], str]) -> str:
    return new_database("socle_lib")


@pytest.fixture
async def engine(library_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(library_database)
    async with engine.begin() as conn:
        await conn.run_sync(infra_metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)
