"""The answer to notify's request for the address of a mail about a request
(``socle.account_mails``): ``procedure.request.*`` events name the request and its owner
only; the address is given when notify mails, for an event of this service's own outbox in
the asker's tenant (empty when the request has none, or was anonymised)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from socle.account_mails import GONE, AccountMailAnswer, tenant_row
from socle.events import CloudEvent
from socle.eventtypes.procedures import EVENT_OF_STATE
from socle_procedures.models import Request

MODELS = {model.TYPE: model for model in EVENT_OF_STATE.values()}


async def lookup(session: AsyncSession, event: CloudEvent) -> AccountMailAnswer:
    model = MODELS.get(event.type)
    if model is None:
        return GONE
    row = await tenant_row(session, Request, model.of(event).request_id, event.tenant)
    if row is None:
        return GONE
    return AccountMailAnswer(status="ok", email=row.email or "")
