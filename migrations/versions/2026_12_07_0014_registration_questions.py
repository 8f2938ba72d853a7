"""registration questions and their answers

A festival's form asks its own questions (text, one choice, several choices,
yes/no); each answer keeps the question's label as it was answered, and a
question removed is archived, so answers stay readable.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import festival.db

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registration_questions",
        sa.Column("festival_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("help", sa.String(length=1000), nullable=True),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=True),
        sa.Column("at_door", sa.Boolean(), nullable=False),
        sa.Column("archived_at", festival.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", festival.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('text', 'choice', 'choices', 'yes_no')",
            name=op.f("ck_registration_questions_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["festival_id"],
            ["festivals.id"],
            name=op.f("fk_registration_questions_festival_id_festivals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_questions")),
    )
    with op.batch_alter_table("registration_questions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registration_questions_festival", ["festival_id", "position"], unique=False
        )
    op.create_table(
        "registration_answers",
        sa.Column("registration_id", sa.Uuid(), nullable=False),
        sa.Column("question_id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("answered_at", festival.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["registration_questions.id"],
            name=op.f("fk_registration_answers_question_id_registration_questions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_registration_answers_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "registration_id", "question_id", name=op.f("pk_registration_answers")
        ),
    )


def downgrade() -> None:
    op.drop_table("registration_answers")
    with op.batch_alter_table("registration_questions", schema=None) as batch_op:
        batch_op.drop_index("ix_registration_questions_festival")
    op.drop_table("registration_questions")
