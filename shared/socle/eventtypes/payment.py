"""Events of the payment service: one per status a payment enters, all of one shape."""

from __future__ import annotations

from socle.events import EventData


class PaymentChanged(EventData):
    """A payment entered ``status`` (the event type names the status). No payer address:
    notify asks payment for it when a rule mails the payer (``socle.account_mails``)."""

    SERVICE = "payment"
    payment_id: str
    status: str
    previous_status: str | None
    reference: str
    procedure_ref: str | None
    amount: int
    currency: str
    amount_captured: int
    amount_refunded: int
    provider: str
    cause: str


class PaymentCreated(PaymentChanged):
    TYPE = "payment.created"


class PaymentPending(PaymentChanged):
    TYPE = "payment.pending"


class PaymentSucceeded(PaymentChanged):
    TYPE = "payment.succeeded"


class PaymentFailed(PaymentChanged):
    TYPE = "payment.failed"


class PaymentCancelled(PaymentChanged):
    TYPE = "payment.cancelled"


class PaymentExpired(PaymentChanged):
    TYPE = "payment.expired"


class PaymentRefunded(PaymentChanged):
    TYPE = "payment.refunded"
    refund_id: str
    refund_amount: int


#: The event of a payment entering a status.
EVENT_OF_STATUS: dict[str, type[PaymentChanged]] = {
    "created": PaymentCreated,
    "pending": PaymentPending,
    "succeeded": PaymentSucceeded,
    "failed": PaymentFailed,
    "cancelled": PaymentCancelled,
    "expired": PaymentExpired,
    "partially_refunded": PaymentRefunded,
    "refunded": PaymentRefunded,
}

EVENTS: tuple[type[EventData], ...] = (
    PaymentCreated,
    PaymentPending,
    PaymentSucceeded,
    PaymentFailed,
    PaymentCancelled,
    PaymentExpired,
    PaymentRefunded,
)
