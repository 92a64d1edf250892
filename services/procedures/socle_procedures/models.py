"""Tables of the procedures service: definition versions, requests and their history,
reference counters, and the portal's server-side sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from socle.db import NAMING, UTCDateTime
from socle.legal_hold import legal_hold_table
from socle.privacy import PersonalData
from socle.retention import retention_table

BIGID = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ProcedureVersion(Base):
    """One version of a procedure definition; immutable once published."""

    __tablename__ = "procedure_versions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), nullable=False)
    slug: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    """``draft``, ``published``, ``superseded`` (a later version is published), ``retired``."""
    document: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("tenant", "slug", "version", name="uq_procedure_versions_version"),
        Index("ix_procedure_versions_tenant_status", "tenant", "status"),
    )


class Request(Base):
    """A person's instance of a procedure, bound to the version it started with."""

    __tablename__ = "requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), nullable=False)
    owner: Mapped[str] = mapped_column(String(255), nullable=False)
    version_id: Mapped[str] = mapped_column(ForeignKey("procedure_versions.id"), nullable=False)
    procedure: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    state: Mapped[str] = mapped_column(String(32), nullable=False)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    completed_steps: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    reference: Mapped[str | None] = mapped_column(String(40), nullable=True)
    locale: Mapped[str] = mapped_column(String(2), nullable=False)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    fee_amount: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    fee_currency: Mapped[str] = mapped_column(String(3), nullable=False, default="CHF")
    payment_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    payment_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """``pending``, ``succeeded``, ``failed`` (or ``expired``/``cancelled``) of the last payment."""
    payment_provider: Mapped[str | None] = mapped_column(String(32), nullable=True)
    payment_next_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    payment_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    amount_paid: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    erasure_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Its person was erased; kept for the procedure's retention, then anonymised."""
    assigned_to: Mapped[str | None] = mapped_column(String(255), nullable=True)
    """The agent who handles it (back-office)."""
    editable_fields: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    """While information is requested: the only fields the citizen may change."""

    __table_args__ = (
        UniqueConstraint("tenant", "reference", name="uq_requests_reference"),
        Index("ix_requests_tenant_owner_created", "tenant", "owner", "created_at", "id"),
        Index("ix_requests_tenant_created", "tenant", "created_at", "id"),
        Index("ix_requests_tenant_state", "tenant", "state"),
    )


class RequestHistory(Base):
    """Append-only: every change of state (and payment outcome) of a request."""

    __tablename__ = "request_history"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), nullable=False, index=True)
    tenant: Mapped[str] = mapped_column(String(64), nullable=False)
    from_state: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_state: Mapped[str] = mapped_column(String(32), nullable=False)
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
    note: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    action: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """The back-office action (``take``, ``assign``, ``request_information``, ...), if any."""
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """What the action changed: ``{"field": {"before": ..., "after": ...}}``."""


class RequestNote(Base):
    """An internal note of the commune's staff on a request: never shown to its citizen."""

    __tablename__ = "request_notes"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), nullable=False, index=True)
    tenant: Mapped[str] = mapped_column(String(64), nullable=False)
    author: Mapped[str] = mapped_column(String(255), nullable=False)
    text: Mapped[str] = mapped_column(String(4000), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class ReferenceCounter(Base):
    """The last human reference number given, per tenant and year."""

    __tablename__ = "reference_counters"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, nullable=False)


class PortalSession(Base):
    """A citizen logged in to the portal; the browser holds only a random id (cookie)."""

    __tablename__ = "portal_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    csrf: Mapped[str] = mapped_column(String(64), nullable=False)
    access_token: Mapped[str] = mapped_column(Text, nullable=False)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    refresh_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    id_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    claims: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)


class Mandate(Base):
    """A citizen's mandate to a mediator for one request: live once the citizen confirmed
    it (e-mailed link) or the mediator filed a signed paper mandate; revoked at any time."""

    __tablename__ = "mandates"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), nullable=False)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), nullable=False, index=True)
    mediator: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    mediator_name: Mapped[str] = mapped_column(String(255), nullable=False)
    citizen_name: Mapped[str] = mapped_column(String(255), nullable=False)
    citizen_email: Mapped[str] = mapped_column(String(320), nullable=False)
    citizen: Mapped[str | None] = mapped_column(String(255), nullable=True)
    """The citizen's subject once known (confirmed by the citizen)."""
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    """``email`` (the citizen confirms by a link) or ``paper`` (a signed document)."""
    document_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    """``pending``, ``live``, ``revoked``."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SharedProcedure(Base):
    """A procedure its tenant offers to every other tenant (the shared catalogue)."""

    __tablename__ = "shared_procedures"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    shared_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Adoption(Base):
    """A tenant's procedure copied from another tenant's shared one, and the source version
    it last took."""

    __tablename__ = "adoptions"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_tenant: Mapped[str] = mapped_column(String(64), nullable=False)
    source_slug: Mapped[str] = mapped_column(String(64), nullable=False)
    source_version: Mapped[int] = mapped_column(Integer, nullable=False)
    adopted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


retention_rules = retention_table(Base.metadata)
legal_holds = legal_hold_table(Base.metadata)
"""Records under legal hold (``/v1/legal-holds``): the retention purge leaves them."""
"""A commune's retention per category (``requests``, ``requests:<procedure>``),
``PUT /v1/retention``."""


#: The register of processing activities (``make privacy-register``).
PERSONAL_DATA: tuple[PersonalData, ...] = (
    PersonalData(
        columns=(
            "requests.owner",
            "requests.answers",
            "requests.email",
            "requests.payment_next_url",
            "requests.assigned_to",
            "request_history.actor",
            "request_history.note",
            "request_history.changes",
            "request_notes.author",
            "request_notes.text",
        ),
        data="requests: owner (subject), answers, e-mail, fee and payment state, history, "
        "staff notes",
        purpose="handle the person's procedure",
        legal_basis="public task",
        retention="the commune's retention for the procedure (`PUT /v1/retention`, "
        "`requests:<procedure>`), else the procedure's `retention_days`, else the commune's "
        "`requests`, else SOCLE_REQUEST_RETENTION_DAYS, after submission, for closed "
        "requests, then anonymised; without any: until the person is erased (a request under "
        "legal hold: until the hold is lifted)",
    ),
    PersonalData(
        columns=(
            "portal_sessions.subject",
            "portal_sessions.access_token",
            "portal_sessions.refresh_token",
            "portal_sessions.id_token",
            "portal_sessions.claims",
        ),
        data="portal sessions: subject, tokens, ID token claims",
        purpose="keep the citizen logged in to the portal",
        legal_basis="public task",
        retention="SOCLE_PORTAL_SESSION_TTL",
    ),
    PersonalData(
        columns=(
            "mandates.mediator",
            "mandates.mediator_name",
            "mandates.citizen_name",
            "mandates.citizen_email",
            "mandates.citizen",
        ),
        data="mandates: the mediator and the citizen they act for (names, e-mail, subjects)",
        purpose="let a mediator act for a citizen with the citizen's consent",
        legal_basis="public task; the citizen's consent",
        retention="with the request",
    ),
)
