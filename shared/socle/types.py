"""Value types every API shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


def in_utc(value: datetime) -> datetime:
    """An aware instant in UTC; a ValueError (422) when UTC leaves the years 1 to 9999."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the instant is outside the years 1 to 9999 once in UTC") from None


UTCInstant = Annotated[AwareDatetime, AfterValidator(in_utc)]
"""An ISO 8601 date-time with its offset (``Z`` or ``+01:00``), in UTC. A time without an
offset is refused (422): a local time would silently shift what it selects."""
