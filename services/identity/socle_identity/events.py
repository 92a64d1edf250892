"""Events the identity service publishes (through the outbox)."""

from __future__ import annotations

from datetime import datetime

from socle.events import CloudEvent

SERVICE = "identity"
PLATFORM = "platform"


def user_registered(
    *, tenant: str, user_id: str, email: str, locale: str, verification_url: str, commune: str
) -> CloudEvent:
    return CloudEvent.new(
        service=SERVICE,
        type="user.registered",
        tenant=tenant,
        subject=f"user:{user_id}",
        data={
            "user_id": user_id,
            "email": email,
            "locale": locale,
            "verification_url": verification_url,
            "commune": commune,
        },
    )


def export_available(
    *,
    tenant: str,
    user_id: str,
    email: str,
    locale: str,
    export_id: str,
    download_url: str,
    expires_at: str,
    commune: str,
) -> CloudEvent:
    """Every part of a person's export is in: notify mails the person the link."""
    return CloudEvent.new(
        service=SERVICE,
        type="person.export.available",
        tenant=tenant,
        subject=f"export:{export_id}",
        data={
            "user_id": user_id,
            "email": email,
            "locale": locale,
            "export_id": export_id,
            "download_url": download_url,
            "expires_at": expires_at,
            "commune": commune,
        },
    )


def user_email_verified(*, tenant: str, user_id: str) -> CloudEvent:
    return CloudEvent.new(
        service=SERVICE,
        type="user.email_verified",
        tenant=tenant,
        subject=f"user:{user_id}",
        data={"user_id": user_id},
    )


def user_password_reset_requested(
    *, tenant: str, user_id: str, email: str, locale: str, reset_url: str, commune: str
) -> CloudEvent:
    return CloudEvent.new(
        service=SERVICE,
        type="user.password_reset_requested",
        tenant=tenant,
        subject=f"user:{user_id}",
        data={
            "user_id": user_id,
            "email": email,
            "locale": locale,
            "reset_url": reset_url,
            "commune": commune,
        },
    )


def user_deleted(*, tenant: str, user_id: str) -> CloudEvent:
    return CloudEvent.new(
        service=SERVICE,
        type="user.deleted",
        tenant=tenant,
        subject=f"user:{user_id}",
        data={"user_id": user_id},
    )


def client_registered(
    *,
    tenant: str,
    client_id: str,
    name: str,
    public: bool,
    grant_types: list[str],
    scopes: list[str],
) -> CloudEvent:
    return CloudEvent.new(
        service=SERVICE,
        type="client.registered",
        tenant=tenant,
        subject=f"client:{client_id}",
        data={
            "client_id": client_id,
            "name": name,
            "client_type": "public" if public else "confidential",
            "grant_types": grant_types,
            "scopes": scopes,
        },
    )


def key_rotated(
    *,
    alg: str,
    active_kid: str,
    previous_kid: str | None,
    next_kid: str,
    previous_published_until: datetime | None,
) -> CloudEvent:
    return CloudEvent.new(
        service=SERVICE,
        type="key.rotated",
        tenant=PLATFORM,
        subject=f"key:{active_kid}",
        data={
            "alg": alg,
            "active_kid": active_kid,
            "previous_kid": previous_kid,
            "next_kid": next_kid,
            "previous_published_until": previous_published_until.isoformat()
            if previous_published_until
            else None,
        },
    )


def token_revoked(
    *,
    tenant: str,
    subject: str,
    claim: str,
    value: str,
    issued_before: int,
    expires_at: int,
) -> CloudEvent:
    """Refuse every access token whose claim ``claim`` equals ``value`` and whose ``iat`` is at
    most ``issued_before``; the entry may be forgotten after ``expires_at`` (unix seconds)."""
    return CloudEvent.new(
        service=SERVICE,
        type="token.revoked",
        tenant=tenant,
        subject=subject,
        data={
            "claim": claim,
            "value": value,
            "issued_before": issued_before,
            "expires_at": expires_at,
        },
    )
