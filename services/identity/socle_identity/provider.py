"""The OpenID provider's use cases: client authentication, the token endpoint's grants,
authorization codes, refresh-token rotation, introspection, revocation, userinfo.

OAuth errors are Authlib's error classes (RFC 6749 section 5.2 names); the API layer renders
them as the specifications require.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import jwt
import structlog
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core.util import create_half_hash
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.auth import InvalidToken, Principal, TokenVerifier
from socle.db import read_only, utcnow
from socle.revocation import DenyList
from socle_identity import lifecycle
from socle_identity import scopes as sc
from socle_identity.cache import CachedClient, ClientCache, watch_changes
from socle_identity.directory import UnknownUser, get_user
from socle_identity.keys import KeyRing, OwnKeys
from socle_identity.models import (
    AuthorizationCode,
    Client,
    ClientAssertion,
    PairwiseSubject,
    RefreshToken,
    User,
)
from socle_identity.passwords import Passwords, digest, new_secret, same_digest
from socle_identity.settings import IdentitySettings

log = structlog.get_logger("socle_identity.provider")

ACR_LOW = "urn:socle:loa:low"
ACR_SUBSTANTIAL = "urn:socle:loa:substantial"
ACR_LEVELS = (ACR_LOW, ACR_SUBSTANTIAL)
VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


class RevocationAwareVerifier(TokenVerifier):
    """Verifies the provider's own access tokens (keys from its database) and refuses
    revoked ones (by jti, session, grant or client; a disabled or deleted client) on the
    spot, from its own database."""

    def __init__(self, issuer: str, audience: str, keys: KeyRing) -> None:
        super().__init__(issuer=issuer, audience=audience, jwks=OwnKeys(keys))
        self.keys = keys

    async def verify(self, token: str) -> Principal:
        principal = await super().verify(token)
        async with self.keys.sessions() as session, session.begin():
            await read_only(session)
            reason = await lifecycle.refusal(session, principal.claims)
        if reason is not None:
            raise InvalidToken(reason)
        return principal


@dataclass
class Provider:
    """Everything the use cases need, built once per application."""

    settings: IdentitySettings
    sessions: async_sessionmaker[AsyncSession]
    keys: KeyRing
    passwords: Passwords
    signer: URLSafeTimedSerializer
    verifier: TokenVerifier
    clients: ClientCache
    deny: DenyList | None = None
    """Revocations seen on the bus: another process disabling a client drops our copy."""

    @classmethod
    def build(
        cls,
        settings: IdentitySettings,
        sessions: async_sessionmaker[AsyncSession],
        deny: DenyList | None = None,
    ) -> Provider:
        keys = KeyRing(sessions, settings.key_encryption(), settings.cache_seconds)
        clients = ClientCache(sessions, settings.cache_seconds)
        watch_changes(sessions, on_clients=clients.invalidate, on_keys=keys.invalidate)
        return cls(
            settings=settings,
            sessions=sessions,
            keys=keys,
            clients=clients,
            deny=deny,
            passwords=Passwords(
                time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
            ),
            signer=URLSafeTimedSerializer(settings.secret_key, salt="socle-identity"),
            verifier=RevocationAwareVerifier(settings.issuer, sc.IDENTITY_AUDIENCE, keys),
        )

    @property
    def issuer(self) -> str:
        return self.settings.issuer.rstrip("/")

    def token_ttls(self) -> tuple[int, ...]:
        return (self.settings.access_token_ttl, self.settings.id_token_ttl)


# ------------------------------------------------------------------ client authentication


JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


async def authenticate_client(
    session: AsyncSession, provider: Provider, client_auth: Mapping[str, str | None]
) -> Client:
    """``client_auth["method"]`` is how the caller presented itself: client_secret_basic,
    client_secret_post, private_key_jwt (``assertion``) or none (client_id only)."""
    method = client_auth.get("method") or "none"
    client_id = client_auth.get("client_id")
    client_secret = client_auth.get("client_secret")
    status = 401 if method == "client_secret_basic" else 400
    if not client_id:
        raise InvalidClientError(
            description="Authenticate the client (HTTP Basic or client_id and client_secret).",
            status_code=401,
        )
    client = await session.get(Client, client_id)
    if client is None:
        raise InvalidClientError(description="Unknown client.", status_code=status)
    if method == "private_key_jwt" and method == client.token_endpoint_auth_method:
        _check_client(client, method, None, status)
        await _check_assertion(session, provider, client, client_auth.get("assertion") or "")
        return client
    return _check_client(client, method, client_secret, status)


def _check_client(client: Client, method: str, client_secret: str | None, status: int) -> Client:
    """Everything but a private_key_jwt assertion: enabled, the registered method, the
    secret (a SHA-256 digest of a random secret: no slow hash to amortise)."""
    if client.disabled_at is not None:
        raise InvalidClientError(description="This client is disabled.", status_code=status)
    if client.public:
        if method != "none" or client_secret:
            raise InvalidClientError(
                description="A public client sends only its client_id.", status_code=status
            )
        return client
    if method != client.token_endpoint_auth_method:
        raise InvalidClientError(
            description=f"This client authenticates with {client.token_endpoint_auth_method}.",
            status_code=status,
        )
    if method == "private_key_jwt":
        return client
    if not client_secret or not same_digest(client.secret_hash, client_secret):
        raise InvalidClientError(description="Client authentication failed.", status_code=status)
    return client


def _assertion_keys(client: Client, alg: str, kid: object) -> list[Any]:
    """The client's keys that may have signed with ``alg``: a key without ``alg`` serves
    every algorithm of its type (an RSA key: RS256 and PS256)."""
    kty = "EC" if alg.startswith("ES") else "RSA"
    keys: list[Any] = []
    for jwk in (client.jwks or {}).get("keys", []):
        if not isinstance(jwk, dict) or jwk.get("kty") != kty or jwk.get("alg", alg) != alg:
            continue
        if kid is not None and jwk.get("kid") != kid:
            continue
        try:
            keys.append(jwt.PyJWK(jwk, algorithm=alg).key)
        except jwt.PyJWTError:
            continue
    return keys


async def _check_assertion(
    session: AsyncSession, provider: Provider, client: Client, assertion: str
) -> None:
    """RFC 7523 client assertion: signed by a key of the client's JWKS, iss = sub =
    client_id, aud = the issuer or one of its endpoints, short-lived, never replayed."""
    refused = InvalidClientError(description="The client assertion is not valid.")
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        raise refused from exc
    alg = header.get("alg")
    if alg not in sc.ASSERTION_ALGS:
        raise refused
    candidates = _assertion_keys(client, alg, header.get("kid"))
    base = provider.issuer
    audiences = [base, f"{base}/token", f"{base}/introspect", f"{base}/revoke"]
    for key in candidates:
        try:
            claims = jwt.decode(
                assertion,
                key=key,
                algorithms=[alg],
                audience=audiences,
                issuer=client.client_id,
                options={"require": ["exp", "iss", "sub", "aud", "jti"]},
            )
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as exc:
            raise refused from exc
        if claims["sub"] != client.client_id or int(claims["exp"]) > time.time() + 3660:
            raise refused
        marker = f"{client.client_id}:{claims['jti']}"[:255]
        if await session.get(ClientAssertion, marker) is not None:
            raise InvalidClientError(description="The client assertion was already used.")
        session.add(
            ClientAssertion(
                jti=marker,
                expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=UTC),
            )
        )
        await session.flush()
        return
    raise refused


# ------------------------------------------------------------------ tokens


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


async def _issue(
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


def _require_grant(client: Client, grant_type: str) -> None:
    if grant_type not in client.grant_types:
        raise UnauthorizedClientError(
            description=f"This client is not allowed the {grant_type} grant."
        )


# ------------------------------------------------------------------ grants


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
    return await _issue(
        provider, session, client, grant, family_id=None, revoked_before=revoked_before
    )


@dataclass
class CodeRequest:
    client: Client
    user: User
    redirect_uri: str
    scopes: list[str]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: datetime
    acr: str
    amr: list[str]
    session_id: str | None = None


async def create_code(provider: Provider, session: AsyncSession, request: CodeRequest) -> str:
    code = new_secret()
    session.add(
        AuthorizationCode(
            code_hash=digest(code),
            client_id=request.client.client_id,
            user_id=request.user.id,
            tenant=request.user.tenant,
            redirect_uri=request.redirect_uri,
            scope=" ".join(request.scopes),
            nonce=request.nonce,
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
            auth_time=request.auth_time,
            acr=request.acr,
            amr=request.amr,
            family_id=uuid.uuid4().hex,
            session_id=request.session_id,
            expires_at=utcnow() + timedelta(seconds=provider.settings.code_ttl),
        )
    )
    await session.flush()
    return code


async def _revoke_family(
    provider: Provider, session: AsyncSession, client: Client, family_id: str, tenant: str
) -> None:
    await lifecycle.revoke_grant(
        session,
        family_id=family_id,
        client_id=client.client_id,
        tenant=tenant,
        ttl=access_ttl(provider, client),
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
        await _revoke_family(provider, session, client, row.family_id, row.tenant)
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
    return await _issue(provider, session, client, grant, family_id=row.family_id)


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
        await _revoke_family(provider, session, client, row.family_id, row.tenant)
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
    return await _issue(provider, session, client, grant, family_id=row.family_id)


async def token_endpoint(
    provider: Provider, client_auth: dict[str, str | None], form: dict[str, str]
) -> dict[str, Any]:
    """One transaction per token request. A grant's refusal is raised after the commit, so
    what it recorded sticks: a code is burnt by any failed exchange, a replayed code or a
    reused refresh token revokes its family.

    Client credentials with a client secret touch no database when the client is cached
    (:mod:`socle_identity.cache`): nothing is written on that path."""
    if form.get("grant_type") == "client_credentials":
        cached = await _cached_client(provider, client_auth)
        if cached is not None:
            method = client_auth.get("method") or "none"
            status = 401 if method == "client_secret_basic" else 400
            client = _check_client(cached.client, method, client_auth.get("client_secret"), status)
            return await client_credentials(
                provider, None, client, form.get("scope"), revoked_before=cached.revoked_before
            )
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


SECRET_METHODS = ("client_secret_basic", "client_secret_post")


async def _cached_client(
    provider: Provider, client_auth: Mapping[str, str | None]
) -> CachedClient | None:
    """The cached record of a client presenting a secret, or None (take the database path)."""
    client_id = client_auth.get("client_id")
    if not client_id or client_auth.get("method") not in SECRET_METHODS:
        return None
    cached = await provider.clients.get(client_id)
    if cached is None:
        return None
    deny = provider.deny
    if deny is not None and deny.refuses(
        cached.client.tenant, {"client_id": client_id, "iat": cached.loaded_at}
    ):  # revoked (disabled, deleted, re-keyed) at or after we read it: read it again
        provider.clients.invalidate([client_id])
        cached = await provider.clients.get(client_id)
    return cached


# ------------------------------------------------------------------ introspection, revocation


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
                await _revoke_family(provider, session, client, row.family_id, row.tenant)
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
