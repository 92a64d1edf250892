"""The events the payment service publishes (through the outbox); their payloads are the
models of ``socle.eventtypes.payment``."""

from __future__ import annotations

from typing import Any

from socle.events import Event
from socle.eventtypes.payment import EVENT_OF_STATUS, PaymentChanged
from socle_payment.models import Payment

#: Event type published when a payment enters a status.
EVENT_TYPE_OF_STATUS: dict[str, str] = {s: model.TYPE for s, model in EVENT_OF_STATUS.items()}


def payment_event(
    payment: Payment,
    *,
    previous_status: str | None,
    cause: str,
    extra: dict[str, Any] | None = None,
) -> Event[PaymentChanged]:
    """The event of ``payment`` having just entered its current status."""
    data = EVENT_OF_STATUS[payment.status].model_validate(
        {
            "payment_id": payment.id,
            "status": payment.status,
            "previous_status": previous_status,
            "reference": payment.reference,
            "procedure_ref": payment.procedure_ref,
            "amount": payment.amount,
            "currency": payment.currency,
            "amount_captured": payment.amount_captured,
            "amount_refunded": payment.amount_refunded,
            "provider": payment.provider,
            "cause": cause,
            **(extra or {}),
        }
    )
    event: Event[PaymentChanged] = data.event(tenant=payment.tenant, subject=payment.id)
    return event
