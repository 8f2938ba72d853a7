"""the organiser's messages and the reminders before sessions

``festival_messages`` holds what an organiser sent to an audience, and each of
its letters (outbox rows) names it in ``message_id``, for delivery counts.
``reminders_sent`` records each reminder written for a person, a session and a
start time, so it is written once; a registration may turn reminders off, and a
festival sets how long before a session they go (``reminder_minutes``, 0: none).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import festival.db

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("festivals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reminder_minutes", sa.Integer(), server_default="15", nullable=False)
        )
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reminders", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    op.create_table(
        "festival_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("festival_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("audience", sa.String(length=60), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("sent_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", festival.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["festival_id"],
            ["festivals.id"],
            name=op.f("fk_festival_messages_festival_id_festivals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sent_by"],
            ["accounts.id"],
            name=op.f("fk_festival_messages_sent_by_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_festival_messages")),
    )
    with op.batch_alter_table("festival_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_festival_messages_festival", ["festival_id", "created_at"], unique=False
        )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_message_id"), ["message_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_message_id_festival_messages"),
            "festival_messages",
            ["message_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "reminders_sent",
        sa.Column("registration_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", festival.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", festival.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_reminders_sent_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_reminders_sent_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "registration_id", "session_id", "starts_at", name=op.f("pk_reminders_sent")
        ),
    )


def downgrade() -> None:
    op.drop_table("reminders_sent")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_outbox_message_id_festival_messages"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_outbox_message_id"))
        batch_op.drop_column("message_id")
    with op.batch_alter_table("festival_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_festival_messages_festival")
    op.drop_table("festival_messages")
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_column("reminders")
    with op.batch_alter_table("festivals", schema=None) as batch_op:
        batch_op.drop_column("reminder_minutes")
