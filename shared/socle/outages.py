"""Outages of a dependency (database, object store, mail server) told once: one log line when
it becomes unavailable, the failures meanwhile counted, one line when it answers again."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger("socle.outages")

REPEAT_SECONDS = 30.0
"""While an outage lasts, a reminder line (with the failures counted since the last line) at
most this often."""


@dataclass
class _Outage:
    since: float
    logged_at: float
    failures: int = 1
    unlogged: int = 0


class Outages:
    """The dependencies of one process (or one background loop: ``source``) that are failing
    now. ``failed`` on every failed call, ``answered`` when the dependency served again."""

    def __init__(
        self,
        on_failure: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        source: str | None = None,
    ) -> None:
        self._down: dict[str, _Outage] = {}
        self._log = log.bind(source=source) if source else log
        self._clock = clock
        self.on_failure = on_failure
        """Called with the dependency's name on each failure (a metric, for one)."""

    @property
    def down(self) -> frozenset[str]:
        return frozenset(self._down)

    def failed(self, dependency: str, error: str) -> None:
        if self.on_failure is not None:
            self.on_failure(dependency)
        now = self._clock()
        outage = self._down.get(dependency)
        if outage is None:
            self._down[dependency] = _Outage(since=now, logged_at=now)
            self._log.warning(f"{dependency}_unavailable", error=error)
            return
        outage.failures += 1
        outage.unlogged += 1
        if now - outage.logged_at >= REPEAT_SECONDS:
            self._log.warning(
                f"{dependency}_still_unavailable",
                error=error,
                failures=outage.unlogged,
                seconds=round(now - outage.since, 1),
            )
            outage.logged_at, outage.unlogged = now, 0

    def answered(self, dependency: str | None = None) -> None:
        """The dependency (or, with None, every dependency) served a request: an outage ends."""
        if not self._down:
            return
        names = list(self._down) if dependency is None else [dependency]
        for name in names:
            outage = self._down.pop(name, None)
            if outage is not None:
                self._log.info(
                    f"{name}_recovered",
                    failures=outage.failures,
                    seconds=round(self._clock() - outage.since, 1),
                )
