"""The tables every service carries: outbox, inbox, idempotency keys.

Revision ID: 0001
Revises:
"""

from alembic import op

from socle.db import idempotency_table, inbox_table, outbox_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    for table in (outbox_table, inbox_table, idempotency_table):
        table.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for table in (idempotency_table, inbox_table, outbox_table):
        table.drop(bind)
