"""This module contains the Outbox, the durable delivery worker."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.choices import from_stored
from bridge.engine import CONTACT, CONVERSATION, DELIVERY, IDENTITY, MESSAGE
from bridge.events import (
    Attachment,
    AuthorKind,
    BlockedByCustomer,
    ChannelKind,
    ConversationCard,
    CustomerBlocked,
    Delivered,
    DeliveryError,
    ExternalRef,
    Outbound,
    OutboundCard,
    OutboundEdit,
    OutboundText,
    RetryLater,
    Undeliverable,
)
from bridge.model import DeliveryStatus, as_utc, utcnow
from bridge.ports import Channel, InboundSink
from bridge.store import Lanes, Store

log = logging.getLogger("switchboard.outbox")

Lane = tuple[int, str]  # (conversation id, target channel): the unit of ordering
MAX_ATTEMPTS = 5
POLL_INTERVAL = 1.0  # seconds between full polls for due deliveries (retries, backoffs, backlog)
MAX_LANES = 16  # lanes delivering at once: far above what Slack (1 post/s per channel) or Telegram (30/s) take,
# and low enough that a backlog never starves the event loop that acknowledges customers' messages
BLOCKED_REASON = "customer blocked the bot"
STOP_GRACE = 4.0  # seconds in-flight deliveries get to finish on stop; the rest stays pending for the next start


@final
class Outbox:
    """Delivers pending ``Delivery`` rows through the channels.

    Order is kept per conversation and target (a *lane*): only a lane's oldest pending
    delivery is attempted, and a lane waiting out a ``Retry-After`` or a backoff blocks
    nobody else. A delivery that fails ``max_attempts`` times (or is undeliverable) becomes
    a dead letter (status ``dead``) and the lane moves on.
    """

    def __init__(
        self,
        store: Store,
        channels: Mapping[ChannelKind, Channel],
        *,
        max_attempts: int = MAX_ATTEMPTS,
        base_backoff: float = 1.0,
        max_backoff: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
        support_channel: str | None = None,
        sink: InboundSink | None = None,
    ) -> None:
        self._store = store
        self._sink = sink  # told when a delivery finds the customer blocked the bot
        self._support_channel = support_channel
        self._channels = channels
        self._max_attempts = max_attempts
        self._base_backoff = base_backoff
        self._max_backoff = max_backoff
        self._clock = clock
        self._wakeup = asyncio.Event()
        self._busy: dict[Lane, asyncio.Task[None]] = {}
        # Lanes the writer just committed deliveries to: drained without polling the database,
        # which under load would scan every pending row on every commit. A full poll still runs
        # every POLL_INTERVAL (retries, backoffs, a restart's backlog) and after other writes.
        self._dirty: set[Lane] = set()
        self._again: set[Lane] = set()  # dirtied while being drained: drain once more afterwards
        self._lanes = asyncio.Semaphore(MAX_LANES)
        self._poll_now = True
        self._threads: dict[int, str] = {}  # threads opened here: later rows of a batch read before it have none
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # Deliveries up to this id existed before this process started: one may have been posted by a process that
        # died before marking it sent, so channels look for it before posting (``maybe_sent_after``).
        self._horizon: int | None = None
        self._sent_listeners: list[Callable[[str, float], None]] = []
        store.on_commit(self.wake)

    def on_sent(self, listener: Callable[[str, float], None]) -> None:
        """Call ``listener(target channel, seconds since the message was stored)`` for each message sent."""
        self._sent_listeners.append(listener)

    def wake(self, lanes: Lanes = None) -> None:
        """Called after every commit: drain these lanes now (None: poll the database for due ones)."""
        if lanes is None:
            self._poll_now = True
        else:
            self._dirty.update(lanes)
        self._wakeup.set()

    async def __aenter__(self) -> Outbox:
        self._task = asyncio.create_task(self._run(), name="switchboard-outbox")
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop taking new work, let in-flight deliveries finish (STOP_GRACE at most); pending rows stay stored.

        A lane stops after the delivery it is attempting: draining a backlog here would hold the stop for as long
        as the platform takes (under a rate limit, minutes), and the rows are safe in the database anyway.
        """
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        lanes = list(self._busy.values())
        if lanes:
            _, late = await asyncio.wait(lanes, timeout=STOP_GRACE)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_poll = loop.time()
        while True:
            self._wakeup.clear()
            lanes, self._dirty = self._dirty, set()
            if self._poll_now or loop.time() >= next_poll:
                self._poll_now = False
                try:
                    if self._horizon is None:
                        self._horizon = await self._last_delivery_id()
                    due, next_at = await self._due_lanes()
                except Exception:
                    log.exception("outbox poll failed; retrying in 1 s")
                    due, next_at = [], None
                lanes.update(due)
                wait = POLL_INTERVAL if next_at is None else (next_at - self._clock()).total_seconds()
                next_poll = loop.time() + max(0.0, min(POLL_INTERVAL, wait))
            if self._horizon is None:  # unknown (the database failed): nothing may be posted before it is known
                self._dirty |= lanes
                lanes = set()
            for lane in lanes:
                if lane in self._busy:
                    self._again.add(lane)
                else:
                    task = asyncio.create_task(self._drain(lane), name=f"outbox-lane-{lane[0]}-{lane[1]}")
                    self._busy[lane] = task
                    task.add_done_callback(lambda _t, lane=lane: self._lane_done(lane))
            timeout = max(0.0, next_poll - loop.time())
            try:  # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that races a wake
                async with asyncio.timeout(timeout):
                    await self._wakeup.wait()
            except TimeoutError:
                pass

    def _lane_done(self, lane: Lane) -> None:
        self._busy.pop(lane, None)
        if lane in self._again:  # more arrived for this lane while it was being drained
            self._again.discard(lane)
            self._dirty.add(lane)
            self._wakeup.set()

    async def _due_lanes(self) -> tuple[list[Lane], datetime | None]:
        now = self._clock()
        pending = DELIVERY.c.status == DeliveryStatus.PENDING
        rows = await self._store.fetch_all(
            sa.select(DELIVERY.c.conversation_id, DELIVERY.c.target_channel)
            .where(pending, DELIVERY.c.next_attempt_at <= now)
            .group_by(DELIVERY.c.conversation_id, DELIVERY.c.target_channel)
            .limit(500)
        )
        later = await self._store.fetch_one(sa.select(sa.func.min(DELIVERY.c.next_attempt_at)).where(pending))
        next_at = as_utc(later[0]) if later is not None and later[0] is not None else None
        return [(row.conversation_id, row.target_channel) for row in rows], next_at

    async def _drain(self, lane: Lane) -> None:
        """Deliver a lane's due deliveries in order; stop at the first that must wait."""
        async with self._lanes:
            await self._drain_lane(lane)

    async def _drain_lane(self, lane: Lane) -> None:
        try:
            while True:
                rows = await self._store.fetch_all(_lane_query(lane))
                if not rows:
                    return
                for row in rows:
                    if self._stopping or as_utc(row.next_attempt_at) > self._clock() or not await self._attempt(row):
                        return
        except Exception:
            log.exception("outbox lane %s failed; it will be retried", lane)

    async def _attempt(self, row: Any) -> bool:
        """Try one delivery; True when the lane may go on to the next one."""
        channel = self._channels.get(ChannelKind(row.target_channel))
        try:
            if channel is None:
                raise Undeliverable(f"channel {row.target_channel} is not enabled")
            if row.customer_blocked and row.target_channel == row.customer_channel:
                raise Undeliverable(BLOCKED_REASON)  # no call: the platform would refuse it again
            delivered = await self._deliver(channel, row)
        except RetryLater as exc:
            await self._retry(row, exc)
            return False
        except BlockedByCustomer:
            await self._dead(row, BLOCKED_REASON)
            if self._sink is not None:
                target = ExternalRef(channel=ChannelKind(row.target_channel), external_id=row.target_ref)
                await self._sink(CustomerBlocked(source=target, blocked=True))
            return False  # re-read the lane: the rows in hand predate the mark, sending them would 403 again
        except Undeliverable as exc:
            await self._dead(row, exc.reason)
            return True
        except Exception as exc:  # a bug or an unmapped platform error: count it, never crash the lane
            if not isinstance(exc, DeliveryError):
                log.exception("delivery %s raised", row.id)
            await self._retry(row, RetryLater(f"{type(exc).__name__}: {exc}"))
            return False
        await self._sent(row, delivered)
        return True

    async def _deliver(self, channel: Channel, row: Any) -> Delivered:
        target = ExternalRef(channel=ChannelKind(row.target_channel), external_id=row.target_ref)
        if target.channel is ChannelKind.SLACK:
            thread_ts = row.slack_thread_ts or self._threads.get(row.conversation_id)
            thread_ts = thread_ts or await self._open_thread(channel, row)
            target = ExternalRef(channel=ChannelKind.SLACK, external_id=thread_ts)
        out: Outbound
        if row.kind == "edit":
            remote_id = await self._remote_id_of(row.message_id, row.target_channel)
            if remote_id is None:
                raise Undeliverable("the edited message was never delivered")
            out = OutboundEdit(delivery_id=row.id, target=target, remote_id=remote_id, text=row.text)
        else:
            out = OutboundText(
                delivery_id=row.id,
                message_id=row.message_id,
                conversation_id=row.conversation_id,
                target=target,
                author=AuthorKind(row.author_kind),
                author_name=row.author_name,
                text=row.text,
                attachments=tuple(Attachment(**a) for a in row.attachments or ()),
                choices=from_stored(row.choices),
                created_at=as_utc(row.created_at),
                idempotency_key=row.idempotency_key,
                maybe_sent_after=self._maybe_sent_after(row),
            )
        return await channel.deliver(out)

    async def _last_delivery_id(self) -> int:
        found = await self._store.fetch_one(sa.select(sa.func.max(DELIVERY.c.id)))
        return 0 if found is None or found[0] is None else int(found[0])

    def _maybe_sent_after(self, row: Any) -> datetime | None:
        """When a delivery pending since before this process started may have been posted: not before its message
        was stored. None for a delivery no earlier process saw."""
        if self._horizon is None or row.id > self._horizon:
            return None
        return as_utc(row.created_at)

    async def _open_thread(self, channel: Channel, row: Any) -> str:
        """Post the conversation's root card and remember its ts as the thread."""
        card = ConversationCard(
            conversation_id=row.conversation_id,
            customer_name=row.display_name or f"Visitor {row.conversation_id}",
            channel=ChannelKind(row.origin_channel),
            locale=row.locale,
            page_url=row.page_url,
            first_message=row.text,
            attributes=row.contact_attributes or {},
        )
        card_out = OutboundCard(delivery_id=row.id, card=card, maybe_sent_after=self._maybe_sent_after(row))
        delivered = await channel.deliver(card_out)

        async def job(conn: AsyncConnection) -> None:
            await conn.execute(
                sa.update(CONVERSATION)
                .where(CONVERSATION.c.id == row.conversation_id)
                .values(slack_thread_ts=delivered.remote_id, slack_channel=self._support_channel)
            )

        await self._store.writer.run(job)
        self._threads[row.conversation_id] = delivered.remote_id
        return delivered.remote_id

    async def _remote_id_of(self, message_id: int, target_channel: str) -> str | None:
        found = await self._store.fetch_one(
            sa.select(DELIVERY.c.remote_id).where(
                DELIVERY.c.message_id == message_id,
                DELIVERY.c.target_channel == target_channel,
                DELIVERY.c.kind == "message",
                DELIVERY.c.status == DeliveryStatus.SENT,
            )
        )
        return None if found is None else found.remote_id

    async def _sent(self, row: Any, delivered: Delivered) -> None:
        sent_at = self._clock()
        await self._store.writer.submit_sent(row.id, delivered.remote_id, sent_at)
        if row.kind == "message":
            for listener in self._sent_listeners:
                listener(row.target_channel, (sent_at - as_utc(row.created_at)).total_seconds())
        if row.direction == "in" and row.kind == "message":
            origin = self._channels.get(ChannelKind(row.customer_channel))
            if origin is not None:
                customer = ExternalRef(channel=ChannelKind(row.customer_channel), external_id=row.customer_ref)
                await origin.delivered(customer, row.message_id)

    async def _retry(self, row: Any, exc: RetryLater) -> None:
        if exc.retry_after is not None:  # the platform's rate limit: wait exactly, no attempt counted
            wait, attempts = exc.retry_after.total_seconds(), row.attempts
        else:
            attempts = row.attempts + 1
            if attempts >= self._max_attempts:
                await self._dead(row, exc.reason, attempts)
                return
            wait = min(self._max_backoff, self._base_backoff * 2 ** (attempts - 1)) * random.uniform(1.0, 1.25)
        log.info("delivery %s waits %.1f s: %s", row.id, wait, exc.reason)
        await self._update(
            row.id,
            attempts=attempts,
            next_attempt_at=self._clock() + timedelta(seconds=wait),
            last_error=exc.reason[:500],
        )

    async def _dead(self, row: Any, reason: str, attempts: int | None = None) -> None:
        log.warning("delivery %s moved to dead letters: %s", row.id, reason)
        await self._update(
            row.id, status=DeliveryStatus.DEAD, attempts=attempts or row.attempts, last_error=reason[:500]
        )

    async def _update(self, delivery_id: int, **values: Any) -> None:
        async def job(conn: AsyncConnection) -> None:
            await conn.execute(sa.update(DELIVERY).where(DELIVERY.c.id == delivery_id).values(**values))

        await self._store.writer.run(job)


def _lane_query(lane: Lane) -> sa.Select[Any]:
    """A lane's pending deliveries, oldest first, with what building the Outbound needs."""
    conversation_id, target_channel = lane
    return (
        sa.select(
            DELIVERY.c.id,
            DELIVERY.c.idempotency_key,
            DELIVERY.c.kind,
            DELIVERY.c.target_channel,
            DELIVERY.c.target_ref,
            DELIVERY.c.attempts,
            DELIVERY.c.next_attempt_at,
            DELIVERY.c.conversation_id,
            MESSAGE.c.id.label("message_id"),
            MESSAGE.c.direction,
            MESSAGE.c.author_kind,
            MESSAGE.c.author_name,
            MESSAGE.c.text,
            MESSAGE.c.attachments,
            MESSAGE.c.choices,
            MESSAGE.c.created_at,
            CONVERSATION.c.slack_thread_ts,
            CONVERSATION.c.locale,
            CONVERSATION.c.page_url,
            CONVERSATION.c.origin_channel,
            CONVERSATION.c.customer_blocked,
            CONTACT.c.display_name,
            CONTACT.c.attributes.label("contact_attributes"),
            IDENTITY.c.channel.label("customer_channel"),
            IDENTITY.c.external_id.label("customer_ref"),
        )
        .join(MESSAGE, MESSAGE.c.id == DELIVERY.c.message_id)
        .join(CONVERSATION, CONVERSATION.c.id == DELIVERY.c.conversation_id)
        .join(IDENTITY, IDENTITY.c.id == CONVERSATION.c.identity_id)
        .join(CONTACT, CONTACT.c.id == IDENTITY.c.contact_id)
        .where(
            DELIVERY.c.conversation_id == conversation_id,
            DELIVERY.c.target_channel == target_channel,
            DELIVERY.c.status == DeliveryStatus.PENDING,
        )
        .order_by(DELIVERY.c.id)
        .limit(50)
    )
