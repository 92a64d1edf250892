"""The answer to notify's request for a mandate's confirmation mail
(``socle.account_mails``): ``procedure.mandate.requested`` names the mandate only; the
citizen's address and the confirmation link (and both names the mail shows) are given when
notify mails, for an event of this service's own outbox, in the asker's tenant, while the
mandate waits for its confirmation. The link's token is minted then (only its digest is
kept): an earlier link of the same mandate stops working."""

from __future__ import annotations

import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from socle.account_mails import GONE, AccountMailAnswer, tenant_row
from socle.events import CloudEvent
from socle.eventtypes.procedures import MandateRequested
from socle_procedures.events import Site
from socle_procedures.mandates import confirm_url, digest
from socle_procedures.models import Mandate


async def lookup(site: Site | None, session: AsyncSession, event: CloudEvent) -> AccountMailAnswer:
    asked = MandateRequested.of(event)
    mandate = await tenant_row(session, Mandate, asked.mandate_id, event.tenant)
    if mandate is None or mandate.status != "pending" or not mandate.citizen_email:
        return GONE
    token = secrets.token_urlsafe(32)
    mandate.token_hash = digest(token)
    return AccountMailAnswer(
        status="ok",
        email=mandate.citizen_email,
        url=confirm_url(site, mandate.id, token),
        values={"mediator_name": mandate.mediator_name, "citizen_name": mandate.citizen_name},
    )
