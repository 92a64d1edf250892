"""Opaque cursors (``socle.pagination``): what a client passes back, and what it may not forge."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from socle.pagination import decode_cursor, decode_position, encode_cursor, encode_position
from socle.problems import Unprocessable


def forged(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_a_position_comes_back_as_it_went_in() -> None:
    at = datetime(2026, 12, 2, 8, 30, 15, 123456, tzinfo=UTC)
    cursor = encode_position(at, "pay_42")
    assert "=" not in cursor and "|" not in cursor
    assert decode_position(cursor) == (at, "pay_42")


def test_a_position_in_another_offset_is_read_in_utc() -> None:
    at = datetime(2026, 12, 2, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    assert decode_position(encode_position(at, "x")) == (
        datetime(2026, 12, 2, 8, 0, tzinfo=UTC),
        "x",
    )


@pytest.mark.parametrize("parts", [("a",), ("a", "b", "c"), ("", ""), ("é", "✓")])
def test_a_cursor_carries_its_parts(parts: tuple[str, ...]) -> None:
    assert decode_cursor(encode_cursor(*parts), len(parts)) == list(parts)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64!",
        "%%%%",
        forged("only-one-part"),
        forged("a|b|c"),
        base64.urlsafe_b64encode(b"\xff\xfe|x").decode(),
        forged("yesterday|pay_1"),
        forged("2026-12-02T08:00:00|pay_1"),  # no offset
        forged("9999-12-31T23:59:59-05:00|pay_1"),  # leaves the calendar in UTC
    ],
)
def test_a_forged_cursor_is_422_invalid_cursor(cursor: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        decode_position(cursor)
    assert refused.value.status == 422
    assert refused.value.code == "invalid-cursor"
