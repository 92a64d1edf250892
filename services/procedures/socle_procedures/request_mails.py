"""The answer to notify's request for the address of a mail about a request
(``socle.account_mails``): ``procedure.request.*`` events name the request and its owner
only; the address is given when notify mails, for an event of this service's own outbox in
the asker's tenant (empty when the request has none, or was anonymised)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.account_mails import AccountMailAnswer, AccountMailRequest
from socle.db import outbox_table
from socle.events import CloudEvent, MalformedEvent
from socle.eventtypes.procedures import EVENT_OF_STATE
from socle_procedures.models import Request

GONE = AccountMailAnswer(status="gone")
MODELS = {model.TYPE: model for model in EVENT_OF_STATE.values()}


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
            request_id = model.of(event).request_id
        except MalformedEvent:
            return GONE
        row = await session.get(Request, request_id)
        if row is None or row.tenant != event.tenant:
            return GONE
        return AccountMailAnswer(status="ok", email=row.email or "")
