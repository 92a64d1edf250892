"""Background work of a service that runs every so often: expiry, purge, anonymisation.

A ``Periodic`` runs its pass at start-up, then every ``every`` seconds or as soon as it is
woken; a pass is repeated until it finds nothing left to do, so a backlog longer than one
batch is emptied in one go. A failing pass is logged and retried at the next turn; the loop
never dies of it. ``create_service_app(periodic=...)`` starts the loops after start-up and
stops them at shutdown; the pass itself reports its backlog (``Metrics.report_backlog``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from socle.aio import stop_task
from socle.outages import Outages
from socle.problems import is_database_outage

log = structlog.get_logger("socle.periodic")

Pass = Callable[[], Awaitable[int]]
"""One run of the work: returns how many items it handled (0 when nothing was due)."""


class Periodic:
    """A wakeable background loop around one pass of work."""

    def __init__(
        self,
        name: str,
        every: float,
        work: Pass,
        *,
        max_rounds: int = 1000,
        full_batch: int | None = None,
    ) -> None:
        self.name = name
        """Names the loop in logs (and the backlog gauge its pass reports)."""
        self.every = every
        """Seconds between two turns; 0 or less: never started (tests run passes by hand)."""
        self.work = work
        self.max_rounds = max_rounds
        """Passes in one turn at most, so a pass that always finds work cannot spin forever."""
        self.full_batch = full_batch
        """When set, a pass that handled fewer items than this emptied the backlog: the turn
        ends without a second pass to find out (the outbox relay's batch)."""
        self._outages = Outages(source=name)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.every > 0 and not self.running:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    def wake(self) -> None:
        """Run a turn now instead of at the end of the interval."""
        self._wake.set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)

    async def run_once(self) -> int:
        """One turn: the pass again and again until it handles nothing; returns the total."""
        total = 0
        for _ in range(self.max_rounds):
            done = await self.work()
            total += done
            if done <= 0 or (self.full_batch is not None and done < self.full_batch):
                break
        return total

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.run_once()  # each pass logs what it did
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_database_outage(exc):  # told once per outage, not once per turn
                    self._outages.failed("database", repr(exc))
                else:
                    log.warning("periodic_failed", loop=self.name, error=repr(exc))
            else:
                self._outages.answered()
            # asyncio.timeout, not wait_for: wait_for may swallow a cancel arriving as it wakes.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.every):
                    await self._wake.wait()
