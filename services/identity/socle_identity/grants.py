"""The token endpoint and its grants: client credentials, authorization code (with PKCE) and
refresh-token rotation.

OAuth errors are Authlib's error classes (RFC 6749 section 5.2 names); the API layer renders
them as the specifications require.
"""

from __future__ import annotations

import re
from typing import Any

import structlog
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import utcnow
from socle_identity import scopes as sc
from socle_identity.client_auth import authenticate_client, cached_client, check_client
from socle_identity.models import AuthorizationCode, Client, RefreshToken, User
from socle_identity.passwords import digest
from socle_identity.provider import Provider
from socle_identity.tokens import Grant, issue, revoke_family, subject_for

log = structlog.get_logger("socle_identity.provider")

VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def _require_grant(client: Client, grant_type: str) -> None:
    if grant_type not in client.grant_types:
        raise UnauthorizedClientError(
            description=f"This client is not allowed the {grant_type} grant."
        )


async def client_credentials(
    provider: Provider,
    session: AsyncSession | None,
    client: Client,
    scope: str | None,
    *,
    revoked_before: int | None = None,
) -> dict[str, Any]:
    _require_grant(client, "client_credentials")
    requested = sc.split(scope)
    allowed = [s for s in client.scopes if s in sc.SERVICE_SCOPES]
    if requested:
        refused = [s for s in requested if s not in allowed]
        if refused:
            raise InvalidScopeError(
                description=f"Scope not allowed for this client: {' '.join(refused)}."
            )
        granted = requested
    else:
        granted = sc.default_client_scopes(client.scopes)
        if not granted:
            raise InvalidScopeError(
                description="Name the scopes you need in the scope parameter "
                "(administrative scopes are never given by default)."
            )
    grant = Grant(sub=client.client_id, tenant=client.tenant, scopes=granted, roles=client.roles)
    return await issue(
        provider, session, client, grant, family_id=None, revoked_before=revoked_before
    )


async def authorization_code(
    provider: Provider,
    session: AsyncSession,
    client: Client,
    *,
    code: str | None,
    redirect_uri: str | None,
    code_verifier: str | None,
) -> dict[str, Any]:
    """Exchange a code. A replayed code revokes what the first exchange issued; the caller
    commits before raising, so the revocation sticks."""
    _require_grant(client, "authorization_code")
    if not code:
        raise InvalidRequestError(description="The code parameter is missing.")
    row = await session.get(AuthorizationCode, digest(code), with_for_update=True)
    if row is None or row.client_id != client.client_id:
        raise InvalidGrantError(description="The authorization code is invalid.")
    if row.used_at is not None:
        log.warning("authorization_code_replayed", client_id=client.client_id, tenant=row.tenant)
        await revoke_family(provider, session, client, row.family_id, row.tenant)
        raise InvalidGrantError(
            description="The authorization code was already used; tokens issued with it "
            "are revoked."
        )
    row.used_at = utcnow()
    if row.expires_at <= utcnow():
        raise InvalidGrantError(description="The authorization code has expired.")
    if redirect_uri != row.redirect_uri:
        raise InvalidGrantError(
            description="redirect_uri differs from the one of the authorization request."
        )
    if row.code_challenge:
        if not code_verifier:
            raise InvalidGrantError(description="code_verifier is required (PKCE).")
        if not VERIFIER.match(code_verifier) or (
            create_s256_code_challenge(code_verifier) != row.code_challenge
        ):
            raise InvalidGrantError(description="code_verifier does not match the challenge.")
    elif code_verifier:
        raise InvalidGrantError(
            description="code_verifier sent but the authorization request had no challenge."
        )
    user = await session.get(User, row.user_id)
    if user is None:
        raise InvalidGrantError(description="The account no longer exists.")
    grant = Grant(
        sub=await subject_for(provider, session, client, user),
        tenant=user.tenant,
        scopes=sc.for_user([s for s in sc.split(row.scope) if s in client.scopes], user.roles),
        roles=list(user.roles),
        user=user,
        auth_time=row.auth_time,
        acr=row.acr,
        amr=list(row.amr),
        nonce=row.nonce,
        sid=row.session_id,
        gid=row.family_id,
    )
    return await issue(provider, session, client, grant, family_id=row.family_id)


async def refresh_token(
    provider: Provider,
    session: AsyncSession,
    client: Client,
    *,
    token: str | None,
    scope: str | None,
) -> dict[str, Any]:
    """Rotate a refresh token. A token presented twice revokes its whole family; the caller
    commits before raising."""
    _require_grant(client, "refresh_token")
    if not token:
        raise InvalidRequestError(description="The refresh_token parameter is missing.")
    row = await session.get(RefreshToken, digest(token), with_for_update=True)
    if row is None or row.client_id != client.client_id:
        raise InvalidGrantError(description="The refresh token is invalid.")
    if row.used_at is not None or row.revoked_at is not None:
        log.warning("refresh_token_reused", client_id=client.client_id, tenant=row.tenant)
        await revoke_family(provider, session, client, row.family_id, row.tenant)
        raise InvalidGrantError(
            description="The refresh token was already used or revoked; every token of this "
            "login is now revoked. Log in again."
        )
    if row.expires_at <= utcnow():
        raise InvalidGrantError(description="The refresh token has expired.")
    granted = sc.split(row.scope)
    requested = sc.split(scope)
    if requested:
        wider = [s for s in requested if s not in granted]
        if wider:
            raise InvalidScopeError(
                description=f"A refresh cannot widen the scope: {' '.join(wider)}."
            )
        granted = requested
    row.used_at = utcnow()
    user = await session.get(User, row.user_id)
    if user is None:
        raise InvalidGrantError(description="The account no longer exists.")
    grant = Grant(
        sub=await subject_for(provider, session, client, user),
        tenant=user.tenant,
        scopes=sc.for_user([s for s in granted if s in client.scopes], user.roles),
        roles=list(user.roles),
        user=user,
        auth_time=row.auth_time,
        acr=row.acr,
        amr=list(row.amr),
        sid=row.session_id,
        gid=row.family_id,
    )
    return await issue(provider, session, client, grant, family_id=row.family_id)


async def client_credentials_from_cache(
    provider: Provider, client_auth: dict[str, str | None], form: dict[str, str]
) -> dict[str, Any] | None:
    """A client-credentials token for a client presenting a secret, from its cached record
    (no database, nothing written); None when the request is anything else or the client is
    not in memory (the caller takes the database path). Raises the grant's refusals."""
    if form.get("grant_type") != "client_credentials":
        return None
    cached = await cached_client(provider, client_auth)
    if cached is None:
        return None
    method = client_auth.get("method") or "none"
    status = 401 if method == "client_secret_basic" else 400
    client = check_client(cached.client, method, client_auth.get("client_secret"), status)
    return await client_credentials(
        provider, None, client, form.get("scope"), revoked_before=cached.revoked_before
    )


async def token_endpoint(
    provider: Provider, client_auth: dict[str, str | None], form: dict[str, str]
) -> dict[str, Any]:
    """One transaction per token request. A grant's refusal is raised after the commit, so
    what it recorded sticks: a code is burnt by any failed exchange, a replayed code or a
    reused refresh token revokes its family.

    Client credentials with a client secret touch no database when the client is cached
    (:mod:`socle_identity.cache`): nothing is written on that path."""
    answered = await client_credentials_from_cache(provider, client_auth, form)
    if answered is not None:
        return answered
    deferred: OAuth2Error | None = None
    async with provider.sessions() as session:
        async with session.begin():
            client = await authenticate_client(session, provider, client_auth)
            grant_type = form.get("grant_type")
            try:
                if grant_type == "client_credentials":
                    return await client_credentials(provider, session, client, form.get("scope"))
                if grant_type == "authorization_code":
                    return await authorization_code(
                        provider,
                        session,
                        client,
                        code=form.get("code"),
                        redirect_uri=form.get("redirect_uri"),
                        code_verifier=form.get("code_verifier"),
                    )
                if grant_type == "refresh_token":
                    return await refresh_token(
                        provider,
                        session,
                        client,
                        token=form.get("refresh_token"),
                        scope=form.get("scope"),
                    )
            except OAuth2Error as exc:
                deferred = exc
            if deferred is None:
                if not grant_type:
                    raise InvalidRequestError(description="The grant_type parameter is missing.")
                raise UnsupportedGrantTypeError(grant_type[:40])
        raise deferred
