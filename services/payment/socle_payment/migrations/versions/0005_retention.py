"""Retention and legal hold: when a payment's payer data was pseudonymised, and a commune's retention per
data category (payments).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from socle.db import UTCDateTime
from socle.legal_hold import legal_hold_columns
from socle.retention import retention_columns

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("pseudonymised_at", UTCDateTime(), nullable=True))
    op.create_table("retention_rules", *retention_columns())
    op.create_table("legal_holds", *legal_hold_columns())


def downgrade() -> None:
    op.drop_table("legal_holds")
    op.drop_table("retention_rules")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("pseudonymised_at")
