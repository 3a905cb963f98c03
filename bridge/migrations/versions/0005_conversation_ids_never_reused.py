"""SQLite: conversation ids are never handed out twice (AUTOINCREMENT), so an erased or expired conversation's id
cannot come back

A conversation's id names its Slack thread: the root card carries it in its metadata, and after a crash the outbox
looks a card up by it (``channels/slack/reconcile.py``). Without AUTOINCREMENT, SQLite gives a new row the largest
id in use plus one, so deleting the newest conversations (``switchboard contact erase``, retention) would let the
next conversation take an id whose card may still be in the channel. PostgreSQL's sequences never go back: nothing
to do there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _recreate(autoincrement=True)


def downgrade() -> None:
    _recreate(autoincrement=False)


def _recreate(*, autoincrement: bool) -> None:
    """SQLite takes AUTOINCREMENT only in CREATE TABLE: batch mode copies the table into a new one.

    Messages and deliveries point at the table being replaced, so foreign keys are off meanwhile, and checked
    afterwards. (SQLite ignores the pragma inside a transaction that has written already; then dropping the old
    table fails on its first referencing row and the whole upgrade rolls back: nothing is half done.)
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    op.execute("PRAGMA foreign_keys=OFF")
    with op.batch_alter_table("conversation", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
        pass
    problems = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if problems:
        raise RuntimeError(f"foreign keys broken by recreating the conversation table: {problems[:5]}")
    op.execute("PRAGMA foreign_keys=ON")
