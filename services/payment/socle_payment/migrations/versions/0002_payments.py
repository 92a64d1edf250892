"""Payments, their append-only ledger of transitions, and refunds.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from socle.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_captured", sa.BigInteger(), nullable=False),
        sa.Column("amount_refunded", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(140), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("return_url", sa.Text(), nullable=False),
        sa.Column("procedure_ref", sa.String(140), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("page_token", sa.String(64), nullable=False),
        sa.Column("provider_payment_id", sa.String(255), nullable=True),
        sa.Column("provider_charge_id", sa.String(255), nullable=True),
        sa.Column("provider_url", sa.Text(), nullable=True),
        sa.Column("qr_reference", sa.String(27), nullable=True),
        sa.Column("failure_reason", sa.String(255), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.UniqueConstraint("page_token", name="uq_payments_page_token"),
        sa.UniqueConstraint("provider_payment_id", name="uq_payments_provider_payment_id"),
        sa.UniqueConstraint("qr_reference", name="uq_payments_qr_reference"),
    )
    op.create_index("ix_payments_tenant_created", "payments", ["tenant", "created_at", "id"])
    op.create_index("ix_payments_status_expires", "payments", ["status", "expires_at"])
    op.create_table(
        "payment_transitions",
        sa.Column("id", BIGID, autoincrement=True),
        sa.Column("payment_id", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("from_status", sa.String(32), nullable=True),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("cause", sa.String(255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payment_transitions"),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name="fk_payment_transitions_payment_id_payments"
        ),
    )
    op.create_index(
        "ix_payment_transitions_payment_id", "payment_transitions", ["payment_id"]
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("payment_id", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("provider_refund_id", sa.String(255), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_refunds"),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name="fk_refunds_payment_id_payments"
        ),
    )
    op.create_index("ix_refunds_payment_id", "refunds", ["payment_id"])


def downgrade() -> None:
    op.drop_table("refunds")
    op.drop_table("payment_transitions")
    op.drop_table("payments")
