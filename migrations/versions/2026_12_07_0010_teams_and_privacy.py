"""teams and personal data: members, invitations, consent, retention, the privacy log

A festival's team (``festival_members``: owner, editor, registrations, viewer)
replaces the one ``owner_id``, which stays as the first owner: every festival's
owner becomes an ``owner`` member here. ``festival_invitations`` keeps e-mailed
invitations (the code's hash only). Registrations record what the attendee
agreed to (``consent_*``); festivals say how long personal data is kept after
their end (``retention_days``, 180) and when it was purged; ``privacy_log``
records organisers' exports and erasures of one attendee, and purges. An
anonymous question may carry a seal only its asker's token finds
(``live_questions.author_seal``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import festival.db

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = "role IN ('owner', 'editor', 'registrations', 'viewer')"


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, festival.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("festivals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("retention_days", sa.Integer(), server_default="180", nullable=False)
        )
        batch_op.add_column(_at("personal_data_purged_at", nullable=True))
        batch_op.add_column(sa.Column("terms", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("terms_version", sa.String(length=64), nullable=True))
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consent_terms_version", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("consent_photo", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("consent_contact", sa.Boolean(), nullable=True))
        batch_op.add_column(_at("consent_at", nullable=True))
    with op.batch_alter_table("live_questions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_seal", sa.String(length=64), nullable=True))
    op.create_table(
        "festival_members",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("festival_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        _at("created_at"),
        sa.CheckConstraint(ROLES, name=op.f("ck_festival_members_role")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_festival_members_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["festival_id"],
            ["festivals.id"],
            name=op.f("fk_festival_members_festival_id_festivals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_festival_members")),
        sa.UniqueConstraint(
            "festival_id", "account_id", name=op.f("uq_festival_members_festival_id_account_id")
        ),
    )
    with op.batch_alter_table("festival_members", schema=None) as batch_op:
        batch_op.create_index("ix_festival_members_account", ["account_id"], unique=False)
    op.create_table(
        "festival_invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("festival_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=True),
        _at("expires_at"),
        _at("accepted_at", nullable=True),
        _at("created_at"),
        sa.CheckConstraint(ROLES, name=op.f("ck_festival_invitations_role")),
        sa.ForeignKeyConstraint(
            ["festival_id"],
            ["festivals.id"],
            name=op.f("fk_festival_invitations_festival_id_festivals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"],
            ["accounts.id"],
            name=op.f("fk_festival_invitations_invited_by_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_festival_invitations")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_festival_invitations_code_hash")),
    )
    with op.batch_alter_table("festival_invitations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_festival_invitations_festival", ["festival_id", "created_at"], unique=False
        )
    op.create_table(
        "privacy_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("festival_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("actor_account_id", sa.Uuid(), nullable=True),
        sa.Column("registration_id", sa.Uuid(), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=True),
        _at("at"),
        sa.CheckConstraint(
            "action IN ('export', 'erase', 'purge')", name=op.f("ck_privacy_log_action")
        ),
        sa.ForeignKeyConstraint(
            ["actor_account_id"],
            ["accounts.id"],
            name=op.f("fk_privacy_log_actor_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["festival_id"],
            ["festivals.id"],
            name=op.f("fk_privacy_log_festival_id_festivals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_log")),
    )
    with op.batch_alter_table("privacy_log", schema=None) as batch_op:
        batch_op.create_index("ix_privacy_log_festival", ["festival_id", "at"], unique=False)
    # Every festival's owner is its first owner member. Ids are made in SQL on both
    # databases: a festival's own id serves (one owner row per festival, once).
    op.execute(
        "INSERT INTO festival_members (id, festival_id, account_id, role, created_at) "
        "SELECT id, id, owner_id, 'owner', created_at FROM festivals"
    )


def downgrade() -> None:
    with op.batch_alter_table("privacy_log", schema=None) as batch_op:
        batch_op.drop_index("ix_privacy_log_festival")
    op.drop_table("privacy_log")
    with op.batch_alter_table("festival_invitations", schema=None) as batch_op:
        batch_op.drop_index("ix_festival_invitations_festival")
    op.drop_table("festival_invitations")
    with op.batch_alter_table("festival_members", schema=None) as batch_op:
        batch_op.drop_index("ix_festival_members_account")
    op.drop_table("festival_members")
    with op.batch_alter_table("live_questions", schema=None) as batch_op:
        batch_op.drop_column("author_seal")
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_column("consent_at")
        batch_op.drop_column("consent_contact")
        batch_op.drop_column("consent_photo")
        batch_op.drop_column("consent_terms_version")
    with op.batch_alter_table("festivals", schema=None) as batch_op:
        batch_op.drop_column("terms_version")
        batch_op.drop_column("terms")
        batch_op.drop_column("personal_data_purged_at")
        batch_op.drop_column("retention_days")
