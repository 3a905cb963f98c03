"""This module contains the Engine: it stores every inbound record and enqueues its deliveries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, assert_never, final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.events import (
    AgentReply,
    AuthorKind,
    ChannelKind,
    CustomerBlocked,
    CustomerChoice,
    CustomerEdit,
    CustomerHello,
    CustomerMessage,
    ExternalRef,
    Inbound,
    LocaleChoice,
    Profile,
    Receipt,
    ReceiptStatus,
)
from bridge.model import Contact, Conversation, ConversationStatus, Delivery, Identity, Message, utcnow
from bridge.redaction import mask_cards
from bridge.sanitize import customer_text, strip_profile
from bridge.store import MessageShape, Outcome, Store

log = logging.getLogger("switchboard.engine")

Negotiate = Callable[[Sequence[str | None]], str]
MAX_SHAPES = 10_000  # cached ``MessageShape``s (a few hundred bytes each)
CHOSEN_LOCALE = "chosen_locale"  # contact attribute: the customer's explicit language choice, beats negotiation


@dataclass(frozen=True, slots=True)
class Route:
    """Where a customer's messages go: their identity, contact and open conversation."""

    identity_id: int
    contact_id: int
    conversation_id: int
    created: bool = False  # this lookup created the conversation
    locale: str | None = None  # the created conversation's locale


@dataclass(frozen=True, slots=True, kw_only=True)
class Opened:
    """A conversation was just created: what greeting its customer needs."""

    conversation_id: int
    customer: ExternalRef
    locale: str
    name: str | None


OnOpen = Callable[[AsyncConnection, Opened], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ThreadTarget:
    """Where an agent's reply in a thread goes: the conversation and its customer."""

    conversation_id: int
    customer: ExternalRef


def _table(model: type[Any]) -> sa.Table:
    return model.__table__  # type: ignore[no-any-return]


CONTACT, IDENTITY, CONVERSATION = _table(Contact), _table(Identity), _table(Conversation)
MESSAGE, DELIVERY = _table(Message), _table(Delivery)


@final
class Engine:
    """Receives ``Inbound`` records: dedupe, contact/conversation upsert, store, enqueue deliveries.

    Every write goes through the store's group-commit writer, so ``receive`` returns only
    after the message and its deliveries are committed: the adapter may acknowledge then.
    """

    def __init__(
        self, store: Store, *, negotiate: Negotiate, default_locale: str = "en", on_open: OnOpen | None = None
    ) -> None:
        self._store = store
        self._on_open = on_open  # runs in the transaction that creates a conversation (the greeting)
        self._negotiate = negotiate
        self._default_locale = default_locale
        self._routes: dict[tuple[str, str], Route] = {}
        self._opening: dict[tuple[str, str], asyncio.Future[Route]] = {}
        self._threads: dict[str, ThreadTarget] = {}
        # The prepared rows of a customer's messages by (conversation, customer, name): see ``MessageShape``
        self._shapes: dict[tuple[int, str, str, str | None], MessageShape] = {}

    async def receive(self, inbound: Inbound) -> Receipt:
        """Store ``inbound`` durably and return what happened to it."""
        match inbound:
            case CustomerMessage():
                return await self._customer_message(inbound)
            case CustomerEdit():
                return await self._customer_edit(inbound)
            case AgentReply():
                return await self._agent_reply(inbound)
            case CustomerBlocked():
                return await self._customer_blocked(inbound)
            case CustomerHello():
                return await self._customer_hello(inbound)
            case LocaleChoice():
                return await self._locale_choice(inbound)
            case CustomerChoice():  # what a choice means is the desk's call (``Desk.receive``)
                return Receipt(status=ReceiptStatus.IGNORED, reason="a pressed choice goes to the desk")
            case _:
                assert_never(inbound)

    async def identify(self, ref: ExternalRef, profile: Profile, seen_at: datetime | None = None) -> int:
        """Create or update the customer's identity and contact; returns the identity id. ``seen_at``: a widget
        hello's time, kept as the identity's ``last_seen_at`` (its session expires that long after)."""
        return await self._store.writer.run(lambda conn: _upsert_identity(conn, ref, profile, seen_at))

    def has_route(self, ref: ExternalRef) -> bool:
        """Whether the customer's open conversation is cached: their next message needs no lookup."""
        return (ref.channel, ref.external_id) in self._routes

    def forget_route(self, ref: ExternalRef) -> None:
        """Drop the cached route (the conversation was closed or the locale changed)."""
        self._routes.pop((ref.channel, ref.external_id), None)

    def forget_conversations(self, conversation_ids: Collection[int]) -> None:
        """Drop the cached routes and threads of deleted conversations (retention), so nothing is sent their way."""
        gone = set(conversation_ids)
        for key in [key for key, route in self._routes.items() if route.conversation_id in gone]:
            del self._routes[key]
        for ts in [ts for ts, target in self._threads.items() if target.conversation_id in gone]:
            del self._threads[ts]

    async def _customer_message(self, inbound: CustomerMessage) -> Receipt:
        return await (await self.queue_customer_message(inbound))

    async def queue_customer_message(self, inbound: CustomerMessage) -> Awaitable[Receipt]:
        """Find or open the customer's conversation and queue ``inbound`` for the next group commit; await the
        result for its receipt (once committed). Messages queued one after another are committed in that order."""
        route = await self._route(inbound.source, inbound.profile)
        stored = self._submit_customer_message(inbound, route.conversation_id)
        return self.customer_receipt(stored, inbound, route.conversation_id)

    def routed(self, inbound: CustomerMessage) -> int | None:
        """The customer's open conversation when its route is cached (their message needs no lookup), else None."""
        route = self._routes.get((inbound.source.channel, inbound.source.external_id))
        return None if route is None else route.conversation_id

    def submit_routed(self, inbound: CustomerMessage, conversation_id: int, outcome: Outcome) -> None:
        """The hot path, without awaiting: queue ``inbound`` for its cached conversation (``routed``) now;
        ``outcome`` is told its message id (None for a duplicate) once committed."""
        now = self._store.clock.now()
        if inbound.attachments:  # files change the row's shape: built in full
            self._store.writer.queue_message(*self._customer_rows(inbound, conversation_id, now), outcome)
            return
        key = (conversation_id, inbound.source.channel, inbound.source.external_id, inbound.profile.display_name)
        shape = self._shapes.get(key)
        if shape is None:
            if len(self._shapes) >= MAX_SHAPES:  # customers come and go: start over rather than grow
                self._shapes.clear()
            shape = self._shapes[key] = self._store.writer.shape(*self._customer_rows(inbound, conversation_id, now))
        self._store.writer.queue(shape.pending(customer_stored_text(inbound.text), inbound.source_id, now, outcome))

    def _submit_customer_message(self, inbound: CustomerMessage, conversation_id: int) -> asyncio.Future[int | None]:
        return self._store.writer.submit_message(*self._customer_rows(inbound, conversation_id, utcnow()))

    @staticmethod
    def _customer_rows(
        inbound: CustomerMessage, conversation_id: int, now: datetime
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The Message row of ``inbound`` and its Delivery row to the conversation's Slack thread."""
        message = customer_message_row(inbound, conversation_id, now)
        delivery = delivery_row(
            conversation_id=conversation_id,
            target=ExternalRef(channel=ChannelKind.SLACK, external_id=str(conversation_id)),
            now=now,
        )
        return message, [delivery]

    async def customer_receipt(
        self, stored: Awaitable[int | None], inbound: CustomerMessage, conversation_id: int
    ) -> Receipt:
        """The receipt of a queued customer message, once committed (a duplicate's is looked up)."""
        message_id = await stored
        if message_id is None:
            return await self.duplicate_receipt(inbound, conversation_id)
        return _receipt(message_id, conversation_id)

    async def duplicate_receipt(self, inbound: CustomerMessage, conversation_id: int) -> Receipt:
        """A redelivered message's receipt: it tells the adapter which message it already is."""
        return await self._duplicate(inbound.source.channel, inbound.source_id, conversation_id)

    async def _customer_hello(self, inbound: CustomerHello) -> Receipt:
        """Open (and so greet) the customer's conversation without a message; the route is not cached, so
        their first message still takes the desk's new-conversation path."""
        route = await self._route(inbound.source, inbound.profile)
        self.forget_route(inbound.source)
        status = ReceiptStatus.STORED if route.created else ReceiptStatus.IGNORED
        reason = None if route.created else "the conversation is open already"
        return Receipt(status=status, conversation_id=route.conversation_id, reason=reason)

    async def _locale_choice(self, inbound: LocaleChoice) -> Receipt:
        """Record the customer's language on the contact and their open conversation."""
        locale = self._negotiate([inbound.locale])

        def job(conn: AsyncConnection) -> Any:
            return _choose_locale(conn, inbound.source, locale)

        conversation_id = await self._store.writer.run(job)
        return Receipt(status=ReceiptStatus.STORED, conversation_id=conversation_id, reason=locale)

    async def _duplicate(self, channel: str, source_id: str, conversation_id: int) -> Receipt:
        row = await self._store.fetch_one(
            sa.select(MESSAGE.c.id).where(MESSAGE.c.source_channel == str(channel), MESSAGE.c.source_id == source_id)
        )
        return Receipt(
            status=ReceiptStatus.DUPLICATE, message_id=None if row is None else row.id, conversation_id=conversation_id
        )

    async def _customer_edit(self, inbound: CustomerEdit) -> Receipt:
        return await self._conversation_job(lambda conn: _store_edit(conn, inbound), "edit of an unknown message")

    async def _customer_blocked(self, inbound: CustomerBlocked) -> Receipt:
        return await self._conversation_job(
            lambda conn: _mark_blocked(conn, inbound), "no open conversation, or already marked so"
        )

    async def _conversation_job(
        self, job: Callable[[AsyncConnection], Awaitable[int | None]], ignored_reason: str
    ) -> Receipt:
        """Run a write that returns the conversation it changed, or None when there was nothing to change."""
        conversation_id = await self._store.writer.run(job)
        if conversation_id is None:
            return Receipt(status=ReceiptStatus.IGNORED, reason=ignored_reason)
        return Receipt(status=ReceiptStatus.STORED, conversation_id=conversation_id)

    async def _agent_reply(self, inbound: AgentReply) -> Receipt:
        target = await self._thread_target(inbound.thread_ref)
        if target is None:
            return Receipt(status=ReceiptStatus.IGNORED, reason="not a conversation thread")
        now = utcnow()
        message = message_row(
            conversation_id=target.conversation_id,
            direction="out",
            author_kind=AuthorKind.NOTE if inbound.is_note else AuthorKind.AGENT,
            author_ref=inbound.agent.external_id,
            author_name=inbound.agent_name,
            text=inbound.text,
            attachments=[_attachment(a) for a in inbound.attachments],
            source_channel=inbound.agent.channel,
            source_id=inbound.source_id,
            now=now,
        )
        deliveries = []
        if not inbound.is_note:
            deliveries.append(
                delivery_row(
                    conversation_id=target.conversation_id,
                    target=target.customer,
                    now=now,
                )
            )
        stored = self._store.writer.submit_message(message, deliveries)
        if not inbound.is_note:  # the first agent reply times the conversation's first response (once)
            await self._store.writer.run(lambda conn: _first_response(conn, target.conversation_id, now))
        return _receipt(await stored, target.conversation_id)

    async def note_to_thread(self, conversation_id: int, text: str, *, source_id: str) -> Receipt:
        """Store a note for the agents (never shown to the customer) and post it in the conversation's thread."""
        now = utcnow()
        message = message_row(
            conversation_id=conversation_id,
            direction="out",
            author_kind=AuthorKind.NOTE,
            author_ref=None,
            author_name="Switchboard",
            text=text,
            attachments=[],
            source_channel=ChannelKind.SLACK,
            source_id=source_id,
            now=now,
        )
        slack = ExternalRef(channel=ChannelKind.SLACK, external_id=str(conversation_id))
        delivery = delivery_row(conversation_id=conversation_id, target=slack, now=now)
        return _receipt(await self._store.writer.submit_message(message, [delivery]), conversation_id)

    async def _route(self, ref: ExternalRef, profile: Profile) -> Route:
        key = (ref.channel, ref.external_id)
        route = self._routes.get(key)
        if route is None:
            # One lookup per customer at a time: messages pipelined behind the first one wait
            # for the same job, and resume (and reach the writer) in the order they arrived.
            opening = self._opening.get(key)
            if opening is None:
                locale = self._negotiate([profile.locale, *profile.languages])

                async def job(conn: AsyncConnection) -> Route:
                    route = await _open_route(conn, ref, profile, locale)
                    if route.created and self._on_open is not None:
                        opened = Opened(
                            conversation_id=route.conversation_id,
                            customer=ref,
                            locale=route.locale or locale,
                            name=profile.display_name,
                        )
                        await self._on_open(conn, opened)
                    return route

                opening = self._opening[key] = self._store.writer.submit_job(job)
                opening.add_done_callback(lambda done: self._opened(key, done))
            route = await asyncio.shield(opening)
        return route

    def _opened(self, key: tuple[str, str], done: asyncio.Future[Route]) -> None:
        self._opening.pop(key, None)
        if not done.cancelled() and done.exception() is None:
            self._routes[key] = done.result()

    async def _thread_target(self, thread_ref: str) -> ThreadTarget | None:
        target = self._threads.get(thread_ref)
        if target is None:
            row = await self._store.fetch_one(
                sa.select(CONVERSATION.c.id, IDENTITY.c.channel, IDENTITY.c.external_id)
                .join(IDENTITY, IDENTITY.c.id == CONVERSATION.c.identity_id)
                .where(CONVERSATION.c.slack_thread_ts == thread_ref)
            )
            if row is None:
                return None
            customer = ExternalRef(channel=ChannelKind(row.channel), external_id=row.external_id)
            target = self._threads[thread_ref] = ThreadTarget(row.id, customer)
        return target


def _receipt(message_id: int | None, conversation_id: int) -> Receipt:
    if message_id is None:
        return Receipt(status=ReceiptStatus.DUPLICATE, conversation_id=conversation_id)
    return Receipt(status=ReceiptStatus.STORED, message_id=message_id, conversation_id=conversation_id)


def _attachment(a: Any) -> dict[str, Any]:
    return {"name": a.name, "media_type": a.media_type, "size": a.size, "url": a.url}


def customer_message_row(inbound: CustomerMessage, conversation_id: int, now: Any) -> dict[str, Any]:
    """The Message row of a customer's message in ``conversation_id``: its text and name as stored (without HTML
    or NUL: ``customer_text``)."""
    name = inbound.profile.display_name
    return message_row(
        conversation_id=conversation_id,
        direction="in",
        author_kind=AuthorKind.CUSTOMER,
        author_ref=inbound.source.external_id,
        author_name=customer_text(name) if name else name,
        text=customer_stored_text(inbound.text),
        attachments=[_attachment(a) for a in inbound.attachments],
        source_channel=inbound.source.channel,
        source_id=inbound.source_id,
        now=now,
    )


def customer_stored_text(text: str) -> str:
    """A customer's text as stored: without HTML or NUL (``customer_text``), card numbers masked (``mask_cards``,
    which ``message_row`` applies to anyone's text: masking twice changes nothing)."""
    return mask_cards(customer_text(text))


def message_row(
    *,
    conversation_id: int,
    direction: str,
    author_kind: AuthorKind,
    author_ref: str | None,
    author_name: str | None,
    text: str,
    attachments: list[dict[str, Any]],
    source_channel: str,
    source_id: str,
    now: Any,
) -> dict[str, Any]:
    """A new Message row for the Core insert of the group-commit writer: every column but the ones a new message
    leaves NULL (edited_at, deleted_at, choices), which the hot path need not bind."""
    return {
        "conversation_id": conversation_id,
        "direction": direction,
        "author_kind": str(author_kind),
        "author_ref": author_ref,
        "author_name": author_name,
        "text": mask_cards(text),  # anyone's text: card numbers are never stored (bridge.redaction)
        "attachments": attachments,
        "source_channel": str(source_channel),
        "source_id": source_id,
        "created_at": now,
    }


def delivery_row(
    *, conversation_id: int, target: ExternalRef, now: Any, key: str | None = None, kind: str = "message"
) -> dict[str, Any]:
    """A new Delivery row but ``message_id`` and the columns a new delivery leaves NULL (remote_id, last_error,
    sent_at); without ``key``, the row is for ``submit_message``, whose writer keys it by its message."""
    keyed = {} if key is None else {"idempotency_key": key}
    return {
        "conversation_id": conversation_id,
        "kind": kind,
        "target_channel": str(target.channel),
        "target_ref": target.external_id,
        **keyed,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


async def _upsert_identity(
    conn: AsyncConnection, ref: ExternalRef, profile: Profile, seen_at: datetime | None = None
) -> int:
    """Find or create the identity and its contact; refresh the contact's profile fields."""
    profile = strip_profile(profile)  # the name and attributes are stored without HTML (bridge.sanitize)
    row = (
        await conn.execute(
            sa.select(IDENTITY.c.id, IDENTITY.c.contact_id, CONTACT.c.attributes)
            .join(CONTACT, CONTACT.c.id == IDENTITY.c.contact_id)
            .where(IDENTITY.c.channel == str(ref.channel), IDENTITY.c.external_id == ref.external_id)
        )
    ).first()
    if row is None:
        contact_id = (
            await conn.execute(
                sa.insert(CONTACT)
                .values(
                    display_name=profile.display_name,
                    locale=profile.locale,
                    attributes=dict(profile.attributes),
                    created_at=utcnow(),
                )
                .returning(CONTACT.c.id)
            )
        ).scalar_one()
        identity_id = (
            await conn.execute(
                sa.insert(IDENTITY)
                .values(
                    channel=str(ref.channel),
                    external_id=ref.external_id,
                    contact_id=contact_id,
                    created_at=utcnow(),
                    last_seen_at=seen_at,
                )
                .returning(IDENTITY.c.id)
            )
        ).scalar_one()
        return int(identity_id)
    changes: dict[str, Any] = {}
    chosen = (row.attributes or {}).get(CHOSEN_LOCALE)  # an explicit choice outlives the platform's language
    if profile.display_name:
        changes["display_name"] = profile.display_name
    if profile.locale and not chosen:
        changes["locale"] = profile.locale
    if profile.attributes:
        changes["attributes"] = {**dict(profile.attributes), **({CHOSEN_LOCALE: chosen} if chosen else {})}
    if changes:
        await conn.execute(sa.update(CONTACT).where(CONTACT.c.id == row.contact_id).values(**changes))
    if seen_at is not None:
        await conn.execute(sa.update(IDENTITY).where(IDENTITY.c.id == row.id).values(last_seen_at=seen_at))
    return int(row.id)


async def _open_route(conn: AsyncConnection, ref: ExternalRef, profile: Profile, locale: str) -> Route:
    """The customer's open conversation, created (with identity and contact) when there is none."""
    identity_id = await _upsert_identity(conn, ref, profile)
    contact_id = (await conn.execute(sa.select(IDENTITY.c.contact_id).where(IDENTITY.c.id == identity_id))).scalar_one()
    conversation_id = (
        await conn.execute(
            sa.select(CONVERSATION.c.id)
            .where(
                CONVERSATION.c.identity_id == identity_id,
                CONVERSATION.c.status != ConversationStatus.RESOLVED,
            )
            .order_by(CONVERSATION.c.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    created = conversation_id is None
    if conversation_id is None:
        attributes = (await conn.execute(sa.select(CONTACT.c.attributes).where(CONTACT.c.id == contact_id))).scalar()
        locale = (attributes or {}).get(CHOSEN_LOCALE) or locale
        conversation_id = (
            await conn.execute(
                sa.insert(CONVERSATION)
                .values(
                    contact_id=contact_id,
                    identity_id=identity_id,
                    origin_channel=str(ref.channel),
                    status=ConversationStatus.OPEN,
                    priority="normal",
                    tags=[],
                    locale=locale,
                    page_url=profile.page_url,
                    created_at=utcnow(),
                )
                .returning(CONVERSATION.c.id)
            )
        ).scalar_one()
    return Route(
        identity_id=identity_id,
        contact_id=int(contact_id),
        conversation_id=int(conversation_id),
        created=created,
        locale=locale,
    )


async def _choose_locale(conn: AsyncConnection, ref: ExternalRef, locale: str) -> int | None:
    """Store the explicit choice on the contact (created if new) and its open conversation; its id or None."""
    identity_id = await _upsert_identity(conn, ref, Profile())
    contact = (
        await conn.execute(
            sa.select(CONTACT.c.id, CONTACT.c.attributes)
            .join(IDENTITY, IDENTITY.c.contact_id == CONTACT.c.id)
            .where(IDENTITY.c.id == identity_id)
        )
    ).one()
    attributes = {**(contact.attributes or {}), CHOSEN_LOCALE: locale}
    chosen = {"locale": locale, "attributes": attributes}
    await conn.execute(sa.update(CONTACT).where(CONTACT.c.id == contact.id).values(**chosen))
    conversation_id = (
        await conn.execute(
            sa.select(CONVERSATION.c.id)
            .where(CONVERSATION.c.identity_id == identity_id, CONVERSATION.c.status != ConversationStatus.RESOLVED)
            .order_by(CONVERSATION.c.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if conversation_id is not None:
        await conn.execute(sa.update(CONVERSATION).where(CONVERSATION.c.id == conversation_id).values(locale=locale))
    return None if conversation_id is None else int(conversation_id)


async def _store_edit(conn: AsyncConnection, inbound: CustomerEdit) -> int | None:
    """Update the stored text and enqueue an edit of the copy in the Slack thread."""
    row = (
        await conn.execute(
            sa.select(MESSAGE.c.id, MESSAGE.c.conversation_id, MESSAGE.c.text).where(
                MESSAGE.c.source_channel == str(inbound.source.channel),
                MESSAGE.c.source_id == inbound.target_source_id,
            )
        )
    ).first()
    if row is None:
        return None
    text = mask_cards(customer_text(inbound.text))  # an edit may add a card number or markup: as a message
    if row.text == text:
        return int(row.conversation_id)
    now = utcnow()
    await conn.execute(sa.update(MESSAGE).where(MESSAGE.c.id == row.id).values(text=text, edited_at=now))
    delivery = delivery_row(
        conversation_id=row.conversation_id,
        target=ExternalRef(channel=ChannelKind.SLACK, external_id=str(row.conversation_id)),
        key=f"edit:{row.id}:{now.timestamp()}",
        now=now,
        kind="edit",
    )
    await conn.execute(sa.insert(DELIVERY).values(message_id=row.id, **delivery))
    return int(row.conversation_id)


async def _first_response(conn: AsyncConnection, conversation_id: int, now: Any) -> None:
    """Record ``now`` as the conversation's first response time unless one is already recorded."""
    await conn.execute(
        sa.update(CONVERSATION)
        .where(CONVERSATION.c.id == conversation_id, CONVERSATION.c.first_response_at.is_(None))
        .values(first_response_at=now)
    )


BLOCKED_NOTE = "The customer blocked the bot on {channel}; replies cannot be delivered."
UNBLOCKED_NOTE = "The customer unblocked the bot on {channel}; replies are delivered again."


async def _mark_blocked(conn: AsyncConnection, inbound: CustomerBlocked) -> int | None:
    """Set the open conversation's ``customer_blocked`` flag and note it in the thread, once per change."""
    row = (
        await conn.execute(
            sa.select(CONVERSATION.c.id, CONVERSATION.c.customer_blocked)
            .join(IDENTITY, IDENTITY.c.id == CONVERSATION.c.identity_id)
            .where(
                IDENTITY.c.channel == str(inbound.source.channel),
                IDENTITY.c.external_id == inbound.source.external_id,
                CONVERSATION.c.status != ConversationStatus.RESOLVED,
            )
            .order_by(CONVERSATION.c.id.desc())
            .limit(1)
        )
    ).first()
    if row is None or bool(row.customer_blocked) == inbound.blocked:
        return None
    now = utcnow()
    await conn.execute(
        sa.update(CONVERSATION).where(CONVERSATION.c.id == row.id).values(customer_blocked=inbound.blocked)
    )
    state = "blocked" if inbound.blocked else "unblocked"
    message = message_row(
        conversation_id=row.id,
        direction="out",  # internal: a note for the agents, never sent to the customer
        author_kind=AuthorKind.NOTE,
        author_ref=None,
        author_name="Switchboard",
        text=(BLOCKED_NOTE if inbound.blocked else UNBLOCKED_NOTE).format(channel=inbound.source.channel.title()),
        attachments=[],
        source_channel=inbound.source.channel,
        source_id=f"{inbound.source.external_id}:{state}:{now.timestamp()}",
        now=now,
    )
    message_id = (await conn.execute(sa.insert(MESSAGE).values(**message).returning(MESSAGE.c.id))).scalar_one()
    delivery = delivery_row(
        conversation_id=row.id,
        target=ExternalRef(channel=ChannelKind.SLACK, external_id=str(row.id)),
        key=f"note:{message_id}>slack",
        now=now,
    )
    await conn.execute(sa.insert(DELIVERY).values(message_id=message_id, **delivery))
    return int(row.id)
