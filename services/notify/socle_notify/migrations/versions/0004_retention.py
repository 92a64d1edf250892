"""Legal holds of single records, and a commune's retention per data category (notifications).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from socle.legal_hold import legal_hold_columns
from socle.retention import retention_columns

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("retention_rules", *retention_columns())
    op.create_table("legal_holds", *legal_hold_columns())


def downgrade() -> None:
    op.drop_table("legal_holds")
    op.drop_table("retention_rules")
