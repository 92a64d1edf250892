"""Events notify publishes (through the outbox); their payloads are the models of
``socle.eventtypes.notify``. They carry ids and statuses, never the recipient's address or
the message text."""

from __future__ import annotations

from socle.events import Event
from socle.eventtypes.notify import BatchCompleted, NotificationDelivered, NotificationFailed
from socle_notify.models import Batch, Notification, WebhookDelivery


def notification_delivered(n: Notification) -> Event[NotificationDelivered]:
    data = NotificationDelivered(
        notification_id=n.id,
        channel=n.channel,
        template_id=n.template_id,
        template_version=n.template_version,
        language=n.language,
        reference=n.reference,
        batch_id=n.batch_id,
        source=n.source,
        attempts=n.attempts,
    )
    return data.event(tenant=n.tenant, subject=f"notification:{n.id}")


def notification_failed(n: Notification) -> Event[NotificationFailed]:
    data = NotificationFailed(
        notification_id=n.id,
        channel=n.channel,
        status=n.status,
        error=n.error,
        template_id=n.template_id,
        reference=n.reference,
        batch_id=n.batch_id,
        source=n.source,
        attempts=n.attempts,
    )
    return data.event(tenant=n.tenant, subject=f"notification:{n.id}")


def webhook_failed(d: WebhookDelivery) -> Event[NotificationFailed]:
    data = NotificationFailed(
        channel="webhook",
        delivery_id=d.id,
        subscription_id=d.subscription_id,
        event_id=d.event_id,
        event_type=d.event_type,
        status="dead",
        error=d.last_error,
        attempts=d.attempts,
    )
    return data.event(tenant=d.tenant, subject=f"webhook-delivery:{d.id}")


def batch_completed(b: Batch, counts: dict[str, int]) -> Event[BatchCompleted]:
    data = BatchCompleted(
        batch_id=b.id,
        template_id=b.template_id,
        channel=b.channel,
        reference=b.reference,
        total=b.total,
        counts=counts,
    )
    return data.event(tenant=b.tenant, subject=f"batch:{b.id}")
