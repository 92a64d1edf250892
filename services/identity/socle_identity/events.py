"""Events the identity service publishes (through the outbox); their payloads are the
models of ``socle.eventtypes.identity``."""

from __future__ import annotations

from datetime import datetime

from socle.events import Event
from socle.eventtypes.identity import (
    ClientRegistered,
    KeyRotated,
    PersonExportAvailable,
    TokenRevoked,
    UserDeleted,
    UserEmailVerified,
    UserPasswordResetRequested,
    UserRegistered,
)

PLATFORM = "platform"


def user_registered(
    *, tenant: str, user_id: str, locale: str, commune: str
) -> Event[UserRegistered]:
    """No address, no link: notify asks identity for both when it mails
    (``socle.account_mails``)."""
    data = UserRegistered(user_id=user_id, locale=locale, commune=commune)
    return data.event(tenant=tenant, subject=f"user:{user_id}")


def export_available(
    *,
    tenant: str,
    user_id: str,
    locale: str,
    export_id: str,
    download_url: str,
    expires_at: str,
    commune: str,
) -> Event[PersonExportAvailable]:
    """Every part of a person's export is in: notify mails the person the link (and asks
    identity for the address, ``socle.account_mails``)."""
    return PersonExportAvailable(
        user_id=user_id,
        locale=locale,
        export_id=export_id,
        download_url=download_url,
        expires_at=expires_at,
        commune=commune,
    ).event(tenant=tenant, subject=f"export:{export_id}")


def user_email_verified(*, tenant: str, user_id: str) -> Event[UserEmailVerified]:
    return UserEmailVerified(user_id=user_id).event(tenant=tenant, subject=f"user:{user_id}")


def user_password_reset_requested(
    *, tenant: str, user_id: str, locale: str, commune: str
) -> Event[UserPasswordResetRequested]:
    """No address, no link: notify asks identity for both when it mails
    (``socle.account_mails``)."""
    data = UserPasswordResetRequested(user_id=user_id, locale=locale, commune=commune)
    return data.event(tenant=tenant, subject=f"user:{user_id}")


def user_deleted(*, tenant: str, user_id: str) -> Event[UserDeleted]:
    return UserDeleted(user_id=user_id).event(tenant=tenant, subject=f"user:{user_id}")


def client_registered(
    *,
    tenant: str,
    client_id: str,
    name: str,
    public: bool,
    grant_types: list[str],
    scopes: list[str],
) -> Event[ClientRegistered]:
    data = ClientRegistered(
        client_id=client_id,
        name=name,
        client_type="public" if public else "confidential",
        grant_types=grant_types,
        scopes=scopes,
    )
    return data.event(tenant=tenant, subject=f"client:{client_id}")


def key_rotated(
    *,
    alg: str,
    active_kid: str,
    previous_kid: str | None,
    next_kid: str,
    previous_published_until: datetime | None,
) -> Event[KeyRotated]:
    data = KeyRotated(
        alg=alg,
        active_kid=active_kid,
        previous_kid=previous_kid,
        next_kid=next_kid,
        previous_published_until=previous_published_until,
    )
    return data.event(tenant=PLATFORM, subject=f"key:{active_kid}")


def token_revoked(
    *,
    tenant: str,
    subject: str,
    claim: str,
    value: str,
    issued_before: int,
    expires_at: int,
) -> Event[TokenRevoked]:
    """Refuse every access token whose claim ``claim`` equals ``value`` and whose ``iat`` is at
    most ``issued_before``; the entry may be forgotten after ``expires_at`` (unix seconds)."""
    data = TokenRevoked.model_validate(
        {"claim": claim, "value": value, "issued_before": issued_before, "expires_at": expires_at}
    )
    return data.event(tenant=tenant, subject=subject)
