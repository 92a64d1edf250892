"""Consent: what a person allowed a client on the consent page, remembered per client and
person.

Clients are registered by the commune, so a login does not ask for consent by default. The
consent page is shown when the client asks for it (``prompt=consent``), and again whenever a
client the person already answered asks for more than the person allowed it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import utcnow
from socle_identity.models import Consent


async def needed(
    session: AsyncSession, *, prompt: Sequence[str], user_id: str, client_id: str, scopes: list[str]
) -> bool:
    if "consent" in prompt:
        return True
    row = await session.get(Consent, (user_id, client_id))
    return row is not None and not set(scopes) <= set(row.scopes)


async def remember(
    session: AsyncSession, *, user_id: str, client_id: str, scopes: list[str]
) -> None:
    """Add ``scopes`` to what the person allowed the client (inside the caller's
    transaction)."""
    row = await session.get(Consent, (user_id, client_id), with_for_update=True)
    if row is None:
        session.add(Consent(user_id=user_id, client_id=client_id, scopes=list(scopes)))
    else:
        row.scopes = sorted(set(row.scopes) | set(scopes))
        row.granted_at = utcnow()
    await session.flush()
