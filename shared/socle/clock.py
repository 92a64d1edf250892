"""The time the use cases go by: UTC now, which a test can move forward instead of sleeping
or backdating rows (``with clock.advanced(hours=2): ...``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    """The current instant in UTC, plus what a test moved the clock by."""
    return datetime.now(UTC) + _offset


@contextlib.contextmanager
def advanced(delta: timedelta | None = None, **parts: float) -> Iterator[None]:
    """Move the clock forward by ``delta`` (or ``timedelta(**parts)``) for the block."""
    global _offset
    step = (delta or timedelta(0)) + timedelta(**parts)
    _offset += step
    try:
        yield
    finally:
        _offset -= step
