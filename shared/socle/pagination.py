"""Opaque cursors for cursor pagination (``limit``, ``cursor``, ``next_cursor``)."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from socle.problems import Unprocessable


def _invalid() -> Unprocessable:
    return Unprocessable(
        "The cursor is not one this API returned; pass next_cursor unchanged, or start again "
        "without it.",
        code="invalid-cursor",
    )


def encode_cursor(*parts: str) -> str:
    """An opaque cursor carrying ``parts`` (which must not contain ``|``)."""
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, count: int) -> list[str]:
    """The ``count`` parts of a cursor from :func:`encode_cursor`; 422 for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _invalid() from None
    parts = raw.split("|")
    if len(parts) != count:
        raise _invalid()
    return parts


def encode_position(at: datetime, last_id: str) -> str:
    """The cursor after a row of a list ordered by (created_at, id), newest first."""
    return encode_cursor(at.isoformat(), last_id)


def decode_position(cursor: str) -> tuple[datetime, str]:
    """(created_at in UTC, id) of the last row seen, from :func:`encode_position`; a forged
    instant that leaves the calendar once in UTC (year 9999 at -05:00) is 422, not a 500."""
    stamp, last_id = decode_cursor(cursor, 2)
    try:
        at = datetime.fromisoformat(stamp)
    except ValueError:
        raise _invalid() from None
    if at.tzinfo is None:
        raise _invalid()
    try:
        return at.astimezone(UTC), last_id
    except OverflowError:
        raise _invalid() from None
