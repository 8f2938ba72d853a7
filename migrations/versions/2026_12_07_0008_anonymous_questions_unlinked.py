"""an anonymous question keeps no link to its author

``live_questions.author_id`` becomes nullable and is emptied on anonymous
questions: nothing reads it back, and a database dump must not tell who asked.
The downgrade cannot bring the links back; it leaves those rows pointing at a
nil id so the old NOT NULL holds.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 01:35:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUESTIONS = sa.table(
    "live_questions",
    sa.column("author_id", sa.Uuid()),
    sa.column("anonymous", sa.Boolean()),
)
NIL = uuid.UUID(int=0)


def upgrade() -> None:
    with op.batch_alter_table("live_questions", schema=None) as batch_op:
        batch_op.alter_column("author_id", existing_type=sa.Uuid(), nullable=True)
    op.execute(QUESTIONS.update().where(QUESTIONS.c.anonymous.is_(True)).values(author_id=None))


def downgrade() -> None:
    op.execute(QUESTIONS.update().where(QUESTIONS.c.author_id.is_(None)).values(author_id=NIL))
    with op.batch_alter_table("live_questions", schema=None) as batch_op:
        batch_op.alter_column("author_id", existing_type=sa.Uuid(), nullable=False)
