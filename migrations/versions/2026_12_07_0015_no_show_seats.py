"""no-show seats: each session's grace time, and a mark that its seats were swept

``sessions.no_show_minutes`` (10 by default, null: never) is how long after a
session's start a seat nobody was scanned in for goes to the seat waiting list;
``session_seats.no_shows_for`` is the start time whose no-shows were released,
so that every process may run the job and each start is swept once.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 05:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import festival.db

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GRACE = "no_show_minutes IS NULL OR (no_show_minutes >= 1 AND no_show_minutes <= 1440)"


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("no_show_minutes", sa.Integer(), server_default="10", nullable=True)
        )
        batch_op.create_check_constraint(op.f("ck_sessions_no_show_minutes"), GRACE)
    with op.batch_alter_table("session_seats", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("no_shows_for", festival.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("session_seats", schema=None) as batch_op:
        batch_op.drop_column("no_shows_for")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_sessions_no_show_minutes"), type_="check")
        batch_op.drop_column("no_show_minutes")
