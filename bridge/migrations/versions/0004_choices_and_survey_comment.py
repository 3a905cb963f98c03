"""message.choices (buttons offered with a message), conversation.csat_at and csat_comment (the survey's comment)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("message", sa.Column("choices", sa.JSON(none_as_null=True), nullable=True))
    op.add_column("conversation", sa.Column("csat_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("conversation", sa.Column("csat_comment", sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversation") as batch_op:
        batch_op.drop_column("csat_comment")
        batch_op.drop_column("csat_at")
    with op.batch_alter_table("message") as batch_op:
        batch_op.drop_column("choices")
