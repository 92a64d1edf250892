"""Self-registration, e-mail verification and password reset: the accounts and the signed
links mailed to confirm an address or to set a new password."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy.ext.asyncio import AsyncSession

from socle.outbox import record_event
from socle_identity import directory, events, lifecycle
from socle_identity.authrequest import get_client
from socle_identity.models import Tenant, User
from socle_identity.passwords import digest
from socle_identity.provider import Provider

LINK_MAX_AGE = 24 * 3600
"""Seconds a verification link works."""
RESET_MAX_AGE = 3600
"""Seconds a password-reset link works."""


async def _commune_name(session: AsyncSession, tenant: str) -> str:
    """The commune's name for its mails (the slug if the tenant has none)."""
    row = await session.get(Tenant, tenant)
    return row.name if row is not None and row.name else tenant


async def register_citizen(
    provider: Provider,
    *,
    client_id: str,
    email: str,
    password: str,
    given_name: str,
    family_name: str,
    locale: str,
) -> None:
    """Create a citizen account (unverified) and publish ``user.registered`` with the
    verification link. An address already registered gets no second account and no error
    (the page does not reveal who has an account)."""
    directory.check_password(password)
    # Hashed before the transaction: under a burst argon2 queues, and a transaction open
    # meanwhile would hold a connection (on SQLite, the write lock) the rest of identity needs.
    hashed = await provider.passwords.hash(password)
    async with provider.sessions() as session, session.begin():
        client = await get_client(session, client_id)
        address = directory.normalise_email(email)
        if await directory.find_user(session, tenant=client.tenant, email=address):
            return
        user = await directory.create_user(
            session,
            provider.passwords,
            tenant=client.tenant,
            email=address,
            password=password,
            password_hash=hashed,
            roles=["citizen"],
            given_name=given_name.strip()[:200],
            family_name=family_name.strip()[:200],
            locale=locale,
        )
        await record_event(
            session,
            events.user_registered(
                tenant=user.tenant,
                user_id=user.id,
                locale=locale,
                commune=await _commune_name(session, user.tenant),
            ),
            aggregate=f"user:{user.id}",
        )


def _address_binding(provider: Provider, email: str) -> str:
    """What ties a verification link to the address it was mailed to, without the address:
    a keyed digest (a plain hash of an address is read back by trying likely addresses)."""
    key = provider.settings.secret_key.encode()
    return hmac.new(key, b"verify-email\0" + email.encode(), hashlib.sha256).hexdigest()[:32]


def verification_url(provider: Provider, user: User) -> str:
    """The link that confirms ``user``'s address: it names the account and binds the address
    by a keyed digest, so the address is in no browser's history or proxy's log, and a link
    mailed before the address changed confirms nothing."""
    binding = _address_binding(provider, user.email)
    token = provider.signer.dumps({"uid": user.id, "ad": binding}, salt="verify")
    return f"{provider.issuer}/verify-email?{urlencode({'token': token})}"


def _link_matches(provider: Provider, data: dict[str, object], user: User) -> bool:
    if "ad" in data:
        return hmac.compare_digest(str(data["ad"]), _address_binding(provider, user.email))
    # Links mailed before they left the address out carry it (``email``): they keep working
    # until they expire (``LINK_MAX_AGE`` after they were made), and none is made any more.
    return "email" in data and data["email"] == user.email


async def verify_email(provider: Provider, token: str) -> bool:
    try:
        data = provider.signer.loads(token, salt="verify", max_age=LINK_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return False
    if not isinstance(data, dict):
        return False
    async with provider.sessions() as session, session.begin():
        user = await session.get(User, str(data.get("uid")))
        if user is None or not _link_matches(provider, data, user):
            return False
        if not user.email_verified:
            user.email_verified = True
            await record_event(
                session,
                events.user_email_verified(tenant=user.tenant, user_id=user.id),
                aggregate=f"user:{user.id}",
            )
        return True


def _password_fingerprint(user: User) -> str:
    return digest(user.password_hash or "")[:16]


async def request_password_reset(
    provider: Provider, *, client_id: str, email: str, locale: str
) -> None:
    async with provider.sessions() as session, session.begin():
        client = await get_client(session, client_id)
        user = await directory.find_user(session, tenant=client.tenant, email=email.strip())
        if user is None:
            return
        await record_event(
            session,
            events.user_password_reset_requested(
                tenant=user.tenant,
                user_id=user.id,
                locale=locale,
                commune=await _commune_name(session, user.tenant),
            ),
            aggregate=f"user:{user.id}",
        )


def reset_url(provider: Provider, user: User) -> str:
    token = provider.signer.dumps({"uid": user.id, "pw": _password_fingerprint(user)}, salt="reset")
    return f"{provider.issuer}/password-reset/confirm?{urlencode({'token': token})}"


async def reset_password(provider: Provider, token: str, password: str) -> bool:
    """Set a new password from a reset link; the link works once (it names the old hash)."""
    try:
        data = provider.signer.loads(token, salt="reset", max_age=RESET_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return False
    async with provider.sessions() as session, session.begin():
        user = await session.get(User, str(data.get("uid")))
        if user is None or data.get("pw") != _password_fingerprint(user):
            return False
        await directory.set_password(session, provider.passwords, user, password)
        ttl = await lifecycle.longest_access_ttl(session, provider.settings.access_token_ttl)
        await lifecycle.end_sessions(session, await lifecycle.sessions_of(session, user.id), ttl)
        return True
