"""scanners are registered devices: offline scans sync only as one

A sync used to take ``device_id`` as free text, so one door token could claim to
be any scanner. A device now is a row with the server's id, the token that
registered it, and a revocation time the organiser sets.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import festival.db

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkin_devices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("festival_id", sa.Uuid(), nullable=False),
        sa.Column("staff_token_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", festival.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", festival.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["festival_id"],
            ["festivals.id"],
            name=op.f("fk_checkin_devices_festival_id_festivals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_devices")),
    )
    with op.batch_alter_table("checkin_devices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_checkin_devices_festival", ["festival_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("checkin_devices", schema=None) as batch_op:
        batch_op.drop_index("ix_checkin_devices_festival")
    op.drop_table("checkin_devices")
