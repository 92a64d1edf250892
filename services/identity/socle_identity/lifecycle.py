"""Token lifecycle: the deny list of access tokens that identity keeps, checks on its own API
and publishes as ``token.revoked`` events for every other service; and the actions that feed
it (revocation, a replayed code or refresh token, logout, a disabled, deleted or re-keyed
client, a deleted account).

An entry names a claim (``jti``, ``sid``, ``gid`` or ``client_id``), its value and a time:
every access token carrying that value whose ``iat`` is at most ``issued_before`` is refused.
It is kept until every such token has expired (``expires_at``), then forgotten.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import upsert_insert, utcnow
from socle.outbox import record_event
from socle.privacy import ERASING_SERVICES
from socle_identity import directory, erasures, events
from socle_identity.models import (
    AuthorizationCode,
    Client,
    LoginSession,
    RefreshToken,
    TokenRevocation,
    User,
)

CLAIMS = ("jti", "sid", "gid", "client_id")
LEEWAY_SECONDS = 60
"""Verifiers accept a token a little after its ``exp`` (clock leeway): entries outlive the
tokens they refuse by this much."""
FIRST_PARTY_CLIENT = directory.FIRST_PARTY_CLIENT


def client_ttl(client: Client, default_ttl: int) -> int:
    return client.access_token_ttl or default_ttl


async def longest_access_ttl(session: AsyncSession, default_ttl: int) -> int:
    """The longest lifetime an access token of any client can have."""
    longest = await session.scalar(select(func.max(Client.access_token_ttl)))
    return max(default_ttl, int(longest or 0))


def _greater(a: Any, b: Any) -> ColumnElement[Any]:
    """The greater of two non-null values, written the same for PostgreSQL and SQLite."""
    return case((a >= b, a), else_=b)


async def deny(
    session: AsyncSession,
    *,
    claim: str,
    value: str,
    tenant: str,
    subject: str,
    issued_before: int,
    ttl: int,
) -> None:
    """Refuse the access tokens with ``claim == value`` issued at or before ``issued_before``
    (which lived at most ``ttl`` seconds), here and, through the outbox, everywhere."""
    assert claim in CLAIMS
    expires_at = max(issued_before, int(time.time())) + ttl + LEEWAY_SECONDS
    expiry = datetime.fromtimestamp(expires_at, tz=UTC)
    stmt = upsert_insert(session, TokenRevocation).values(
        claim=claim, value=value, issued_before=issued_before, expires_at=expiry
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["claim", "value"],
            set_={
                "issued_before": _greater(
                    TokenRevocation.issued_before, stmt.excluded.issued_before
                ),
                "expires_at": _greater(TokenRevocation.expires_at, stmt.excluded.expires_at),
            },
        )
    )
    await session.execute(delete(TokenRevocation).where(TokenRevocation.expires_at < utcnow()))
    await record_event(
        session,
        events.token_revoked(
            tenant=tenant,
            subject=subject,
            claim=claim,
            value=value,
            issued_before=issued_before,
            expires_at=expires_at,
        ),
        aggregate=subject,
    )


def _matches(claims: Mapping[str, Any]) -> list[Any]:
    return [
        and_(TokenRevocation.claim == c, TokenRevocation.value == claims[c])
        for c in CLAIMS
        if isinstance(claims.get(c), str) and claims[c]
    ]


async def refusal(session: AsyncSession, claims: Mapping[str, Any]) -> str | None:
    """Why identity refuses this (well-signed, unexpired) access token, or None."""
    iat = claims.get("iat")
    if not isinstance(iat, int):
        return "The access token carries no issue time."
    matches = _matches(claims)
    if matches:
        hit = await session.scalar(
            select(TokenRevocation.claim)
            .where(or_(*matches), TokenRevocation.issued_before >= iat)
            .limit(1)
        )
        if hit is not None:
            return "The access token was revoked."
    client_id = claims.get("client_id")
    if client_id == FIRST_PARTY_CLIENT:
        return None
    client = await session.get(Client, client_id) if isinstance(client_id, str) else None
    if client is None:
        return "The client of this access token no longer exists."
    if client.disabled_at is not None:
        return "The client of this access token is disabled."
    return None


async def wait_past_revocations(session: AsyncSession, *, client_id: str, sid: str | None) -> int:
    """The ``iat`` for a new token: now, or the next second when the client or the session
    had tokens revoked during this second (they would be refused with the old ones)."""
    matches = _matches({"client_id": client_id, "sid": sid})
    latest = await session.scalar(
        select(func.max(TokenRevocation.issued_before)).where(or_(*matches))
    )
    return await wait_past(latest)


async def wait_past(latest: int | None) -> int:
    """Now, or the second after ``latest`` (a revocation's ``issued_before``) when it is
    this very second."""
    now = time.time()
    if latest is not None and latest >= int(now):
        await asyncio.sleep(min(1.0, latest + 1 - now))
    return int(time.time())


# ------------------------------------------------------------------ what revokes tokens


async def revoke_access_token(session: AsyncSession, claims: Mapping[str, Any]) -> None:
    """One access token, by ``jti`` (revocation endpoint)."""
    now = int(time.time())
    await deny(
        session,
        claim="jti",
        value=str(claims["jti"]),
        tenant=str(claims["tenant"]),
        subject=f"client:{claims.get('client_id')}",
        issued_before=now,
        ttl=max(0, int(claims["exp"]) - now),
    )


async def revoke_grant(
    session: AsyncSession, *, family_id: str, client_id: str, tenant: str, ttl: int
) -> None:
    """Everything one login gave a client: the refresh-token family and every access token
    issued from its code or its refreshes (``gid``)."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await deny(
        session,
        claim="gid",
        value=family_id,
        tenant=tenant,
        subject=f"client:{client_id}",
        issued_before=int(time.time()),
        ttl=ttl,
    )


async def end_sessions(session: AsyncSession, rows: Iterable[LoginSession], ttl: int) -> None:
    """End login sessions (logout, password reset, deletion): the browser logs in again and
    the access tokens issued in them so far are refused (``sid``)."""
    now = int(time.time())
    for row in rows:
        await session.execute(delete(LoginSession).where(LoginSession.id == row.id))
        await deny(
            session,
            claim="sid",
            value=row.id,
            tenant=row.tenant,
            subject=f"user:{row.user_id}",
            issued_before=now,
            ttl=ttl,
        )


async def sessions_of(session: AsyncSession, user_id: str) -> list[LoginSession]:
    rows = await session.execute(select(LoginSession).where(LoginSession.user_id == user_id))
    return list(rows.scalars())


async def revoke_user_tokens(session: AsyncSession, user: User, default_ttl: int) -> None:
    """Every token of a person (account deleted): each grant whose access tokens may still
    live, and each open session."""
    ttl = await longest_access_ttl(session, default_ttl)
    since = utcnow() - timedelta(seconds=ttl + LEEWAY_SECONDS)
    grants = set(
        (
            await session.execute(
                select(AuthorizationCode.family_id, AuthorizationCode.client_id).where(
                    AuthorizationCode.user_id == user.id, AuthorizationCode.used_at >= since
                )
            )
        ).tuples()
    ) | set(
        (
            await session.execute(
                select(RefreshToken.family_id, RefreshToken.client_id).where(
                    RefreshToken.user_id == user.id, RefreshToken.created_at >= since
                )
            )
        ).tuples()
    )
    for family_id, client_id in sorted(grants):
        await revoke_grant(
            session, family_id=family_id, client_id=client_id, tenant=user.tenant, ttl=ttl
        )
    await end_sessions(session, await sessions_of(session, user.id), ttl)


async def delete_user(
    session: AsyncSession,
    *,
    tenant: str,
    user_id: str,
    default_ttl: int,
    erasing_services: Sequence[str] = ERASING_SERVICES,
) -> str:
    """Erase an account (``user.deleted``) after revoking every token it holds; the id of
    the erasure report that follows the other services' answers."""
    user = await directory.get_user(session, tenant=tenant, user_id=user_id)
    await revoke_user_tokens(session, user, default_ttl)
    erasure_id = await directory.delete_user(session, tenant=tenant, user_id=user.id)
    await erasures.record(
        session,
        erasure_id=erasure_id,
        tenant=tenant,
        user_id=user.id,
        services=erasing_services,
    )
    return erasure_id


# ------------------------------------------------------------------ clients


async def _revoke_client_tokens(session: AsyncSession, client: Client, default_ttl: int) -> None:
    """Every token the client holds: refresh tokens here, access tokens everywhere."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.client_id == client.client_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await deny(
        session,
        claim="client_id",
        value=client.client_id,
        tenant=client.tenant,
        subject=f"client:{client.client_id}",
        issued_before=int(time.time()),
        ttl=client_ttl(client, default_ttl),
    )


async def set_client_enabled(
    session: AsyncSession, client: Client, *, enabled: bool, default_ttl: int
) -> None:
    """Disable a client (no more tokens; its access tokens refused everywhere, its refresh
    tokens revoked) or enable it again (new logins work; the old tokens stay refused)."""
    if enabled:
        client.disabled_at = None
    elif client.disabled_at is None:
        client.disabled_at = utcnow()
        await _revoke_client_tokens(session, client, default_ttl)
    await session.flush()


async def delete_client(session: AsyncSession, client: Client, *, default_ttl: int) -> None:
    """Remove a client, its codes and refresh tokens; its access tokens are refused."""
    await _revoke_client_tokens(session, client, default_ttl)
    await session.execute(
        delete(AuthorizationCode).where(AuthorizationCode.client_id == client.client_id)
    )
    await session.execute(delete(RefreshToken).where(RefreshToken.client_id == client.client_id))
    await session.delete(client)
    await session.flush()


async def rotate_client_secret(
    session: AsyncSession, client: Client, *, revoke_tokens: bool, default_ttl: int
) -> str:
    """A new secret (the old one stops at once); with ``revoke_tokens``, every access token
    the client holds stops too, and the refresh tokens it was given."""
    secret = await directory.reset_client_secret(session, client)
    if revoke_tokens:
        await _revoke_client_tokens(session, client, default_ttl)
        await session.flush()
    return secret
