"""The answer to notify's request for a mandate's confirmation mail
(``socle.account_mails``): ``procedure.mandate.requested`` names the mandate only; the
citizen's address and the confirmation link (and both names the mail shows) are given when
notify mails, for an event of this service's own outbox, in the asker's tenant, while the
mandate waits for its confirmation. The link's token is minted then (only its digest is
kept): an earlier link of the same mandate stops working."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.account_mails import AccountMailAnswer, AccountMailRequest
from socle.db import outbox_table
from socle.events import CloudEvent, MalformedEvent
from socle.eventtypes.procedures import MandateRequested
from socle_procedures.events import Site
from socle_procedures.mandates import confirm_url, digest
from socle_procedures.models import Mandate

GONE = AccountMailAnswer(status="gone")


async def answer(
    sessions: async_sessionmaker[AsyncSession], site: Site | None, request: AccountMailRequest
) -> AccountMailAnswer:
    async with sessions() as session, session.begin():
        payload = await session.scalar(
            select(outbox_table.c.payload).where(outbox_table.c.event_id == request.event_id)
        )
        if payload is None:
            return GONE
        event = CloudEvent.from_bytes(payload)
        if event.tenant != request.tenant:
            return GONE
        try:
            asked = MandateRequested.of(event)
        except MalformedEvent:
            return GONE
        mandate = await session.get(Mandate, asked.mandate_id)
        if (
            mandate is None
            or mandate.tenant != event.tenant
            or mandate.status != "pending"
            or not mandate.citizen_email
        ):
            return GONE
        token = secrets.token_urlsafe(32)
        mandate.token_hash = digest(token)
        return AccountMailAnswer(
            status="ok",
            email=mandate.citizen_email,
            url=confirm_url(site, mandate.id, token),
            values={"mediator_name": mandate.mediator_name, "citizen_name": mandate.citizen_name},
        )
