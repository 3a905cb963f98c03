"""What SQLite alone spends on one group commit of the writer: no sockets, no event loop, no Python rows.

Migrates a fresh database (WAL, ``synchronous=FULL``, foreign keys on, as the bridge runs it), opens 100
conversations, then writes batches of widget-like messages, each with its Slack delivery, the way the writer's
batch thread does: one multi-row ``INSERT ... RETURNING`` for the messages, one for the deliveries, one commit.
It prints the milliseconds per batch of each step over the last batches (when the tables are already large)::

    .venv/bin/python -m bench.sqlite_batch                      # delivery keys by message id (the bridge's)
    .venv/bin/python -m bench.sqlite_batch --keys source        # keys from the source id (session 1's)
    .venv/bin/python -m bench.sqlite_batch --cache-mib 64       # the batch thread's page cache
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from bridge.schema import upgrade

CONVERSATIONS = 100
NOW = "2026-11-23 21:00:00.000000"
MESSAGE_COLUMNS = (
    "conversation_id, direction, author_kind, author_ref, author_name, text, attachments, source_channel, "
    "source_id, created_at, edited_at, deleted_at"
)
DELIVERY_COLUMNS = (
    "conversation_id, kind, target_channel, target_ref, idempotency_key, status, attempts, next_attempt_at, "
    "remote_id, last_error, created_at, sent_at, message_id"
)


def _open_conversations(db: sqlite3.Connection) -> None:
    db.execute("BEGIN")
    for n in range(1, CONVERSATIONS + 1):
        db.execute(
            "INSERT INTO contact (id, display_name, attributes, created_at) VALUES (?, ?, '{}', ?)", (n, "V", NOW)
        )
        db.execute(
            "INSERT INTO identity (id, channel, external_id, contact_id, created_at) VALUES (?, 'web', ?, ?, ?)",
            (n, f"visitor-{n}", n, NOW),
        )
        db.execute(
            "INSERT INTO conversation (id, contact_id, identity_id, origin_channel, status, priority, tags, locale,"
            " created_at) VALUES (?, ?, ?, 'web', 'open', 'normal', '[]', 'en', ?)",
            (n, n, n, NOW),
        )
    db.execute("COMMIT")


def _batch(db: sqlite3.Connection, first: int, size: int, keys: str) -> tuple[float, float, float]:
    """Write messages ``first``.. ``first + size`` with their deliveries; seconds of each insert and the commit."""
    messages = []
    for n in range(first, first + size):
        conversation = n % CONVERSATIONS + 1
        visitor = hashlib.sha256(str(conversation).encode()).hexdigest()
        text = "Hello, I have a question about my order " * 3
        source_id = f"{visitor}:c{conversation}-{n // CONVERSATIONS}"
        row = (conversation, "in", "customer", visitor, "Visitor", text, "[]", "web", source_id, NOW, None, None)
        messages.append(row)
    started = time.perf_counter()
    db.execute("BEGIN")
    rows = ", ".join(["(" + ", ".join("?" * 12) + ")"] * size)
    sql = f"INSERT INTO message ({MESSAGE_COLUMNS}) VALUES {rows} ON CONFLICT (source_channel, source_id) DO NOTHING"
    returned = db.execute(f"{sql} RETURNING id, source_id", [v for m in messages for v in m]).fetchall()
    ids = {source_id: message_id for message_id, source_id in returned}
    inserted = time.perf_counter()
    values: list[object] = []
    for message in messages:
        message_id = ids[message[8]]
        key = f"web:{message[8]}>slack" if keys == "source" else f"m{message_id}.0"
        conversation = message[0]
        values += [conversation, "message", "slack", str(conversation), key, "pending", 0, NOW, None, None, NOW, None]
        values.append(message_id)
    rows = ", ".join(["(" + ", ".join("?" * 13) + ")"] * size)
    db.execute(
        f"INSERT INTO delivery ({DELIVERY_COLUMNS}) VALUES {rows} ON CONFLICT (idempotency_key) DO NOTHING", values
    )
    delivered = time.perf_counter()
    db.execute("COMMIT")
    return inserted - started, delivered - inserted, time.perf_counter() - delivered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.sqlite_batch", description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=741, help="messages per commit (the bench's typical batch)")
    parser.add_argument("--batches", type=int, default=300, help="batches written (300 x 741: ~222,000 messages)")
    parser.add_argument("--measured", type=int, default=50, help="the last batches, averaged")
    parser.add_argument("--keys", choices=("message-id", "source"), default="message-id", help="delivery keys")
    parser.add_argument("--cache-mib", type=int, default=2, help="SQLite page cache (its default is 2 MiB)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        asyncio.run(upgrade(f"sqlite:///{path}"))
        db = sqlite3.connect(path, isolation_level=None)
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
            f"cache_size=-{args.cache_mib * 1024}",
        ):
            db.execute(f"PRAGMA {pragma}")
        _open_conversations(db)
        timings = [_batch(db, b * args.batch_size, args.batch_size, args.keys) for b in range(args.batches)]
        db.close()
    last = timings[-args.measured :]
    insert, deliveries, commit = (1000 * sum(t[i] for t in last) / len(last) for i in range(3))
    total = insert + deliveries + commit
    print(f"{args.batch_size}-message batches, keys by {args.keys}, {args.cache_mib} MiB cache, last {len(last)} of")
    print(f"{args.batches} batches: messages {insert:.1f} ms, deliveries {deliveries:.1f} ms, commit {commit:.1f} ms")
    print(f"  = {total:.1f} ms a batch: at most {args.batch_size / total * 1000:,.0f} msgs/s for SQLite alone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
