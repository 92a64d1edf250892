"""Small things every notify module uses: ids, errors, recipient checks."""

from __future__ import annotations

import secrets
import time

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from socle_notify.errors import InvalidRecipient


def new_id() -> str:
    """32 hex characters that sort by creation time (milliseconds, then randomness)."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(10)}"


def normalise_email(address: str) -> str:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidRecipient(
            f"'to' is not a valid email address: {exc}",
            errors=[{"field": "to", "message": str(exc), "code": "invalid-email"}],
        ) from None


def normalise_phone(number: str, region: str) -> str:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidRecipient(
            f"'to' is not a phone number: {exc}",
            errors=[{"field": "to", "message": str(exc), "code": "invalid-phone"}],
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidRecipient(
            "'to' is not a valid phone number; write it as +41 79 123 45 67.",
            errors=[{"field": "to", "message": "not a valid number", "code": "invalid-phone"}],
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def matches(pattern: str, event_type: str) -> bool:
    """``*`` matches everything, ``payment.*`` every payment event, else exact."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type
