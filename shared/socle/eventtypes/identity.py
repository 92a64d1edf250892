"""Events of the identity service: accounts, clients, tokens and signing keys."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from socle.events import EventData


class _Identity(EventData):
    SERVICE = "identity"


class UserRegistered(_Identity):
    """A citizen registered; notify mails them the verification link, which it asks identity
    for (the event carries neither the address nor the link)."""

    TYPE = "user.registered"
    user_id: str
    locale: str = Field(description="The language the person chose (fr, de, it or en).")
    commune: str = Field(description="The commune's name, for the mail.")


class UserEmailVerified(_Identity):
    TYPE = "user.email_verified"
    user_id: str


class UserPasswordResetRequested(_Identity):
    TYPE = "user.password_reset_requested"
    user_id: str
    locale: str = Field(description="The language of the page the reset was asked from.")
    commune: str = Field(description="The commune's name, for the mail.")


class UserDeleted(_Identity):
    TYPE = "user.deleted"
    user_id: str = Field(min_length=1, description="Erase or anonymise this person's data.")


class ClientRegistered(_Identity):
    TYPE = "client.registered"
    client_id: str
    name: str
    client_type: Literal["public", "confidential"]
    grant_types: list[str]
    scopes: list[str]


class TokenRevoked(_Identity):
    TYPE = "token.revoked"
    claim: Literal["jti", "sid", "gid", "client_id"] = Field(
        description="the access-token claim to match"
    )
    value: str
    issued_before: int = Field(
        description="unix seconds; tokens with iat <= issued_before are refused"
    )
    expires_at: int = Field(
        description="unix seconds after which every matching token has expired (the longest "
        "access-token lifetime concerned, plus a minute of clock leeway)"
    )


class KeyRotated(_Identity):
    TYPE = "key.rotated"
    alg: str
    active_kid: str
    previous_kid: str | None
    next_kid: str
    previous_published_until: datetime | None


class PersonExportAvailable(_Identity):
    """Every part of a person's export is in: notify mails the person the link (valid until
    ``expires_at``; the download also needs the person's login at identity). No address:
    notify asks identity for it when it mails (``socle.account_mails``)."""

    TYPE = "person.export.available"
    user_id: str
    locale: str
    export_id: str
    download_url: str
    expires_at: str
    commune: str


EVENTS: tuple[type[EventData], ...] = (
    UserRegistered,
    UserEmailVerified,
    UserPasswordResetRequested,
    UserDeleted,
    ClientRegistered,
    TokenRevoked,
    KeyRotated,
    PersonExportAvailable,
)
