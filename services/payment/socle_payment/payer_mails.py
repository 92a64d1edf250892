"""The answer to notify's request for the payer's address of a mail made from a payment
event (``socle.account_mails``): ``payment.*`` events carry no address; it is given when a
commune's rule mails the payer, for an event of this service's own outbox in the asker's
tenant (empty when the payment has none, or was pseudonymised)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.account_mails import AccountMailAnswer, AccountMailRequest
from socle.db import outbox_table
from socle.events import CloudEvent, MalformedEvent
from socle.eventtypes.payment import EVENTS, PaymentChanged
from socle_payment.models import Payment

GONE = AccountMailAnswer(status="gone")
MODELS: dict[str, type[PaymentChanged]] = {
    m.TYPE: m for m in EVENTS if issubclass(m, PaymentChanged)
}


async def answer(
    sessions: async_sessionmaker[AsyncSession], request: AccountMailRequest
) -> AccountMailAnswer:
    async with sessions() as session:
        payload = await session.scalar(
            select(outbox_table.c.payload).where(outbox_table.c.event_id == request.event_id)
        )
        if payload is None:
            return GONE
        event = CloudEvent.from_bytes(payload)
        model = MODELS.get(event.type)
        if event.tenant != request.tenant or model is None:
            return GONE
        try:
            payment_id = model.of(event).payment_id
        except MalformedEvent:
            return GONE
        payment = await session.get(Payment, payment_id)
        if payment is None or payment.tenant != event.tenant:
            return GONE
        return AccountMailAnswer(status="ok", email=payment.payer_email or "")
