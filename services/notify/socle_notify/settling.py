"""Outcomes of sends recorded together: one transaction for every outcome waiting, rather than
one per send.

The first outcome is recorded at once; those that come while its transaction runs wait for it
and are recorded together in the next one. Each caller gets its own result, as if it had
recorded alone: when a transaction of several fails for another reason than the database
being away, each of its outcomes is recorded again on its own, so that one faulty item never
undoes (and sends again) the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.aio import stop_task
from socle.problems import is_database_outage

Item = TypeVar("Item")
Result = TypeVar("Result")


class Settler(Generic[Item, Result]):
    """Runs ``settle(session, item)`` for each item, many items to a transaction."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settle: Callable[[AsyncSession, Item], Awaitable[Result]],
    ) -> None:
        self.sessions = sessions
        self.settle = settle
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, item: Item) -> Result:
        """Record ``item``; its result, or the exception its transaction raised."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name="notify-settle")
        return await future

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)

    async def _drain(self) -> None:
        batch: list[tuple[Item, asyncio.Future[Result]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    results = await self._together([item for item, _ in batch])
                except Exception as exc:
                    if len(batch) == 1 or is_database_outage(exc):
                        for _, future in batch:
                            _fail(future, exc)
                        continue
                    for item, future in batch:  # find the faulty one: each alone
                        try:
                            _succeed(future, (await self._together([item]))[0])
                        except Exception as alone:
                            _fail(future, alone)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    _succeed(future, result)
        finally:
            self._task = None
            for _, future in batch:  # stopped: no caller waits forever
                future.cancel()

    async def _together(self, items: list[Item]) -> list[Result]:
        async with self.sessions() as session, session.begin():
            return [await self.settle(session, item) for item in items]


def _succeed(future: asyncio.Future[Result], result: Result) -> None:
    if not future.done():  # its caller may have been cancelled (shutdown)
        future.set_result(result)


def _fail(future: asyncio.Future[Result], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
