"""Events of the notify service: ids and statuses, never an address or a message's text."""

from __future__ import annotations

from socle.events import EventData


class _Notify(EventData):
    SERVICE = "notify"


class NotificationDelivered(_Notify):
    TYPE = "notification.delivered"
    notification_id: str
    channel: str
    template_id: str | None
    template_version: int | None
    language: str | None
    reference: str | None
    batch_id: str | None
    source: str
    attempts: int


class NotificationFailed(_Notify):
    """A message (``notification_id``) or a webhook delivery (``delivery_id``) failed."""

    TYPE = "notification.failed"
    notification_id: str | None = None
    delivery_id: str | None = None
    subscription_id: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    channel: str
    status: str
    error: str | None
    template_id: str | None = None
    reference: str | None = None
    batch_id: str | None = None
    source: str | None = None
    attempts: int


class BatchCompleted(_Notify):
    TYPE = "batch.completed"
    batch_id: str
    template_id: str
    channel: str
    reference: str | None
    total: int
    counts: dict[str, int]


EVENTS: tuple[type[EventData], ...] = (NotificationDelivered, NotificationFailed, BatchCompleted)
