"""Tables of the storage service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from socle.db import NAMING, UTCDateTime
from socle.privacy import PersonalData


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Document(Base):
    """A document of a tenant; its bytes are in its versions. ``status``: ``pending`` (first
    upload under way, invisible), ``active``, ``quarantined``, ``deleted`` (soft)."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(64), default="")
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    procedure: Mapped[str | None] = mapped_column(String(128), nullable=True)
    filename: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(255), default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(Integer, default=0)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    legal_hold_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    uploaded_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retention_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    erasure_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Its owner was erased; the purge removes it once no hold or retention keeps it."""

    __table_args__ = (Index("ix_documents_tenant_created", "tenant", "created_at", "id"),)


class DocumentVersion(Base):
    """One upload of a document's bytes, stored under ``object_key`` (never from user input).
    ``status``: ``pending`` (bytes being written), ``active``, ``quarantined``."""

    __tablename__ = "document_versions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    document_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    tenant: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    bucket: Mapped[str] = mapped_column(String(63))
    object_key: Mapped[str] = mapped_column(String(255))
    filename: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(255), default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    scan_result: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("document_id", "number", name="uq_document_versions_number"),
    )


class Grant(Base):
    """Access to an already stored document given to a procedure or to the commune's agents."""

    __tablename__ = "grants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    document_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    tenant: Mapped[str] = mapped_column(String(64))
    grantee_type: Mapped[str] = mapped_column(String(16))
    procedure: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    granted_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AccessRecord(Base):
    """One read of a document's content (download or presigned link): who, when, what."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    tenant: Mapped[str] = mapped_column(String(64))
    document_id: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class TenantRules(Base):
    """A tenant's own limits: size, accepted types, retention per document kind."""

    __tablename__ = "tenant_rules"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    max_size_bytes: Mapped[int] = mapped_column(BigInteger)
    allowed_content_types: Mapped[list[Any]] = mapped_column(JSON)
    default_retention_days: Mapped[int] = mapped_column(Integer)
    retention_days: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reapply_pending_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When the retention last changed, until every stored document has been given it."""


#: The register of processing activities (``make privacy-register``).
PERSONAL_DATA: tuple[PersonalData, ...] = (
    PersonalData(
        columns=(
            "documents.owner",
            "documents.filename",
            "documents.uploaded_by",
            "documents.legal_hold_reason",
            "document_versions.filename",
            "document_versions.created_by",
            "document_versions.object_key",
        ),
        data="documents (bytes in S3), file name, kind, owner (subject), uploader",
        purpose="the person's supporting documents for procedures",
        legal_basis="public task",
        retention="the tenant's retention for the kind (`PUT /v1/rules`, default "
        "SOCLE_DEFAULT_RETENTION_DAYS, 3650 days; a changed rule applies to stored documents "
        "too); soft-deleted ones SOCLE_DELETED_GRACE_SECONDS; legal hold wins",
    ),
    PersonalData(
        columns=("grants.granted_by",),
        data="who shared a document with a procedure",
        purpose="audit of sharing",
        legal_basis="public task",
        retention="with the document",
    ),
    PersonalData(
        columns=("access_log.subject", "access_log.client_id", "access_log.roles"),
        data="access log: the reader's subject, client and roles, the time",
        purpose="who read a document (audit)",
        legal_basis="legal obligation (accountability)",
        retention="SOCLE_ACCESS_LOG_RETENTION_DAYS (365 days) after the read, then deleted "
        "(also after the document); the reader pseudonymised on erasure",
    ),
)
