"""The services' answers to a request sent to all of them (an erasure, an export): who has
answered, who is still awaited, and who stayed silent past the deadline."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Literal, TypeVar

from socle.db import utcnow

Row = TypeVar("Row")
Entry = TypeVar("Entry")
Done = TypeVar("Done", bound=str)
Unanswered = Literal["waiting", "silent"]


@dataclass(frozen=True)
class RollCall(Generic[Entry]):
    """One entry per asked service, in the order they were asked."""

    services: list[Entry]
    deadline: datetime
    waiting: list[str]
    """Services that have not answered (yet)."""
    late: bool

    @property
    def silent(self) -> list[str]:
        """Services that have not answered in time (none before the deadline)."""
        return self.waiting if self.late else []

    def status(self, done: Done) -> Done | Literal["overdue", "in_progress"]:
        """``done`` once every service answered, else ``overdue`` or ``in_progress``."""
        if not self.waiting:
            return done
        return "overdue" if self.late else "in_progress"


def roll_call(
    asked: Sequence[str],
    answers: Mapping[str, Row],
    *,
    requested_at: datetime,
    answer_seconds: int,
    answered: Callable[[str, Row], Entry],
    unanswered: Callable[[str, Unanswered], Entry],
) -> RollCall[Entry]:
    """Each asked service's entry: ``answered(name, row)`` for those with an answer row,
    ``unanswered(name, "waiting" | "silent")`` for the others (silent past the deadline)."""
    deadline = requested_at + timedelta(seconds=answer_seconds)
    late = utcnow() >= deadline
    services: list[Entry] = []
    waiting: list[str] = []
    for name in asked:
        row = answers.get(name)
        if row is None:
            services.append(unanswered(name, "silent" if late else "waiting"))
            waiting.append(name)
        else:
            services.append(answered(name, row))
    return RollCall(services, deadline, waiting, late)
