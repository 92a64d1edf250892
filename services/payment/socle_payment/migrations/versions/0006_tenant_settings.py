"""Per-tenant settings: a commune's own QR-bill creditor and Stripe account (keys sealed).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from socle.db import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_settings",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("creditor", sa.JSON(), nullable=True),
        sa.Column("stripe_secret_key", sa.Text(), nullable=True),
        sa.Column("stripe_secret_key_last4", sa.String(4), nullable=True),
        sa.Column("stripe_webhook_secret", sa.Text(), nullable=True),
        sa.Column("stripe_webhook_secret_last4", sa.String(4), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("tenant_settings")
