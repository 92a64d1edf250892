"""The person's own account, changed only from identity's own pages: a short token with scope
``identity:account`` is issued for the browser's login session (never through ``/authorize``
or ``/token``), and changes need a recent login."""

from __future__ import annotations

import time
from typing import Any

from socle.auth import Principal
from socle.db import utcnow
from socle.problems import Conflict
from socle_identity import directory, sessions
from socle_identity import scopes as sc
from socle_identity.errors import LoginRequired, ReauthenticationRequired
from socle_identity.models import Client, User
from socle_identity.provider import Provider
from socle_identity.tokens import Grant, mint_access_token


def require_recent_login(principal: Principal, max_age: int) -> None:
    """The token's ``auth_time`` is at most ``max_age`` seconds old."""
    auth_time = principal.claims.get("auth_time")
    if not isinstance(auth_time, int) or time.time() - auth_time > max_age:
        raise ReauthenticationRequired(max_age)


async def account_token(provider: Provider, cookie: str | None) -> dict[str, Any]:
    """A token for identity's account pages from the browser's login session, if that login
    is recent enough."""
    max_age = provider.settings.reauth_seconds
    async with provider.sessions() as session, session.begin():
        current = await sessions.current_session(provider, session, cookie)
        user = await session.get(User, current.user_id) if current else None
        if current is None or user is None:
            raise LoginRequired(
                "Log in first: this endpoint works with the login session of identity's pages."
            )
        if (utcnow() - current.auth_time).total_seconds() > max_age:
            raise ReauthenticationRequired(max_age)
        first_party = Client(
            client_id=directory.FIRST_PARTY_CLIENT,
            tenant=user.tenant,
            signing_alg="ES256",
            access_token_ttl=min(provider.settings.access_token_ttl, max_age),
        )
        scopes = ["openid", sc.ACCOUNT_SCOPE]
        grant = Grant(
            sub=user.id,
            tenant=user.tenant,
            scopes=scopes,
            roles=list(user.roles),
            user=user,
            auth_time=current.auth_time,
            acr=current.acr,
            amr=list(current.amr),
            sid=current.id,
        )
        token, ttl = await mint_access_token(provider, session, first_party, grant)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": " ".join(scopes),
        }


async def remove_totp(provider: Provider, *, tenant: str, user_id: str) -> None:
    """Remove the second factor (and its recovery codes)."""
    async with provider.sessions() as session, session.begin():
        user = await directory.get_user(session, tenant=tenant, user_id=user_id)
        if not user.totp_secret and not user.totp_confirmed:
            raise Conflict("No second factor is active.", code="totp-not-active")
        user.totp_secret = None
        user.totp_confirmed = False
        user.recovery_codes = []
