"""Messages that carry a secret (a password-reset or verification link, an invitation, a
one-time code) are sent, never shown: the API sees a redacted body, the worker alone reads
the sealed text, which is erased once the notification is final."""

from __future__ import annotations

from typing import Any

#: Events whose mails carry a secret link, with the fields of ``data`` that hold it.
SECRET_EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "user.registered": ("verification_url",),
    "user.password_reset_requested": ("reset_url",),
    "procedure.mandate.requested": ("url",),
}

REDACTED = (
    "[This message carries a secret (a one-time link or code); its text was sent to the "
    "recipient only and is not kept readable.]"
)


def is_secret_event(event_type: str) -> bool:
    return event_type in SECRET_EVENT_FIELDS


def without_secrets(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A CloudEvent (as JSON) with the secret fields of its ``data`` removed."""
    fields = SECRET_EVENT_FIELDS.get(event_type, ())
    data = payload.get("data")
    if not fields or not isinstance(data, dict):
        return payload
    return payload | {"data": {k: v for k, v in data.items() if k not in fields}}


def outgoing(
    secret: bool, body: str, html: str | None, sealed: tuple[str | None, str | None]
) -> tuple[str, str | None]:
    """The text the worker sends: the sealed one for a secret message."""
    sealed_body, sealed_html = sealed
    if secret and sealed_body is not None:
        return sealed_body, sealed_html
    return body, html


def content_columns(secret: bool, body: str, html: str | None) -> dict[str, Any]:
    """The stored columns of a message's text: in clear, or redacted with the text sealed."""
    if not secret:
        return {
            "secret": False,
            "body": body,
            "html": html,
            "sealed_body": None,
            "sealed_html": None,
        }
    return {
        "secret": True,
        "body": REDACTED,
        "html": None,
        "sealed_body": body,
        "sealed_html": html,
    }
