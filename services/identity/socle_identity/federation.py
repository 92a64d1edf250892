"""Federation: a tenant's citizens log in through an upstream OpenID provider (as a commune
would with FranceConnect, AGOV or the Swiss e-ID). The upstream identity is linked to a local
account; the rest of the login (code, tokens) is the provider's own."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import asdict
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import jwt
import structlog
from authlib.oauth2.rfc6749.errors import AccessDeniedError
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from cryptography.fernet import Fernet, InvalidToken
from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy.ext.asyncio import AsyncSession

from socle.problems import Unprocessable
from socle_identity import directory
from socle_identity.authrequest import (
    AuthRequest,
    PageError,
    asdict_params,
    load_request,
    validate_request,
)
from socle_identity.errors import UpstreamNotConfigured
from socle_identity.models import FederatedIdentity, UpstreamProvider, User
from socle_identity.provider import Provider
from socle_identity.sessions import Outcome, finish_login

log = structlog.get_logger("socle_identity.federation")

STATE_MAX_AGE = 600
CALLBACK_PATH = "/federation/callback"


def _fernet(provider: Provider) -> Fernet:
    digest = hashlib.sha256(f"federation|{provider.settings.secret_key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


async def configure(
    session: AsyncSession,
    provider: Provider,
    *,
    tenant: str,
    name: str,
    issuer: str,
    client_id: str,
    client_secret: str,
    scopes: str = "openid email profile",
) -> UpstreamProvider:
    """Set (or replace) the tenant's upstream provider. Runs inside the caller's
    transaction."""
    await directory.require_tenant(session, tenant)
    parts = urlsplit(issuer)
    loopback = parts.hostname in directory.LOOPBACK
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise Unprocessable(
            "The upstream issuer must be an https URL.", code="invalid-upstream-issuer"
        )
    if "openid" not in scopes.split():
        raise Unprocessable("The upstream scopes must include openid.", code="invalid-scope")
    secret = _fernet(provider).encrypt(client_secret.encode()).decode()
    row = await session.get(UpstreamProvider, tenant)
    if row is None:
        row = UpstreamProvider(tenant=tenant)
        session.add(row)
    row.name = name
    row.issuer = issuer.rstrip("/")
    row.client_id = client_id
    row.client_secret_encrypted = secret
    row.scopes = scopes
    await session.flush()
    return row


async def upstream_of(session: AsyncSession, tenant: str) -> UpstreamProvider:
    row = await session.get(UpstreamProvider, tenant)
    if row is None:
        raise UpstreamNotConfigured("This tenant has no upstream OpenID provider.")
    return row


async def upstream_name(provider: Provider, tenant: str) -> str | None:
    async with provider.sessions() as session:
        row = await session.get(UpstreamProvider, tenant)
        return row.name if row else None


async def _metadata(http: httpx.AsyncClient, issuer: str) -> dict[str, Any]:
    response = await http.get(f"{issuer}/.well-known/openid-configuration")
    response.raise_for_status()
    meta: dict[str, Any] = response.json()
    if meta.get("issuer", "").rstrip("/") != issuer:
        raise PageError("server_error", "The upstream provider's discovery names another issuer.")
    return meta


def _http() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=10.0)


async def start(provider: Provider, request_token: str) -> tuple[str, str]:
    """Where to send the browser upstream, and the signed state cookie to set."""
    request = load_request(provider, request_token)
    async with provider.sessions() as session:
        request, client = await validate_request(session, asdict_params(request))
        try:
            upstream = await upstream_of(session, client.tenant)
        except UpstreamNotConfigured as exc:
            raise PageError("invalid_request", exc.detail) from exc
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)  # RFC 7636: 43 to 128 characters
    try:
        async with _http() as http:
            meta = await _metadata(http, upstream.issuer)
    except httpx.HTTPError as exc:
        log.warning("upstream_unreachable", tenant=client.tenant, error=type(exc).__name__)
        raise PageError("temporarily_unavailable", "The upstream provider is unreachable.") from exc
    params = {
        "response_type": "code",
        "client_id": upstream.client_id,
        "redirect_uri": provider.issuer + CALLBACK_PATH,
        "scope": upstream.scopes,
        "state": state,
        "nonce": nonce,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    cookie = provider.signer.dumps(
        {
            "state": state,
            "nonce": nonce,
            "verifier": verifier,
            "tenant": client.tenant,
            "request": asdict(request),
        },
        salt="federation",
    )
    return f"{meta['authorization_endpoint']}?{urlencode(params)}", cookie


async def finish(provider: Provider, params: dict[str, str], cookie: str | None) -> Outcome:
    """The upstream sent the browser back: check state, redeem the code, verify the ID token,
    link or create the account, and complete the original authorization request."""
    try:
        saved = provider.signer.loads(cookie or "", salt="federation", max_age=STATE_MAX_AGE)
    except (BadSignature, SignatureExpired) as exc:
        raise PageError("invalid_request", "The login has expired; start again.") from exc
    if not secrets.compare_digest(str(saved["state"]), params.get("state", "")):
        raise PageError("invalid_request", "The state does not match this browser's login.")
    request = AuthRequest(**saved["request"])
    if params.get("error"):
        raise request.redirect_error(
            AccessDeniedError(description="The upstream provider did not authenticate the person.")
        )
    async with provider.sessions() as session:
        upstream = await upstream_of(session, str(saved["tenant"]))
        secret = _fernet(provider).decrypt(upstream.client_secret_encrypted.encode()).decode()
    try:
        claims = await _redeem(provider, upstream, secret, params.get("code", ""), saved)
    except (httpx.HTTPError, jwt.PyJWTError, KeyError, ValueError, InvalidToken) as exc:
        detail = {}
        if isinstance(exc, httpx.HTTPStatusError):
            detail = {"status": exc.response.status_code, "url": str(exc.request.url)}
            try:
                body = exc.response.json()
                detail["upstream_error"] = str(body.get("error", ""))[:64]
                detail["upstream_error_description"] = str(body.get("error_description", ""))[:200]
            except ValueError:
                pass
        log.warning(
            "upstream_login_failed", tenant=upstream.tenant, error=type(exc).__name__, **detail
        )
        raise PageError(
            "access_denied", "The upstream provider's answer could not be verified."
        ) from exc
    async with provider.sessions() as session, session.begin():
        request, client = await validate_request(session, asdict_params(request))
        user = await _link(provider, session, upstream, claims)
        return await finish_login(provider, session, request, client, user, ["fed"])


async def _redeem(
    provider: Provider,
    upstream: UpstreamProvider,
    secret: str,
    code: str,
    saved: dict[str, Any],
) -> dict[str, Any]:
    async with _http() as http:
        meta = await _metadata(http, upstream.issuer)
        response = await http.post(
            meta["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": provider.issuer + CALLBACK_PATH,
                "code_verifier": saved["verifier"],
            },
            auth=(upstream.client_id, secret),
        )
        response.raise_for_status()
        tokens = response.json()
        keyset = jwt.PyJWKSet.from_dict((await http.get(meta["jwks_uri"])).json())
        id_token = tokens["id_token"]
        kid = jwt.get_unverified_header(id_token).get("kid")
        key = next(k for k in keyset.keys if kid in (None, k.key_id))
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key=key.key,
            algorithms=[key.algorithm_name],
            audience=upstream.client_id,
            issuer=upstream.issuer,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
        if not secrets.compare_digest(str(claims.get("nonce", "")), str(saved["nonce"])):
            raise ValueError("nonce mismatch")
        if "email" not in claims and meta.get("userinfo_endpoint") and tokens.get("access_token"):
            info = await http.get(
                meta["userinfo_endpoint"],
                headers={"Authorization": f"Bearer {tokens['access_token']}"},
            )
            info.raise_for_status()
            extra = info.json()
            if extra.get("sub") != claims["sub"]:
                raise ValueError("userinfo names another subject")
            claims = {**extra, **claims}
        return claims


async def _link(
    provider: Provider, session: AsyncSession, upstream: UpstreamProvider, claims: dict[str, Any]
) -> User:
    """The local account of this upstream identity: already linked, or the account with the
    same verified e-mail address, or a new citizen account."""
    linked = await session.get(FederatedIdentity, (upstream.issuer, str(claims["sub"])))
    if linked is not None:
        user = await session.get(User, linked.user_id)
        if user is not None:
            return user
    email = claims.get("email")
    verified = claims.get("email_verified") is True
    if not email or not verified:
        raise PageError(
            "access_denied", "The upstream provider did not give a verified e-mail address."
        )
    user = await directory.find_user(session, tenant=upstream.tenant, email=str(email))
    if user is None:
        user = await directory.create_user(
            session,
            provider.passwords,
            tenant=upstream.tenant,
            email=str(email),
            password=secrets.token_urlsafe(24),
            roles=["citizen"],
            given_name=str(claims.get("given_name", ""))[:200],
            family_name=str(claims.get("family_name", ""))[:200],
            email_verified=True,
        )
        user.password_hash = None  # logs in upstream only, until a password is set (reset)
    session.add(
        FederatedIdentity(
            issuer=upstream.issuer,
            subject=str(claims["sub"]),
            user_id=user.id,
            tenant=upstream.tenant,
        )
    )
    await session.flush()
    return user
