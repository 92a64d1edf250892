"""The answer to notify's request for the payer's address of a mail made from a payment
event (``socle.account_mails``): ``payment.*`` events carry no address; it is given when a
commune's rule mails the payer, for an event of this service's own outbox in the asker's
tenant (empty when the payment has none, or was pseudonymised)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from socle.account_mails import GONE, AccountMailAnswer, tenant_row
from socle.events import CloudEvent
from socle.eventtypes.payment import EVENTS, PaymentChanged
from socle_payment.models import Payment

MODELS: dict[str, type[PaymentChanged]] = {
    m.TYPE: m for m in EVENTS if issubclass(m, PaymentChanged)
}


async def lookup(session: AsyncSession, event: CloudEvent) -> AccountMailAnswer:
    model = MODELS.get(event.type)
    if model is None:
        return GONE
    payment = await tenant_row(session, Payment, model.of(event).payment_id, event.tenant)
    if payment is None:
        return GONE
    return AccountMailAnswer(status="ok", email=payment.payer_email or "")
