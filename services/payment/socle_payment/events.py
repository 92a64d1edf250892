"""The events the payment service publishes (through the outbox)."""

from __future__ import annotations

from typing import Any

from socle.events import CloudEvent
from socle_payment.models import Payment

SERVICE = "payment"

#: Event type published when a payment enters a status.
EVENT_OF_STATUS = {
    "created": "payment.created",
    "pending": "payment.pending",
    "succeeded": "payment.succeeded",
    "failed": "payment.failed",
    "cancelled": "payment.cancelled",
    "expired": "payment.expired",
    "partially_refunded": "payment.refunded",
    "refunded": "payment.refunded",
}


def payment_event(
    payment: Payment,
    *,
    previous_status: str | None,
    cause: str,
    extra: dict[str, Any] | None = None,
) -> CloudEvent:
    """The event of ``payment`` having just entered its current status."""
    data: dict[str, Any] = {
        "payment_id": payment.id,
        "status": payment.status,
        "previous_status": previous_status,
        "reference": payment.reference,
        "procedure_ref": payment.procedure_ref,
        "payer_email": payment.payer_email,
        "amount": payment.amount,
        "currency": payment.currency,
        "amount_captured": payment.amount_captured,
        "amount_refunded": payment.amount_refunded,
        "provider": payment.provider,
        "cause": cause,
    }
    data.update(extra or {})
    return CloudEvent.new(
        service=SERVICE,
        type=EVENT_OF_STATUS[payment.status],
        tenant=payment.tenant,
        subject=payment.id,
        data=data,
    )
