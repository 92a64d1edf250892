"""The payer's subject: whose payment it is (a citizen's token reaches only its own).

Payments created before have none: only the commune's staff and services see them.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("payer_subject", sa.String(255), nullable=True))
    op.create_index(
        "ix_payments_tenant_payer_created",
        "payments",
        ["tenant", "payer_subject", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_payments_tenant_payer_created", table_name="payments")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("payer_subject")
