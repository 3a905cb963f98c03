"""identity.last_seen_at: a widget visitor's last hello, so a session unused for SWITCHBOARD_SESSION_DAYS expires

NULL (every identity before this revision, and Telegram's) reads as the identity's ``created_at``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("identity", sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identity") as batch_op:
        batch_op.drop_column("last_seen_at")
