"""The answer to notify's request for the payer's address of a mail made from a payment
event (``socle.account_mails``): ``payment.*`` events carry no address; it is given when a
commune's rule mails the payer, for an event of this service's own outbox in the asker's
tenant (empty when the payment has none, or was pseudonymised)."""

from __future__ import annotations

from socle.account_mails import address_lookup
from socle.events import CloudEvent
from socle.eventtypes.payment import EVENTS, PaymentChanged
from socle_payment.models import Payment

MODELS: dict[str, type[PaymentChanged]] = {
    m.TYPE: m for m in EVENTS if issubclass(m, PaymentChanged)
}


def _payment_id(event: CloudEvent) -> str | None:
    model = MODELS.get(event.type)
    return model.of(event).payment_id if model else None


lookup = address_lookup(_payment_id, Payment, lambda payment: payment.payer_email)
