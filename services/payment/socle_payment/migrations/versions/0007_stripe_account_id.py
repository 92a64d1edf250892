"""A tenant's Stripe Connect account id (a nullable column: old code keeps working).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenant_settings", sa.Column("stripe_account_id", sa.String(255), nullable=True))


def downgrade() -> None:
    op.drop_column("tenant_settings", "stripe_account_id")
