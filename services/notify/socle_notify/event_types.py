"""The event types a webhook subscription may name: those described in
``docs/events.asyncapi.yaml`` (a test keeps this list equal to that file)."""

from __future__ import annotations

from socle_notify.errors import UnknownEventType

KNOWN_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "batch.completed",
        "client.registered",
        "document.deleted",
        "document.purged",
        "document.quarantined",
        "document.shared",
        "document.uploaded",
        "key.rotated",
        "notification.delivered",
        "notification.failed",
        "payment.cancelled",
        "payment.created",
        "payment.expired",
        "payment.failed",
        "payment.pending",
        "payment.refunded",
        "payment.succeeded",
        "person.erased",
        "user.deleted",
        "user.email_verified",
        "user.password_reset_requested",
        "user.registered",
    }
)
KNOWN_NOUNS: frozenset[str] = frozenset(t.split(".", 1)[0] for t in KNOWN_EVENT_TYPES)


def known_pattern(pattern: str) -> bool:
    """``*``, ``<noun>.*`` for a noun that has events, or one known event type."""
    if pattern == "*" or pattern in KNOWN_EVENT_TYPES:
        return True
    noun, dot, rest = pattern.partition(".")
    return bool(dot) and rest == "*" and noun in KNOWN_NOUNS


def check_event_types(patterns: list[str]) -> list[str]:
    """The patterns, or a 422 naming the unknown ones and the valid types."""
    unknown = [p for p in patterns if not known_pattern(p)]
    if unknown:
        shown = ", ".join(repr(p[:64]) for p in unknown[:10])
        valid = ", ".join(sorted(KNOWN_EVENT_TYPES))
        raise UnknownEventType(
            f"No event has the type {shown}. Subscribe to '*', '<noun>.*' "
            f"({', '.join(sorted(KNOWN_NOUNS))}) or one of: {valid}.",
            errors=[
                {
                    "field": f"event_types.{patterns.index(p)}",
                    "message": "unknown",
                    "code": "unknown",
                }
                for p in unknown[:10]
            ],
        )
    return patterns
