"""Minting tokens: access tokens, ID tokens, refresh tokens, the subject a client knows a person
by, and revoking what one grant issued."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import jwt
from authlib.oidc.core.util import create_half_hash
from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import utcnow
from socle_identity import lifecycle
from socle_identity import scopes as sc
from socle_identity.models import Client, PairwiseSubject, RefreshToken, User
from socle_identity.passwords import digest, new_secret
from socle_identity.provider import ACR_LOW, Provider


@dataclass
class Grant:
    """What a token carries about the person or client it was issued for."""

    sub: str
    tenant: str
    scopes: list[str]
    roles: list[str]
    user: User | None = None
    auth_time: datetime | None = None
    acr: str | None = None
    amr: list[str] | None = None
    nonce: str | None = None
    sid: str | None = None
    """The login session the token comes from."""
    gid: str | None = None
    """The grant: shared by the tokens of one authorization code and its refreshes."""


async def _sign(
    provider: Provider, session: AsyncSession | None, alg: str, claims: dict[str, Any], typ: str
) -> str:
    kid, key = await provider.keys.signing_key(session, alg)
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, "typ": typ})


def access_ttl(provider: Provider, client: Client) -> int:
    return client.access_token_ttl or provider.settings.access_token_ttl


async def mint_access_token(
    provider: Provider,
    session: AsyncSession | None,
    client: Client,
    grant: Grant,
    *,
    revoked_before: int | None = None,
) -> tuple[str, int]:
    """Without a session (a cached client), ``revoked_before`` is the latest revocation of
    the client's tokens."""
    if session is None:
        now = await lifecycle.wait_past(revoked_before)
    else:
        now = await lifecycle.wait_past_revocations(
            session, client_id=client.client_id, sid=grant.sid
        )
    ttl = access_ttl(provider, client)
    auds = sc.audiences(grant.scopes) or [client.client_id]
    claims: dict[str, Any] = {
        "iss": provider.issuer,
        "sub": grant.sub,
        "aud": auds[0] if len(auds) == 1 else auds,
        "exp": now + ttl,
        "iat": now,
        "nbf": now,
        "jti": uuid.uuid4().hex,
        "client_id": client.client_id,
        "scope": " ".join(grant.scopes),
        "tenant": grant.tenant,
        "roles": grant.roles,
    }
    if grant.auth_time is not None:
        claims["auth_time"] = int(grant.auth_time.timestamp())
    if grant.acr:
        claims["acr"] = grant.acr
    if grant.sid:
        claims["sid"] = grant.sid
    if grant.gid:
        claims["gid"] = grant.gid
    return await _sign(provider, session, client.signing_alg, claims, "at+jwt"), ttl


def user_claims(user: User, scopes: list[str]) -> dict[str, Any]:
    claims: dict[str, Any] = {"tenant": user.tenant, "roles": list(user.roles)}
    if "email" in scopes:
        claims.update(email=user.email, email_verified=bool(user.email_verified))
    if "profile" in scopes:
        name = f"{user.given_name} {user.family_name}".strip()
        claims.update(
            given_name=user.given_name,
            family_name=user.family_name,
            name=name or user.email,
            locale=user.locale,
        )
    return claims


async def mint_id_token(
    provider: Provider,
    session: AsyncSession,
    client: Client,
    grant: Grant,
    access_token: str,
) -> str:
    assert grant.user is not None
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": provider.issuer,
        "sub": grant.sub,
        "aud": client.client_id,
        "azp": client.client_id,
        "exp": now + provider.settings.id_token_ttl,
        "iat": now,
        "auth_time": int((grant.auth_time or utcnow()).timestamp()),
        "acr": grant.acr or ACR_LOW,
        "amr": grant.amr or ["pwd"],
        "at_hash": create_half_hash(access_token, client.signing_alg).decode(),
    }
    if grant.nonce:
        claims["nonce"] = grant.nonce
    claims.update(user_claims(grant.user, grant.scopes))
    return await _sign(provider, session, client.signing_alg, claims, "JWT")


async def issue(
    provider: Provider,
    session: AsyncSession | None,
    client: Client,
    grant: Grant,
    *,
    family_id: str | None,
    revoked_before: int | None = None,
) -> dict[str, Any]:
    access, ttl = await mint_access_token(
        provider, session, client, grant, revoked_before=revoked_before
    )
    body: dict[str, Any] = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": " ".join(grant.scopes),
    }
    if grant.user is None:
        return body
    assert session is not None, "tokens for a person are issued in a transaction"
    if "openid" in grant.scopes:
        body["id_token"] = await mint_id_token(provider, session, client, grant, access)
    if family_id and "refresh_token" in client.grant_types:
        refresh = new_secret()
        lifetime = client.refresh_token_ttl or provider.settings.refresh_token_ttl
        session.add(
            RefreshToken(
                token_hash=digest(refresh),
                family_id=family_id,
                client_id=client.client_id,
                user_id=grant.user.id,
                tenant=grant.tenant,
                scope=" ".join(grant.scopes),
                auth_time=grant.auth_time or utcnow(),
                acr=grant.acr or ACR_LOW,
                amr=grant.amr or ["pwd"],
                session_id=grant.sid,
                created_at=utcnow(),
                expires_at=utcnow() + timedelta(seconds=lifetime),
            )
        )
        body["refresh_token"] = refresh
    return body


def sector_of(client: Client) -> str:
    if client.sector_identifier:
        return client.sector_identifier
    hosts = sorted({urlsplit(uri).hostname or "" for uri in client.redirect_uris})
    return hosts[0] if hosts else client.client_id


async def subject_for(provider: Provider, session: AsyncSession, client: Client, user: User) -> str:
    """The ``sub`` this client knows the person by: the account id, or for pairwise clients
    an identifier of the person in the client's sector, which other sectors cannot link."""
    if client.subject_type != "pairwise":
        return user.id
    sector = sector_of(client)
    row = await session.get(PairwiseSubject, (sector, user.id))
    if row is None:
        raw = f"{sector}|{user.id}|{provider.settings.pairwise_salt}".encode()
        value = base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")
        row = PairwiseSubject(sector=sector, user_id=user.id, sub=value)
        session.add(row)
        await session.flush()
    return row.sub


async def revoke_family(
    provider: Provider, session: AsyncSession, client: Client, family_id: str, tenant: str
) -> None:
    await lifecycle.revoke_grant(
        session,
        family_id=family_id,
        client_id=client.client_id,
        tenant=tenant,
        ttl=access_ttl(provider, client),
    )
