"""Whose notification (the recipient's subject) and secret messages kept out of the API.

Notifications sent before have no recipient subject: only the commune reads them. The
identity mails stored before (verification and password-reset links) are redacted now; those
not yet sent keep their text sealed for the worker.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

IDENTITY_MAILS = ("builtin:user.registered", "builtin:user.password_reset_requested")
REDACTED = (
    "[This message carries a secret (a one-time link or code); its text was sent to the "
    "recipient only and is not kept readable.]"
)


def upgrade() -> None:
    with op.batch_alter_table("templates") as batch:
        batch.add_column(
            sa.Column("secret", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("recipient_subject", sa.String(255), nullable=True))
        batch.add_column(
            sa.Column("secret", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("sealed_body", sa.Text(), nullable=True))
        batch.add_column(sa.Column("sealed_html", sa.Text(), nullable=True))
    op.create_index(
        "ix_notifications_tenant_recipient_subject",
        "notifications",
        ["tenant", "recipient_subject", "id"],
    )
    notifications = sa.table(
        "notifications",
        sa.column("template_id", sa.String),
        sa.column("status", sa.String),
        sa.column("body", sa.Text),
        sa.column("html", sa.Text),
        sa.column("secret", sa.Boolean),
        sa.column("sealed_body", sa.Text),
        sa.column("sealed_html", sa.Text),
    )
    pending = notifications.c.status.in_(("created", "sending", "temporary_failure"))
    op.execute(
        notifications.update()
        .where(notifications.c.template_id.in_(IDENTITY_MAILS))
        .values(
            secret=True,
            sealed_body=sa.case((pending, notifications.c.body), else_=None),
            sealed_html=sa.case((pending, notifications.c.html), else_=None),
            body=REDACTED,
            html=None,
        )
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_tenant_recipient_subject", table_name="notifications")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("sealed_html")
        batch.drop_column("sealed_body")
        batch.drop_column("secret")
        batch.drop_column("recipient_subject")
    with op.batch_alter_table("templates") as batch:
        batch.drop_column("secret")
