"""Use cases of the admin API and the operator CLI: tenants, clients, staff and citizens."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import jwt
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from socle.outbox import record_event
from socle.problems import Conflict, Unprocessable
from socle_identity import events
from socle_identity.errors import (
    InvalidClientSpec,
    InvalidUser,
    TenantExists,
    UnknownClient,
    UnknownTenant,
    UnknownUser,
    UserExists,
    WeakPassword,
)
from socle_identity.keys import SUPPORTED_ALGS
from socle_identity.models import (
    Client,
    LoginSession,
    PairwiseSubject,
    RefreshToken,
    Tenant,
    User,
)
from socle_identity.passwords import MIN_PASSWORD_LENGTH, Passwords, digest, new_secret
from socle_identity.scopes import (
    ALL_SCOPES,
    AUTH_METHODS,
    GRANT_TYPES,
    IDENTITY_AUDIENCE,
    ROLES,
    SUBJECT_TYPES,
)

FIRST_PARTY_CLIENT = IDENTITY_AUDIENCE
"""The ``client_id`` of the tokens identity issues to its own account pages; reserved."""

SLUG = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LOOPBACK = ("localhost", "127.0.0.1", "[::1]", "::1")


# ---------------------------------------------------------------- tenants


async def create_tenant(session: AsyncSession, *, slug: str, name: str) -> Tenant:
    """Create a commune. Runs inside the caller's transaction."""
    if not SLUG.match(slug):
        raise Unprocessable(
            "A tenant slug is 2-63 characters: lower-case letters, digits and '-', starting "
            "with a letter (for example 'vevey').",
            code="invalid-tenant-slug",
        )
    if await session.get(Tenant, slug) is not None:
        raise TenantExists(f"The tenant {slug!r} already exists.")
    tenant = Tenant(slug=slug, name=name or slug)
    session.add(tenant)
    await session.flush()
    return tenant


async def require_tenant(session: AsyncSession, slug: str) -> Tenant:
    tenant = await session.get(Tenant, slug)
    if tenant is None:
        raise UnknownTenant(
            f"The tenant {slug!r} does not exist; an operator creates it first (create-tenant)."
        )
    return tenant


# ---------------------------------------------------------------- clients


@dataclass
class ClientSpec:
    name: str
    public: bool = False
    redirect_uris: list[str] = field(default_factory=list)
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=lambda: ["openid"])
    grant_types: list[str] = field(default_factory=lambda: ["authorization_code"])
    token_endpoint_auth_method: str | None = None
    roles: list[str] = field(default_factory=list)
    signing_alg: str = "ES256"
    access_token_ttl: int | None = None
    refresh_token_ttl: int | None = None
    jwks: dict[str, Any] | None = None
    subject_type: str = "public"
    sector_identifier: str | None = None


def _check_redirect(uri: str, what: str) -> None:
    parts = urlsplit(uri)
    if parts.fragment or not parts.netloc or parts.scheme not in ("https", "http"):
        raise InvalidClientSpec(
            f"{what} {uri!r} must be an absolute https URL without a fragment.",
            code="invalid-redirect-uri",
        )
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise InvalidClientSpec(
            f"{what} {uri!r} uses http; only https is allowed, except for localhost.",
            code="invalid-redirect-uri",
        )


def validate_client_spec(spec: ClientSpec) -> str:
    """Check a registration; return the client authentication method."""
    unknown = [s for s in spec.scopes if s not in ALL_SCOPES]
    if unknown:
        raise InvalidClientSpec(
            f"Unknown scopes {', '.join(unknown)}; known scopes: {', '.join(ALL_SCOPES)}.",
            code="invalid-scope",
        )
    bad_grants = [g for g in spec.grant_types if g not in GRANT_TYPES]
    if bad_grants or not spec.grant_types:
        raise InvalidClientSpec(
            f"grant_types must be chosen among {', '.join(GRANT_TYPES)}.",
            code="invalid-grant-types",
        )
    method = spec.token_endpoint_auth_method or ("none" if spec.public else "client_secret_basic")
    if method not in AUTH_METHODS:
        raise InvalidClientSpec(
            f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}."
        )
    if spec.public and method != "none":
        raise InvalidClientSpec("A public client has no secret: its auth method is 'none'.")
    if not spec.public and method == "none":
        raise InvalidClientSpec(
            "A confidential client authenticates with client_secret_basic, "
            "client_secret_post or private_key_jwt; register a public client for apps "
            "that cannot keep a secret."
        )
    if spec.public and "client_credentials" in spec.grant_types:
        raise InvalidClientSpec(
            "A public client cannot use client_credentials: it cannot keep a secret.",
            code="invalid-grant-types",
        )
    if "authorization_code" in spec.grant_types and not spec.redirect_uris:
        raise InvalidClientSpec(
            "The authorization_code grant needs at least one redirect URI.",
            code="invalid-redirect-uri",
        )
    if "refresh_token" in spec.grant_types and "authorization_code" not in spec.grant_types:
        raise InvalidClientSpec(
            "refresh_token is only useful with authorization_code.", code="invalid-grant-types"
        )
    for uri in spec.redirect_uris:
        _check_redirect(uri, "The redirect URI")
    for uri in spec.post_logout_redirect_uris:
        _check_redirect(uri, "The post-logout redirect URI")
    if method == "private_key_jwt":
        keys = (spec.jwks or {}).get("keys")
        if not isinstance(keys, list) or not keys:
            raise InvalidClientSpec(
                'private_key_jwt needs the client\'s public keys: jwks {"keys": [...]}.',
                code="invalid-jwks",
            )
        try:
            jwt.PyJWKSet.from_dict({"keys": keys})
        except jwt.PyJWTError as exc:
            raise InvalidClientSpec(
                "jwks is not a valid JWK Set of public keys.", code="invalid-jwks"
            ) from exc
        if any("d" in k for k in keys):
            raise InvalidClientSpec(
                "jwks holds a private key: register only the public half.", code="invalid-jwks"
            )
    if spec.subject_type not in SUBJECT_TYPES:
        raise InvalidClientSpec(f"subject_type must be one of {', '.join(SUBJECT_TYPES)}.")
    if spec.signing_alg not in SUPPORTED_ALGS:
        raise InvalidClientSpec(f"signing_alg must be one of {', '.join(SUPPORTED_ALGS)}.")
    bad_roles = [r for r in spec.roles if r not in ROLES]
    if bad_roles:
        raise InvalidClientSpec(f"roles must be chosen among {', '.join(ROLES)}.")
    for ttl in (spec.access_token_ttl, spec.refresh_token_ttl):
        if ttl is not None and not 60 <= ttl <= 90 * 24 * 3600:
            raise InvalidClientSpec("Token lifetimes are between 60 seconds and 90 days.")
    if spec.access_token_ttl is not None and spec.access_token_ttl > 24 * 3600:
        raise InvalidClientSpec("An access token lives at most one day (86400 seconds).")
    return method


async def register_client(
    session: AsyncSession, *, tenant: str, spec: ClientSpec, client_id: str | None = None
) -> tuple[Client, str | None]:
    """Register a client; returns it with its secret (shown once, stored hashed)."""
    method = validate_client_spec(spec)
    await require_tenant(session, tenant)
    secret = None if spec.public or method == "private_key_jwt" else new_secret()
    client = Client(
        client_id=client_id or f"{tenant}-{secrets.token_hex(8)}",
        tenant=tenant,
        name=spec.name,
        public=spec.public,
        secret_hash=digest(secret) if secret else None,
        token_endpoint_auth_method=method,
        redirect_uris=list(spec.redirect_uris),
        post_logout_redirect_uris=list(spec.post_logout_redirect_uris),
        scopes=list(dict.fromkeys(spec.scopes)),
        grant_types=list(dict.fromkeys(spec.grant_types)),
        roles=list(spec.roles),
        signing_alg=spec.signing_alg,
        access_token_ttl=spec.access_token_ttl,
        refresh_token_ttl=spec.refresh_token_ttl,
        jwks=spec.jwks if method == "private_key_jwt" else None,
        subject_type=spec.subject_type,
        sector_identifier=spec.sector_identifier,
    )
    if client.client_id == FIRST_PARTY_CLIENT:
        raise Conflict(f"The client id {client_id!r} is reserved.", code="client-exists")
    if client_id and await session.get(Client, client_id) is not None:
        raise Conflict(f"The client id {client_id!r} is taken.", code="client-exists")
    session.add(client)
    await session.flush()
    await record_event(
        session,
        events.client_registered(
            tenant=tenant,
            client_id=client.client_id,
            name=client.name,
            public=client.public,
            grant_types=client.grant_types,
            scopes=client.scopes,
        ),
        aggregate=f"client:{client.client_id}",
    )
    return client, secret


async def reset_client_secret(session: AsyncSession, client: Client) -> str:
    """A new secret for a confidential client; the old one stops at once."""
    if client.public or client.token_endpoint_auth_method == "private_key_jwt":
        raise Conflict(
            "This client has no secret (public client or private_key_jwt).",
            code="client-has-no-secret",
        )
    secret = new_secret()
    client.secret_hash = digest(secret)
    await session.flush()
    return secret


async def get_client(session: AsyncSession, *, tenant: str, client_id: str) -> Client:
    client = await session.get(Client, client_id)
    if client is None or client.tenant != tenant:
        raise UnknownClient(f"No client {client_id!r} in this tenant.")
    return client


async def list_clients(session: AsyncSession, *, tenant: str) -> list[Client]:
    rows = await session.execute(
        select(Client).where(Client.tenant == tenant).order_by(Client.created_at)
    )
    return list(rows.scalars())


# ---------------------------------------------------------------- users


def normalise_email(email: str) -> str:
    email = email.strip()
    if not EMAIL.match(email) or len(email) > 320:
        raise InvalidUser(
            "Give a valid e-mail address, such as name@example.ch.", code="invalid-email"
        )
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"A password has at least {MIN_PASSWORD_LENGTH} characters.")


async def find_user(session: AsyncSession, *, tenant: str, email: str) -> User | None:
    row = await session.execute(
        select(User).where(User.tenant == tenant, func.lower(User.email) == email.lower())
    )
    return row.scalars().first()


async def create_user(
    session: AsyncSession,
    passwords: Passwords,
    *,
    tenant: str,
    email: str,
    password: str,
    roles: list[str],
    given_name: str = "",
    family_name: str = "",
    locale: str = "fr",
    email_verified: bool = False,
    password_hash: str | None = None,
) -> User:
    """``password_hash``: ``password`` hashed beforehand, outside the transaction (else it is
    hashed here, with the transaction open)."""
    await require_tenant(session, tenant)
    email = normalise_email(email)
    check_password(password)
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise InvalidUser(f"roles must be chosen among {', '.join(ROLES)}.", code="invalid-roles")
    if await find_user(session, tenant=tenant, email=email) is not None:
        raise UserExists("An account with this e-mail address already exists in this tenant.")
    user = User(
        id=uuid.uuid4().hex,
        tenant=tenant,
        email=email,
        password_hash=password_hash or await passwords.hash(password),
        roles=list(dict.fromkeys(roles)),
        given_name=given_name,
        family_name=family_name,
        locale=locale,
        email_verified=email_verified,
        failed_logins=0,
        totp_confirmed=False,
        recovery_codes=[],
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise UserExists(
            "An account with this e-mail address already exists in this tenant."
        ) from exc
    return user


async def get_user(session: AsyncSession, *, tenant: str, user_id: str) -> User:
    """By id, or by the pairwise subject identifier a client knows the person by."""
    user = await session.get(User, user_id)
    if user is None:
        found = await session.execute(
            select(User)
            .join(PairwiseSubject, PairwiseSubject.user_id == User.id)
            .where(PairwiseSubject.sub == user_id)
        )
        user = found.scalars().first()
    if user is None or user.tenant != tenant:
        raise UnknownUser(f"No user {user_id!r} in this tenant.")
    return user


async def set_password(
    session: AsyncSession, passwords: Passwords, user: User, password: str
) -> None:
    check_password(password)
    user.password_hash = await passwords.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    await session.flush()


async def delete_user(session: AsyncSession, *, tenant: str, user_id: str) -> str:
    """Erase the account, end its sessions and tokens, and tell the other services; the id
    of the ``user.deleted`` event."""
    user = await get_user(session, tenant=tenant, user_id=user_id)
    await session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    await session.execute(delete(RefreshToken).where(RefreshToken.user_id == user.id))
    await session.delete(user)
    await session.flush()
    event = events.user_deleted(tenant=tenant, user_id=user.id)
    await record_event(session, event, aggregate=f"user:{user.id}")
    return event.id
