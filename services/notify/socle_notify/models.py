"""Tables of the notify service."""

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
    Text,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from socle.db import NAMING, UTCDateTime
from socle.legal_hold import legal_hold_table
from socle.privacy import PersonalData
from socle.retention import retention_table

BIGID = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Template(Base):
    """A tenant's message, written once; its content lives in versions, one per language."""

    __tablename__ = "templates"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    channel: Mapped[str] = mapped_column(String(8), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    default_language: Mapped[str] = mapped_column(String(2), nullable=False)
    #: Its messages carry a secret (a one-time link, a code): their text is never readable
    #: through the API, only sent.
    secret: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (Index("ix_templates_tenant_id", "tenant", "id"),)


class TemplateContent(Base):
    """The text of one version of a template in one language (never changed once written)."""

    __tablename__ = "template_contents"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=True)
    template_id: Mapped[str] = mapped_column(ForeignKey("templates.id"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    language: Mapped[str] = mapped_column(String(2), nullable=False)
    subject: Mapped[str | None] = mapped_column(Text, nullable=True)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    html: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (
        Index(
            "ux_template_contents_version_language",
            "template_id",
            "version",
            "language",
            unique=True,
        ),
    )


class Batch(Base):
    """Many notifications of one template, optionally scheduled."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), nullable=False)
    template_id: Mapped[str] = mapped_column(String(32), nullable=False)
    channel: Mapped[str] = mapped_column(String(8), nullable=False)
    reference: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    total: Mapped[int] = mapped_column(Integer, nullable=False)
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Notification(Base):
    """One email or SMS to one recipient, rendered when accepted, delivered by the worker.

    A secret message (``secret``) keeps a redacted ``body`` (and no ``html``) for the API; the
    text to send is in ``sealed_body``/``sealed_html``, read by the worker only and erased
    once the notification is final."""

    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), nullable=False)
    channel: Mapped[str] = mapped_column(String(8), nullable=False)
    status: Mapped[str] = mapped_column(String(24), nullable=False)
    recipient: Mapped[str] = mapped_column(String(320), nullable=False)
    recipient_subject: Mapped[str | None] = mapped_column(String(255), nullable=True)
    template_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    template_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    language: Mapped[str] = mapped_column(String(2), nullable=False)
    reference: Mapped[str | None] = mapped_column(String(255), nullable=True)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    subject: Mapped[str | None] = mapped_column(Text, nullable=True)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    html: Mapped[str | None] = mapped_column(Text, nullable=True)
    secret: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    sealed_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    sealed_html: Mapped[str | None] = mapped_column(Text, nullable=True)
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id"), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    traceparent: Mapped[str | None] = mapped_column(String(55), nullable=True)
    """The trace of the request or event that asked for it: its sending joins that trace."""
    erasure_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """The person was erased while the notification was under legal hold: its address and
    contents are erased once the hold is lifted."""

    __table_args__ = (
        Index("ix_notifications_tenant_id", "tenant", "id"),
        Index("ix_notifications_due", "status", "next_attempt_at"),
        Index("ix_notifications_batch_status", "batch_id", "status"),
        Index("ix_notifications_tenant_recipient_subject", "tenant", "recipient_subject", "id"),
    )


class Rule(Base):
    """A tenant's wish: when an event of ``event_type`` happens, send ``template_id``."""

    __tablename__ = "rules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), nullable=False)
    event_type: Mapped[str] = mapped_column(String(128), nullable=False)
    template_id: Mapped[str] = mapped_column(ForeignKey("templates.id"), nullable=False)
    recipient_field: Mapped[str] = mapped_column(String(128), nullable=False)
    language_field: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (Index("ix_rules_tenant_event", "tenant", "event_type"),)


class Subscription(Base):
    """A commune system that wants matching events delivered to its callback URL, signed."""

    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), nullable=False)
    event_types: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    callback_url: Mapped[str] = mapped_column(Text, nullable=False)
    secret: Mapped[str] = mapped_column(String(128), nullable=False)
    description: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (Index("ix_subscriptions_tenant", "tenant"),)


class WebhookDelivery(Base):
    """One event to deliver to one subscription; ``dead`` once retries are exhausted."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), nullable=False)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id"), nullable=False)
    event_id: Mapped[str] = mapped_column(String(64), nullable=False)
    event_type: Mapped[str] = mapped_column(String(128), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_webhook_deliveries_tenant_id", "tenant", "id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )


class WebhookAttempt(Base):
    """Each try of a webhook delivery: when, what the endpoint answered, how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id"), nullable=False, index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)


retention_rules = retention_table(Base.metadata)
legal_holds = legal_hold_table(Base.metadata)
"""Records under legal hold (``/v1/legal-holds``): the retention purge leaves them."""
"""A commune's retention per category (``notifications``), ``PUT /v1/retention``."""


#: The register of processing activities (``make privacy-register``).
PERSONAL_DATA: tuple[PersonalData, ...] = (
    PersonalData(
        columns=(
            "notifications.recipient",
            "notifications.recipient_subject",
            "notifications.subject",
            "notifications.body",
            "notifications.html",
            "notifications.sealed_body",
            "notifications.sealed_html",
            "notifications.error",
        ),
        data="recipient address (e-mail or phone), recipient subject, rendered subject and "
        "text (the personalisation values inside them)",
        purpose="deliver e-mails and SMS, show their status",
        legal_basis="public task",
        retention="the tenant's notification retention (`PUT /v1/retention`, default "
        "SOCLE_NOTIFICATION_RETENTION_DAYS, 365 days), then deleted; on erasure the address "
        "and text are erased (kept as they are while under legal hold)",
    ),
    PersonalData(
        columns=("tenant_operations_contacts.emails",),
        data="the addresses of a commune's operations staff (may name a person)",
        purpose="tell the commune about deliveries that failed for good",
        legal_basis="public task",
        retention="until the commune changes them or leaves (`socle tenants offboard`)",
    ),
    PersonalData(
        columns=("webhook_deliveries.payload",),
        data="event data delivered to webhooks (identifiers, no addresses or names)",
        purpose="deliver events to the commune's systems",
        legal_basis="public task",
        retention="SOCLE_WEBHOOK_DELIVERY_RETENTION_DAYS (30 days) once delivered or dead, "
        "then deleted with their attempts",
    ),
)

NOT_PERSONAL_DATA: dict[str, str] = {
    "templates.name": "a template's name",
    "template_contents.subject": "a template's subject, with placeholders, no values",
    "template_contents.body": "a template's text, with placeholders, no values",
    "rules.recipient_field": "the path of the address in an event, not the address",
    "tenant_senders.from_name": "the commune's sender name, not a person's",
    "tenant_senders.from_address": "the commune's sender address, not a person's",
    "tenant_senders.reply_to": "the commune's reply-to address, not a person's",
}


class TenantSender(Base):
    """Who a tenant's mails come from (the installation's ``SOCLE_MAIL_FROM`` where unset)."""

    __tablename__ = "tenant_senders"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    from_name: Mapped[str] = mapped_column(String(200), nullable=False)
    from_address: Mapped[str] = mapped_column(String(320), nullable=False)
    reply_to: Mapped[str | None] = mapped_column(String(320), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class TenantOperationsContacts(Base):
    """Where a tenant's alerts go (final failures of its mails, SMS and webhooks); the
    installation's ``SOCLE_TENANT_OPERATIONS_EMAILS`` / ``SOCLE_OPERATIONS_EMAIL`` where unset."""

    __tablename__ = "tenant_operations_contacts"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    emails: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
