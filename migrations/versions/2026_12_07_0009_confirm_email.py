"""registration without probing: pending holds confirmed by an e-mailed code

A festival may ask that a registration be confirmed from the address it names
(``confirm_email``): the registration is then ``pending``, holding a place until
``hold_expires_at``, and the code in the e-mail is kept as its hash in
``access_codes``. ``waitlisted_live`` lets the festival's waiting list into its
live sessions. An attendee token made by an e-mailed sign-in link names its
``device``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import festival.db

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "status IN ('confirmed', 'waitlisted', 'cancelled')"
NEW_STATUSES = "status IN ('pending', 'confirmed', 'waitlisted', 'cancelled')"


def upgrade() -> None:
    with op.batch_alter_table("festivals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("confirm_email", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("confirm_hold_minutes", sa.Integer(), server_default="60", nullable=False)
        )
        batch_op.add_column(
            sa.Column("waitlisted_live", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hold_expires_at", festival.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.drop_constraint(op.f("ck_registrations_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_registrations_status"), NEW_STATUSES)
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("device", sa.String(length=200), nullable=True))
    op.create_table(
        "access_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("festival_id", sa.Uuid(), nullable=False),
        sa.Column("registration_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", festival.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", festival.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", festival.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "purpose IN ('confirm', 'sign_in')", name=op.f("ck_access_codes_purpose")
        ),
        sa.ForeignKeyConstraint(
            ["festival_id"],
            ["festivals.id"],
            name=op.f("fk_access_codes_festival_id_festivals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_access_codes_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_access_codes_code_hash")),
    )
    with op.batch_alter_table("access_codes", schema=None) as batch_op:
        batch_op.create_index("ix_access_codes_registration", ["registration_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("access_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_access_codes_registration")
    op.drop_table("access_codes")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("device")
    op.execute("DELETE FROM registrations WHERE status = 'pending'")
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_registrations_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_registrations_status"), OLD_STATUSES)
        batch_op.drop_column("hold_expires_at")
    with op.batch_alter_table("festivals", schema=None) as batch_op:
        batch_op.drop_column("waitlisted_live")
        batch_op.drop_column("confirm_hold_minutes")
        batch_op.drop_column("confirm_email")
