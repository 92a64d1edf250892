"""Tables of the payment service: payments, their append-only ledger, refunds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from socle.db import NAMING, UTCDateTime
from socle.legal_hold import legal_hold_table
from socle.privacy import PersonalData
from socle.retention import retention_table


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Payment(Base):
    """A fee a citizen is asked to pay; amounts are integer minor units (centimes)."""

    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    amount_captured: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    amount_refunded: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    reference: Mapped[str] = mapped_column(String(140), nullable=False)
    description: Mapped[str] = mapped_column(String(500), nullable=False)
    return_url: Mapped[str] = mapped_column(Text, nullable=False)
    procedure_ref: Mapped[str | None] = mapped_column(String(140), nullable=True)
    payer_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    payer_subject: Mapped[str | None] = mapped_column(String(255), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, nullable=False)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    page_token: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    provider_payment_id: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
    provider_charge_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    provider_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    qr_reference: Mapped[str | None] = mapped_column(String(27), nullable=True, unique=True)
    failure_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    pseudonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When the payer's data was replaced (erasure, or the end of the retention)."""
    erasure_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """The payer was erased while the payment was under legal hold: pseudonymised once the
    hold is lifted."""
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (
        Index("ix_payments_tenant_created", "tenant", "created_at", "id"),
        Index("ix_payments_status_expires", "status", "expires_at"),
        Index("ix_payments_tenant_payer_created", "tenant", "payer_subject", "created_at", "id"),
    )


class PaymentTransition(Base):
    """The append-only ledger: every change of a payment's status, when and why."""

    __tablename__ = "payment_transitions"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), nullable=False, index=True)
    tenant: Mapped[str] = mapped_column(String(64), nullable=False)
    from_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_status: Mapped[str] = mapped_column(String(32), nullable=False)
    cause: Mapped[str] = mapped_column(String(255), nullable=False)
    amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Refund(Base):
    """Money given back on a payment; never more than what was captured."""

    __tablename__ = "refunds"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), nullable=False, index=True)
    tenant: Mapped[str] = mapped_column(String(64), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    provider_refund_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="succeeded")
    """``pending`` while the provider is asked (its amount is reserved), then ``succeeded``,
    or ``failed`` when the provider refused it (nothing refunded, nothing reserved)."""
    provider_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    """The idempotency key the provider is asked with, so the refund is made at most once
    however often it is asked (by the request, its retries, the sweep of cut-short work)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


retention_rules = retention_table(Base.metadata)
legal_holds = legal_hold_table(Base.metadata)
"""Records under legal hold (``/v1/legal-holds``): the retention purge leaves them."""
"""A commune's retention per category (``payments``), ``PUT /v1/retention``."""


#: The register of processing activities (``make privacy-register``).
PERSONAL_DATA: tuple[PersonalData, ...] = (
    PersonalData(
        columns=(
            "payments.payer_email",
            "payments.payer_subject",
            "payments.metadata",
            "payments.description",
            "payments.reference",
            "payments.amount",
        ),
        data="payer e-mail, payer subject, metadata, amount, reference, description",
        purpose="collect fees, send the receipt, reconcile",
        legal_basis="public task; legal obligation (accounting)",
        retention="the tenant's payment retention (`PUT /v1/retention`, default 10 years, "
        "Swiss CO art. 958f), then pseudonymised (payer and metadata removed); pseudonymised "
        "on erasure too, except while under legal hold",
    ),
    PersonalData(
        columns=("refunds.reason",),
        data="why a payment was refunded (free text)",
        purpose="accounting",
        legal_basis="legal obligation (accounting)",
        retention="with the payment",
    ),
)


class TenantSettings(Base):
    """A tenant's own settings (the process-wide ones apply where a value is not set here);
    secrets are sealed with the key-encryption key."""

    __tablename__ = "tenant_settings"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    creditor: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """QR-bill creditor: iban, name, street, house_number, postal_code, city, country."""
    stripe_secret_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    stripe_secret_key_last4: Mapped[str | None] = mapped_column(String(4), nullable=True)
    stripe_webhook_secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    stripe_webhook_secret_last4: Mapped[str | None] = mapped_column(String(4), nullable=True)
    stripe_account_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    """A Stripe Connect account (``acct_...``): payments are made on it, with the platform's
    key (the tenant's own, else the installation's). Not a secret."""
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
