"""Introspection (RFC 7662), revocation (RFC 7009) and userinfo: what the provider says about
its own tokens."""

from __future__ import annotations

from typing import Any

import jwt
from authlib.oauth2.rfc6749.errors import InvalidRequestError, UnauthorizedClientError
from sqlalchemy.ext.asyncio import AsyncSession

from socle.auth import InvalidToken, Principal
from socle.db import utcnow
from socle_identity import lifecycle
from socle_identity.client_auth import authenticate_client
from socle_identity.directory import get_user
from socle_identity.errors import UnknownUser
from socle_identity.models import RefreshToken, User
from socle_identity.passwords import digest
from socle_identity.provider import Provider
from socle_identity.tokens import revoke_family, subject_for, user_claims


async def _decode_own(
    provider: Provider, session: AsyncSession, token: str
) -> dict[str, Any] | None:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return None
    kid = header.get("kid")
    if not isinstance(kid, str) or header.get("typ") != "at+jwt":
        return None
    key = await provider.keys.verification_key(session, kid)
    if key is None:
        return None
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key.key,
            algorithms=[key.algorithm_name],
            issuer=provider.issuer,
            options={"verify_aud": False, "require": ["exp", "iat", "jti"]},
        )
    except jwt.PyJWTError:
        return None
    return None if await lifecycle.refusal(session, claims) is not None else claims


async def introspect(
    provider: Provider, client_auth: dict[str, str | None], token: str | None
) -> dict[str, Any]:
    async with provider.sessions() as session, session.begin():
        client = await authenticate_client(session, provider, client_auth)
        if client.public:
            raise UnauthorizedClientError(description="Public clients cannot introspect tokens.")
        if not token:
            raise InvalidRequestError(description="The token parameter is missing.")
        claims = await _decode_own(provider, session, token)
        if claims is not None:
            if claims.get("tenant") != client.tenant:
                return {"active": False}
            return {"active": True, "token_type": "Bearer", **claims}
        row = await session.get(RefreshToken, digest(token))
        if (
            row is None
            or row.client_id != client.client_id
            or row.used_at is not None
            or row.revoked_at is not None
            or row.expires_at <= utcnow()
        ):
            return {"active": False}
        return {
            "active": True,
            "token_type": "refresh_token",
            "client_id": row.client_id,
            "sub": await subject_for(provider, session, client, user)
            if (user := await session.get(User, row.user_id))
            else row.user_id,
            "scope": row.scope,
            "tenant": row.tenant,
            "exp": int(row.expires_at.timestamp()),
            "iat": int(row.created_at.timestamp()),
            "iss": provider.issuer,
        }


async def revoke(provider: Provider, client_auth: dict[str, str | None], token: str | None) -> None:
    """RFC 7009: revoke a refresh token (and its family) or an access token of this client;
    anything else is silently ignored."""
    async with provider.sessions() as session, session.begin():
        client = await authenticate_client(session, provider, client_auth)
        if not token:
            raise InvalidRequestError(description="The token parameter is missing.")
        row = await session.get(RefreshToken, digest(token))
        if row is not None:
            if row.client_id == client.client_id and row.revoked_at is None:
                await revoke_family(provider, session, client, row.family_id, row.tenant)
            return
        claims = await _decode_own(provider, session, token)
        if claims is not None and claims.get("client_id") == client.client_id:
            await lifecycle.revoke_access_token(session, claims)


async def userinfo(provider: Provider, principal: Principal) -> dict[str, Any]:
    async with provider.sessions() as session, session.begin():
        try:
            user = await get_user(session, tenant=principal.tenant, user_id=principal.subject)
        except UnknownUser as exc:
            raise InvalidToken("The account of this access token no longer exists.") from exc
        scopes = sorted(principal.scopes)
        return {"sub": principal.subject, **user_claims(user, scopes)}
