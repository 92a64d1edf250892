"""Back-office: the agent a request is assigned to, the fields reopened by a request for
information, what each action changed, and staff-only notes.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from socle.db import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("assigned_to", sa.String(255), nullable=True))
        batch.add_column(sa.Column("editable_fields", sa.JSON(), nullable=True))
    with op.batch_alter_table("request_history") as batch:
        batch.add_column(sa.Column("action", sa.String(32), nullable=True))
        batch.add_column(sa.Column("changes", sa.JSON(), nullable=True))
    op.create_index("ix_requests_tenant_state", "requests", ["tenant", "state"])
    op.create_table(
        "request_notes",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column(
            "request_id",
            sa.String(32),
            sa.ForeignKey("requests.id", name="fk_request_notes_request_id_requests"),
            nullable=False,
        ),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("text", sa.String(4000), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_request_notes_request_id", "request_notes", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_request_notes_request_id", table_name="request_notes")
    op.drop_table("request_notes")
    op.drop_index("ix_requests_tenant_state", table_name="requests")
    with op.batch_alter_table("request_history") as batch:
        batch.drop_column("changes")
        batch.drop_column("action")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("editable_fields")
        batch.drop_column("assigned_to")
