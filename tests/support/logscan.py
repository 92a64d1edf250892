"""What the services log while a test runs: every line they write to stderr (structlog's
and the standard library's JSON lines), kept to be scanned for personal data."""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import structlog


class _Tee(io.TextIOBase):
    """Writes go to the captured buffer and on to the stream that was there."""

    def __init__(self, onward: TextIO, kept: io.StringIO) -> None:
        self.onward = onward
        self.kept = kept

    def write(self, text: str) -> int:
        self.kept.write(text)
        return self.onward.write(text)

    def flush(self) -> None:
        self.onward.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.onward, name)


@contextlib.contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Capture the log lines of the apps created inside the block (a service binds its
    logging to ``sys.stderr`` when its app is created); the lines still reach stderr."""
    onward = sys.stderr
    kept = io.StringIO()
    sink = logging.getLogger("mail.log")  # the test's SMTP sink logs each mail it receives
    level = sink.level
    sink.setLevel(logging.WARNING)
    sys.stderr = _Tee(onward, kept)  # type: ignore[assignment]
    try:
        yield kept
    finally:
        sys.stderr = onward
        sink.setLevel(level)
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(onward))


def leaks(text: str, needles: dict[str, str]) -> dict[str, list[str]]:
    """The lines of ``text`` holding each needle (case-insensitive), by the needle's name."""
    lines = text.splitlines()
    found: dict[str, list[str]] = {}
    for name, needle in needles.items():
        hits = [line for line in lines if needle.lower() in line.lower()]
        if hits:
            found[name] = hits[:3]
    return found
