"""Events notify publishes (through the outbox). They carry ids and statuses, never the
recipient's address or the message text."""

from __future__ import annotations

from typing import Any

from socle.events import CloudEvent
from socle_notify.models import Batch, Notification, WebhookDelivery

SERVICE = "notify"


def notification_delivered(n: Notification) -> CloudEvent:
    return CloudEvent.new(
        service=SERVICE,
        type="notification.delivered",
        tenant=n.tenant,
        subject=f"notification:{n.id}",
        data={
            "notification_id": n.id,
            "channel": n.channel,
            "template_id": n.template_id,
            "template_version": n.template_version,
            "language": n.language,
            "reference": n.reference,
            "batch_id": n.batch_id,
            "source": n.source,
            "attempts": n.attempts,
        },
    )


def notification_failed(n: Notification) -> CloudEvent:
    return CloudEvent.new(
        service=SERVICE,
        type="notification.failed",
        tenant=n.tenant,
        subject=f"notification:{n.id}",
        data={
            "notification_id": n.id,
            "channel": n.channel,
            "status": n.status,
            "error": n.error,
            "template_id": n.template_id,
            "reference": n.reference,
            "batch_id": n.batch_id,
            "source": n.source,
            "attempts": n.attempts,
        },
    )


def webhook_failed(d: WebhookDelivery) -> CloudEvent:
    return CloudEvent.new(
        service=SERVICE,
        type="notification.failed",
        tenant=d.tenant,
        subject=f"webhook-delivery:{d.id}",
        data={
            "channel": "webhook",
            "delivery_id": d.id,
            "subscription_id": d.subscription_id,
            "event_id": d.event_id,
            "event_type": d.event_type,
            "status": "dead",
            "error": d.last_error,
            "attempts": d.attempts,
        },
    )


def batch_completed(b: Batch, counts: dict[str, Any]) -> CloudEvent:
    return CloudEvent.new(
        service=SERVICE,
        type="batch.completed",
        tenant=b.tenant,
        subject=f"batch:{b.id}",
        data={
            "batch_id": b.id,
            "template_id": b.template_id,
            "channel": b.channel,
            "reference": b.reference,
            "total": b.total,
            "counts": counts,
        },
    )
