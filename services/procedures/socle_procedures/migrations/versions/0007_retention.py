"""Legal holds of single records, and a commune's retention per data category (requests, requests of one procedure).

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from socle.legal_hold import legal_hold_columns
from socle.retention import retention_columns

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("retention_rules", *retention_columns())
    op.create_table("legal_holds", *legal_hold_columns())


def downgrade() -> None:
    op.drop_table("legal_holds")
    op.drop_table("retention_rules")
