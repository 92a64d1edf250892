"""``id_token_hint``: an ID token this provider issued, sent back by a client to say whom it
expects (authorization with ``prompt=none``) or who is logging out (RP-initiated logout).
An expired hint is still a hint (OpenID Connect Core 3.1.2.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from socle_identity.models import Client, User
from socle_identity.provider import Provider
from socle_identity.tokens import subject_for


@dataclass(frozen=True)
class Hint:
    client_id: str
    sub: str


async def read_hint(provider: Provider, session: AsyncSession, token: str) -> Hint | None:
    """The client and subject of an ID token we signed, or None for anything else (another
    issuer, a forged signature, an access token)."""
    try:
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if not isinstance(kid, str) or header.get("typ") == "at+jwt":
            return None
        key = await provider.keys.verification_key(session, kid)
        if key is None:
            return None
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key.key,
            algorithms=[key.algorithm_name],
            issuer=provider.issuer,
            options={"verify_aud": False, "verify_exp": False, "require": ["sub", "aud"]},
        )
    except jwt.PyJWTError:
        return None
    aud, sub = claims.get("aud"), claims.get("sub")
    if isinstance(aud, list) and len(aud) == 1:
        aud = aud[0]
    if not isinstance(aud, str) or not isinstance(sub, str):
        return None
    return Hint(client_id=aud, sub=sub)


async def names(
    provider: Provider, session: AsyncSession, hint: Hint, client: Client, user: User
) -> bool:
    """Whether the hint names this person (``sub`` as this client knows the person)."""
    return hint.sub == await subject_for(provider, session, client, user)
