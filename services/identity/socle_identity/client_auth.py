"""Client authentication at the token, introspection and revocation endpoints: client secrets,
RFC 7523 private_key_jwt assertions, and the cached clients of the client-credentials path.

OAuth errors are Authlib's error classes (RFC 6749 section 5.2 names); the API layer renders
them as the specifications require.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import jwt
from authlib.oauth2.rfc6749.errors import InvalidClientError
from sqlalchemy.ext.asyncio import AsyncSession

from socle_identity import scopes as sc
from socle_identity.cache import CachedClient
from socle_identity.models import Client, ClientAssertion
from socle_identity.passwords import same_digest
from socle_identity.provider import Provider

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


SECRET_METHODS = ("client_secret_basic", "client_secret_post")


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
        check_client(client, method, None, status)
        await _check_assertion(session, provider, client, client_auth.get("assertion") or "")
        return client
    return check_client(client, method, client_secret, status)


def check_client(client: Client, method: str, client_secret: str | None, status: int) -> Client:
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


async def cached_client(
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
