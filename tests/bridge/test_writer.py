"""The group-commit writer: order, dedupe, delivery keys, jobs between messages, a failing batch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.engine import DELIVERY, MESSAGE, Engine, delivery_row, message_row
from bridge.events import AuthorKind, ChannelKind, CustomerMessage, ExternalRef, Profile, ReceiptStatus
from bridge.model import as_utc, utcnow
from bridge.schema import upgrade
from bridge.store import Awaited, Store
from tests.support.races import writer_held


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    await upgrade(db_url)
    async with Store(db_url) as store:
        yield store


def _customer_message(visitor: str, n: int) -> CustomerMessage:
    return CustomerMessage(
        source=ExternalRef(channel=ChannelKind.WEB, external_id=visitor),
        source_id=f"{visitor}:{n}",
        text=f"message {n}",
        profile=Profile(display_name=visitor),
    )


async def _open_conversation(store: Store, visitor: str) -> int:
    receipt = await Engine(store, negotiate=lambda _preferences: "en").receive(_customer_message(visitor, 0))
    assert receipt.conversation_id is not None
    return receipt.conversation_id


def _row(conversation_id: int, source_id: str, **overrides: Any) -> dict[str, Any]:
    row = message_row(
        conversation_id=conversation_id,
        direction="in",
        author_kind=AuthorKind.CUSTOMER,
        author_ref="v",
        author_name=None,
        text=f"text of {source_id}",
        attachments=[],
        source_channel=ChannelKind.WEB,
        source_id=source_id,
        now=utcnow(),
    )
    return {**row, **overrides}


def _to_slack(conversation_id: int) -> dict[str, Any]:
    slack = ExternalRef(channel=ChannelKind.SLACK, external_id=str(conversation_id))
    return delivery_row(conversation_id=conversation_id, target=slack, now=utcnow())


async def test_a_burst_is_stored_once_in_submission_order_with_keyed_deliveries(store: Store) -> None:
    engine = Engine(store, negotiate=lambda _preferences: "en")
    visitors = [f"visitor-{v}" for v in range(5)]
    for visitor in visitors:  # open the conversations first: the burst then takes the hot path only
        await engine.receive(_customer_message(visitor, 0))
    burst = [_customer_message(visitor, n) for n in range(1, 101) for visitor in visitors]
    redelivered = [_customer_message(visitor, n) for n in range(1, 101, 10) for visitor in visitors]
    receipts = await asyncio.gather(*(engine.receive(m) for m in [*burst, *redelivered]))

    statuses = [r.status for r in receipts]
    assert statuses[: len(burst)] == [ReceiptStatus.STORED] * len(burst)
    assert statuses[len(burst) :] == [ReceiptStatus.DUPLICATE] * len(redelivered)
    rows = await store.fetch_all(sa.select(MESSAGE.c.id, MESSAGE.c.source_id).order_by(MESSAGE.c.id))
    assert [source_id for _id, source_id in rows] == [m.source_id for m in [*map(_first, visitors), *burst]]
    deliveries = await store.fetch_all(sa.select(DELIVERY.c.message_id, DELIVERY.c.idempotency_key))
    keys = {message_id: key for message_id, key in deliveries}
    assert len(deliveries) == len(rows)
    assert all(keys[message_id] == f"m{message_id}.0" for message_id, _source in rows[len(visitors) :])


def _first(visitor: str) -> CustomerMessage:
    return _customer_message(visitor, 0)


async def test_a_job_queued_between_messages_sees_exactly_the_messages_before_it(store: Store) -> None:
    conversation_id = await _open_conversation(store, "visitor")

    async def count(conn: AsyncConnection) -> int:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(MESSAGE))).scalar_one())

    writer = store.writer
    before = [writer.submit_message(_row(conversation_id, f"a{n}"), [_to_slack(conversation_id)]) for n in range(300)]
    counted = writer.submit_job(count)
    after = [writer.submit_message(_row(conversation_id, f"b{n}"), [_to_slack(conversation_id)]) for n in range(300)]
    ids_before, seen, ids_after = await asyncio.gather(asyncio.gather(*before), counted, asyncio.gather(*after))

    assert seen == 1 + 300  # the conversation's first message and the 300 queued before the job
    assert max(ids_before) < min(ids_after)


async def test_rows_with_other_columns_keep_their_place_in_a_batch(store: Store) -> None:
    conversation_id = await _open_conversation(store, "visitor")
    rows = [_row(conversation_id, f"s{n}") for n in range(9)]
    for n in (2, 3, 7):  # a row that sets optional columns too is inserted with a statement of its own
        rows[n]["edited_at"] = rows[n]["deleted_at"] = None
    ids = await asyncio.gather(*(store.writer.submit_message(row, [_to_slack(conversation_id)]) for row in rows))

    assert ids == sorted(ids)
    stored = await store.fetch_all(sa.select(MESSAGE.c.source_id).where(MESSAGE.c.id.in_(ids)).order_by(MESSAGE.c.id))
    assert [source_id for (source_id,) in stored] == [f"s{n}" for n in range(9)]


async def test_a_failing_batch_fails_its_waiters_and_the_writer_goes_on(store: Store) -> None:
    conversation_id = await _open_conversation(store, "visitor")
    missing_conversation = conversation_id + 1000  # a foreign key the database refuses

    refused = store.writer.submit_message(_row(missing_conversation, "bad"), [_to_slack(missing_conversation)])
    with pytest.raises(sa.exc.IntegrityError):
        await refused
    stored = await store.writer.submit_message(_row(conversation_id, "good"), [_to_slack(conversation_id)])

    assert stored is not None
    sources = await store.fetch_all(sa.select(MESSAGE.c.source_id).order_by(MESSAGE.c.id))
    assert [source_id for (source_id,) in sources] == ["visitor:0", "good"]


async def test_one_bad_row_fails_alone_and_the_rest_of_its_batch_is_stored(store: Store) -> None:
    conversation_id = await _open_conversation(store, "visitor")
    missing_conversation = conversation_id + 1000  # a foreign key the database refuses, in the middle of a batch
    rows = [_row(conversation_id, f"s{n}") for n in range(9)]
    rows[4] = _row(missing_conversation, "bad")
    async with writer_held(store):  # all nine are queued before the writer takes any: one batch
        stored = [store.writer.submit_message(row, [_to_slack(row["conversation_id"])]) for row in rows]
    outcomes = await asyncio.gather(*stored, return_exceptions=True)

    assert isinstance(outcomes[4], sa.exc.IntegrityError)
    ids = [outcome for n, outcome in enumerate(outcomes) if n != 4]
    assert all(isinstance(i, int) for i in ids) and ids == sorted(ids)  # stored, in submission order
    sources = await store.fetch_all(sa.select(MESSAGE.c.source_id).order_by(MESSAGE.c.id))
    assert [source_id for (source_id,) in sources] == ["visitor:0", *(f"s{n}" for n in range(9) if n != 4)]
    keys = await store.fetch_all(sa.select(DELIVERY.c.message_id).where(DELIVERY.c.message_id.in_(ids)))
    assert sorted(message_id for (message_id,) in keys) == ids  # each with its delivery


async def test_timestamps_are_stored_exactly(store: Store) -> None:
    conversation_id = await _open_conversation(store, "visitor")
    stamp = datetime(2026, 11, 23, 21, 5, 7, 123456, tzinfo=UTC)
    row = _row(conversation_id, "timed", created_at=stamp)
    delivery = {**_to_slack(conversation_id), "created_at": stamp, "next_attempt_at": stamp}
    message_id = await store.writer.submit_message(row, [delivery])

    stored = await store.fetch_one(
        sa.select(MESSAGE.c.created_at, MESSAGE.c.edited_at).where(MESSAGE.c.id == message_id)
    )
    assert stored is not None and as_utc(stored.created_at) == stamp and stored.edited_at is None
    due = await store.fetch_one(sa.select(DELIVERY.c.next_attempt_at).where(DELIVERY.c.message_id == message_id))
    assert due is not None and as_utc(due.next_attempt_at) == stamp


async def test_the_hot_path_stores_exactly_the_rows_of_the_full_path(store: Store) -> None:
    """``Engine.submit_routed`` fills a cached ``MessageShape`` instead of building rows: the stored message and
    delivery must be the ones the full path stores, text sanitized and card numbers masked alike."""
    engine = Engine(store, negotiate=lambda _preferences: "en")
    visitor = ExternalRef(channel=ChannelKind.WEB, external_id="visitor-hot")
    profile = Profile(display_name="<b>Ann</b> \x00Lee")
    texts = ["plain", "<script>x</script> hi &amp;", "card 4111 1111 1111 1111, please", "İade ünlü 😀", "a\u200bb  "]

    def said(source_id: str, text: str) -> CustomerMessage:
        return CustomerMessage(source=visitor, source_id=source_id, text=text, profile=profile)

    conversation_id = (await engine.receive(said("first", "hello"))).conversation_id
    assert conversation_id is not None
    for n, text in enumerate(texts):
        await engine.receive(said(f"full-{n}", text))
        hot = Awaited(asyncio.get_running_loop().create_future())
        engine.submit_routed(said(f"hot-{n}", text), conversation_id, hot)
        assert await hot.future is not None

    messages = await store.fetch_all(sa.select(MESSAGE).where(MESSAGE.c.source_id != "first").order_by(MESSAGE.c.id))
    by_path: dict[str, list[dict[str, Any]]] = {"full": [], "hot": []}
    for row in messages:
        values = dict(row._mapping)
        path, _n = values.pop("source_id").split("-")
        message_id = values.pop("id")
        values.pop("created_at")
        [delivery] = await store.fetch_all(sa.select(DELIVERY).where(DELIVERY.c.message_id == message_id))
        delivered = dict(delivery._mapping)
        for column in ("id", "message_id", "idempotency_key", "created_at", "next_attempt_at"):
            delivered.pop(column)
        by_path[path].append({**values, "delivery": delivered})
    assert len(by_path["hot"]) == len(texts)
    assert by_path["hot"] == by_path["full"]
    assert "4111 1111 1111 1111" not in str(by_path["hot"]) and "<script>" not in str(by_path["hot"])
