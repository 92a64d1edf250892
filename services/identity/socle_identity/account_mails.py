"""Identity's answer to notify's account-mail requests (``socle.account_mails``): the
address and a freshly minted link, for an event identity recorded itself in the asker's
tenant, while such a link is valid; for ``person.export.available``, the address only, while
the export's link is valid. The outbox row (no personal data in it) is the proof
that the mail was asked for; the link is made when asked, never stored."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from socle.account_mails import GONE, AccountMailAnswer, tenant_row
from socle.db import utcnow
from socle.events import CloudEvent
from socle.eventtypes.identity import (
    PersonExportAvailable,
    UserPasswordResetRequested,
    UserRegistered,
)
from socle_identity.models import Export, User
from socle_identity.provider import Provider
from socle_identity.registration import LINK_MAX_AGE, RESET_MAX_AGE, reset_url, verification_url

#: Each account mail and how long its link is worth sending.
MAX_AGE: dict[str, int] = {
    UserRegistered.TYPE: LINK_MAX_AGE,
    UserPasswordResetRequested.TYPE: RESET_MAX_AGE,
}


def _user_id(event: CloudEvent) -> str:
    if event.type == UserRegistered.TYPE:
        return UserRegistered.of(event).user_id
    return UserPasswordResetRequested.of(event).user_id


async def lookup(provider: Provider, session: AsyncSession, event: CloudEvent) -> AccountMailAnswer:
    if event.type == PersonExportAvailable.TYPE:
        return await _export_address(session, event)
    if event.type not in MAX_AGE:
        return GONE
    if utcnow() - event.time > timedelta(seconds=MAX_AGE[event.type]):
        return GONE
    user = await tenant_row(session, User, _user_id(event), event.tenant)
    if user is None or not user.email:
        return GONE
    if event.type == UserRegistered.TYPE:
        if user.email_verified:
            return GONE  # nothing left to confirm
        url = verification_url(provider, user)
    else:
        url = reset_url(provider, user)
    return AccountMailAnswer(status="ok", email=user.email, url=url)


async def _export_address(session: AsyncSession, event: CloudEvent) -> AccountMailAnswer:
    """The address of the person whose export is ready, while its link is valid."""
    ready = PersonExportAvailable.of(event)
    export = await tenant_row(session, Export, ready.export_id, event.tenant)
    if (
        export is None
        or export.deleted_at is not None
        or export.expires_at is None
        or export.expires_at <= utcnow()
    ):
        return GONE
    user = await tenant_row(session, User, export.user_id, event.tenant)
    if user is None or not user.email:
        return GONE
    return AccountMailAnswer(status="ok", email=user.email)
