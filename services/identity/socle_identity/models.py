"""Tables of the identity service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from socle.db import NAMING, UTCDateTime, utcnow
from socle.privacy import PersonalData


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Tenant(Base):
    """A commune."""

    __tablename__ = "tenants"

    slug: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Client(Base):
    """An application registered by a commune (OAuth 2.0 client)."""

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.slug"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    secret_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    signing_alg: Mapped[str] = mapped_column(String(8), default="ES256")
    access_token_ttl: Mapped[int | None] = mapped_column(Integer, nullable=True)
    refresh_token_ttl: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    subject_type: Mapped[str] = mapped_column(String(8), default="public", server_default="public")
    sector_identifier: Mapped[str | None] = mapped_column(String(255), nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Set while the client is disabled: it gets no token and its tokens are refused."""


class User(Base):
    """A citizen or a member of a commune's staff."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant", "email", name="uq_users_tenant_email"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.slug"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    given_name: Mapped[str] = mapped_column(String(200), default="")
    family_name: Mapped[str] = mapped_column(String(200), default="")
    locale: Mapped[str] = mapped_column(String(8), default="fr")
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    totp_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """Time step of the last TOTP code accepted: a code is accepted once."""
    recovery_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SigningKey(Base):
    """A signing key: ``next`` (published, not used yet), ``active`` or ``retired``
    (published until ``retire_at``, when the last token it signed has expired)."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(8), index=True)
    status: Mapped[str] = mapped_column(String(8), index=True)
    private_key_sealed: Mapped[str] = mapped_column(Text)
    """The private key (PKCS#8 PEM) sealed with the key-encryption key (``sealing``)."""
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    retire_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuthorizationCode(Base):
    """A one-time authorization code (stored as a SHA-256 hash)."""

    __tablename__ = "authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    tenant: Mapped[str] = mapped_column(String(63))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(Text, nullable=True)
    code_challenge: Mapped[str | None] = mapped_column(String(128), nullable=True)
    code_challenge_method: Mapped[str | None] = mapped_column(String(8), nullable=True)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    acr: Mapped[str] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    family_id: Mapped[str] = mapped_column(String(32))
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RefreshToken(Base):
    """A refresh token (stored as a SHA-256 hash); rotation keeps one family per login."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    tenant: Mapped[str] = mapped_column(String(63))
    scope: Mapped[str] = mapped_column(Text)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    acr: Mapped[str] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TokenRevocation(Base):
    """Access tokens refused before their expiry: every token whose claim ``claim`` (``jti``,
    ``sid``, ``gid`` or ``client_id``) equals ``value`` and whose ``iat`` is at most
    ``issued_before`` (unix seconds). Forgotten after ``expires_at``, when every such token has
    expired. Each row is also published as a ``token.revoked`` event."""

    __tablename__ = "token_revocations"

    claim: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)
    issued_before: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LoginSession(Base):
    """A browser's login at the provider (single sign-on), ended by logout."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    tenant: Mapped[str] = mapped_column(String(63))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    acr: Mapped[str] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PairwiseSubject(Base):
    """The ``sub`` a person has in one sector (clients sharing a sector see the same)."""

    __tablename__ = "pairwise_subjects"
    __table_args__ = (UniqueConstraint("sector", "sub", name="uq_pairwise_subjects_sector"),)

    sector: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    sub: Mapped[str] = mapped_column(String(64), index=True)


class ClientAssertion(Base):
    """A private_key_jwt assertion already used (``<client_id>:<jti>``), refused if replayed."""

    __tablename__ = "client_assertions"

    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UpstreamProvider(Base):
    """An OpenID provider a tenant's citizens may log in with (FranceConnect, AGOV, e-ID)."""

    __tablename__ = "upstream_providers"

    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.slug"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret_encrypted: Mapped[str] = mapped_column(Text)
    scopes: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FederatedIdentity(Base):
    """An upstream identity (issuer, sub) linked to a local account."""

    __tablename__ = "federated_identities"

    issuer: Mapped[str] = mapped_column(String(500), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    tenant: Mapped[str] = mapped_column(String(63))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Consent(Base):
    """What a person allowed a client on the consent page (``prompt=consent``)."""

    __tablename__ = "consents"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.client_id", ondelete="CASCADE"), primary_key=True
    )
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Erasure(Base):
    """A person's account erased here, and the other services asked to erase theirs; its id is
    that of the ``user.deleted`` event."""

    __tablename__ = "erasures"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The services expected to answer ``person.erased``."""


class ErasureAnswer(Base):
    """One service's ``person.erased`` for an erasure: what it erased, what it kept and why."""

    __tablename__ = "erasure_answers"

    erasure_id: Mapped[str] = mapped_column(
        ForeignKey("erasures.id", ondelete="CASCADE"), primary_key=True
    )
    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON)


class Export(Base):
    """A person's data asked for (right of access); its id is that of the
    ``person.export.requested`` event."""

    __tablename__ = "exports"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The services expected to answer ``person.export.ready``."""
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When the person was told the export is ready (the link's time starts then)."""
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    """When the link stops working and the parts are deleted."""
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When the parts were deleted from storage."""


class ExportAnswer(Base):
    """One service's ``person.export.ready``: where its part lies and its counts."""

    __tablename__ = "export_answers"

    export_id: Mapped[str] = mapped_column(
        ForeignKey("exports.id", ondelete="CASCADE"), primary_key=True
    )
    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    object: Mapped[str] = mapped_column(String(255))
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)


#: The register of processing activities (``make privacy-register``).
PERSONAL_DATA: tuple[PersonalData, ...] = (
    PersonalData(
        columns=(
            "users.email",
            "users.given_name",
            "users.family_name",
            "users.locale",
            "users.roles",
            "users.email_verified",
        ),
        data="e-mail, given and family name, locale, roles",
        purpose="log the person in; tell services who they are (ID token claims by scope)",
        legal_basis="public task; the person's account request",
        retention="until the account is deleted",
    ),
    PersonalData(
        columns=(
            "users.password_hash",
            "users.totp_secret",
            "users.recovery_codes",
            "users.failed_logins",
            "users.locked_until",
        ),
        data="password hash (Argon2id), second factor, failed logins, lock",
        purpose="authentication, brute-force protection",
        legal_basis="public task (security of processing)",
        retention="until the account is deleted",
    ),
    PersonalData(
        columns=(
            "login_sessions.user_id",
            "refresh_tokens.user_id",
            "authorization_codes.user_id",
            "consents.user_id",
            "consents.scopes",
        ),
        data="login sessions, authorization codes, refresh tokens, consents",
        purpose="single sign-on, token renewal, remembered consent",
        legal_basis="public task",
        retention="their lifetime; removed with the account",
    ),
    PersonalData(
        columns=(
            "pairwise_subjects.user_id",
            "pairwise_subjects.sub",
            "federated_identities.subject",
            "federated_identities.user_id",
        ),
        data="pairwise subjects, federated identities",
        purpose="one identifier per sector; login through the upstream provider",
        legal_basis="public task",
        retention="until the account is deleted (cascade)",
    ),
    PersonalData(
        columns=("erasures.user_id", "erasure_answers.outcome"),
        data="erasure reports: the erased account id, the services' answers (counts, reasons)",
        purpose="proof the erasure was carried out",
        legal_basis="legal obligation (accountability)",
        retention="SOCLE_ERASURE_RECORD_DAYS (365 days) after the erasure was asked, then deleted",
    ),
    PersonalData(
        columns=("exports.user_id",),
        data="exports asked for: the person's account id and the times",
        purpose="gather the person's data (right of access) and send the link",
        legal_basis="legal obligation (right of access)",
        retention="the parts are deleted when the link expires (SOCLE_EXPORT_LINK_SECONDS); "
        "the row stays as proof of the answer SOCLE_EXPORT_RECORD_DAYS (30 days) more, then "
        "is deleted",
    ),
)

NOT_PERSONAL_DATA: dict[str, str] = {
    "tenants.name": "the commune's name",
    "clients.name": "an application's name",
    "upstream_providers.name": "the upstream provider's name",
    "clients.subject_type": "whether a client gets public or pairwise subjects",
}
