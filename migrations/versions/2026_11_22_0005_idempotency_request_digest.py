"""idempotent replies remember the request digest

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 21:57:55.690676
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotent_replies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotent_replies", schema=None) as batch_op:
        batch_op.drop_column("request_digest")
