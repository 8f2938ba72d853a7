"""the waiting list gets a partial index of its own

Registration asks "is anyone waiting?" every time. With the index over every
registration's status, PostgreSQL walked all of a festival's registrations when
its statistics lagged behind a rush (1.9 ms at 3,300 registrations, growing);
an index of the waiting list alone stays a probe of a few pages.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = sa.text("status = 'waitlisted'")


def upgrade() -> None:
    op.drop_index("ix_registrations_waitlist", table_name="registrations")
    op.create_index(
        "ix_registrations_waiting",
        "registrations",
        ["festival_id", "waitlist_seq"],
        sqlite_where=WAITING,
        postgresql_where=WAITING,
    )


def downgrade() -> None:
    op.drop_index("ix_registrations_waiting", table_name="registrations")
    op.create_index(
        "ix_registrations_waitlist", "registrations", ["festival_id", "status", "waitlist_seq"]
    )
