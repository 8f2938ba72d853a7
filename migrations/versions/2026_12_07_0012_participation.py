"""participation: on-site and online places, each with its own line

A registration is ``onsite`` or ``online``; a hybrid festival's hall holds
``capacity`` and its stream ``online_capacity`` (no limit when null). Places and
the waiting list are kept per participation. Registrations of online festivals
(and their places) become ``online``; every other one stays ``onsite``, which
is what it counted against until now.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = sa.text("status = 'waitlisted'")
FREE = sa.text("registration_id IS NULL")
PARTICIPATION = "participation IN ('onsite', 'online')"
ONLINE_FESTIVALS = "(SELECT id FROM festivals WHERE mode = 'online')"


def upgrade() -> None:
    with op.batch_alter_table("festivals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("online_capacity", sa.Integer(), nullable=True))
    op.drop_index("ix_registrations_waiting", table_name="registrations")
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("participation", sa.String(length=8), server_default="onsite", nullable=False)
        )
        batch_op.create_check_constraint(op.f("ck_registrations_participation"), PARTICIPATION)
    op.execute(
        f"UPDATE registrations SET participation = 'online' WHERE festival_id IN {ONLINE_FESTIVALS}"
    )
    op.create_index(
        "ix_registrations_waiting",
        "registrations",
        ["festival_id", "participation", "waitlist_seq"],
        sqlite_where=WAITING,
        postgresql_where=WAITING,
    )
    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.drop_index("ix_places_free")
        batch_op.add_column(
            sa.Column("participation", sa.String(length=8), server_default="onsite", nullable=False)
        )
    op.execute(
        f"UPDATE places SET participation = 'online' WHERE festival_id IN {ONLINE_FESTIVALS}"
    )
    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("pk_places"), type_="primary")
        batch_op.create_primary_key(op.f("pk_places"), ["festival_id", "participation", "number"])
        batch_op.create_check_constraint(op.f("ck_places_participation"), PARTICIPATION)
        batch_op.create_index(
            "ix_places_free",
            ["festival_id", "participation", "number"],
            unique=False,
            sqlite_where=FREE,
            postgresql_where=FREE,
        )


def downgrade() -> None:
    op.execute("DELETE FROM places WHERE participation = 'online' AND festival_id NOT IN "
               + ONLINE_FESTIVALS)  # fmt: skip
    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.drop_index("ix_places_free")
        batch_op.drop_constraint(op.f("ck_places_participation"), type_="check")
        batch_op.drop_constraint(op.f("pk_places"), type_="primary")
        batch_op.create_primary_key(op.f("pk_places"), ["festival_id", "number"])
        batch_op.drop_column("participation")
        batch_op.create_index(
            "ix_places_free",
            ["festival_id", "number"],
            unique=False,
            sqlite_where=FREE,
            postgresql_where=FREE,
        )
    op.drop_index("ix_registrations_waiting", table_name="registrations")
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_registrations_participation"), type_="check")
        batch_op.drop_column("participation")
    op.create_index(
        "ix_registrations_waiting",
        "registrations",
        ["festival_id", "waitlist_seq"],
        sqlite_where=WAITING,
        postgresql_where=WAITING,
    )
    with op.batch_alter_table("festivals", schema=None) as batch_op:
        batch_op.drop_column("online_capacity")
