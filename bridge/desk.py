"""This module contains the Desk: what agents do to conversations (claim, assign, close ...) and routing them.

It knows conversations, agents and catalogs, not Slack: ``channels/slack/desk.py`` turns buttons and slash
commands into calls here, shows ``Stale`` as an ephemeral message, and renders every ``Change`` on the
thread card. The desk also sits in front of ``Engine.receive`` for customer messages: a new conversation is
routed, a message after close is a CSAT answer or reopens the conversation, and urgent keywords raise the
priority.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge import after_hours, choices, faq, routing, survey, texts
from bridge.abuse import Limits
from bridge.choices import Prompt
from bridge.engine import (
    CONTACT,
    CONVERSATION,
    DELIVERY,
    IDENTITY,
    MESSAGE,
    Engine,
    customer_message_row,
    delivery_row,
    message_row,
)
from bridge.events import (
    AuthorKind,
    ChannelKind,
    CustomerChoice,
    CustomerMessage,
    ExternalRef,
    Inbound,
    Receipt,
    ReceiptStatus,
)
from bridge.hours import BusinessHours
from bridge.i18n import Catalogs
from bridge.keyed_locks import KeyedLocks
from bridge.model import ConversationStatus, as_utc, utcnow
from bridge.routing import Priority
from bridge.store import Job, Store
from bridge.words import words_of

__all__ = ["TAGS", "Actor", "CardState", "Change", "Desk", "EarlierConversation", "NotAConversation", "Stale"]

log = logging.getLogger("switchboard.desk")

TAGS = ("technical", "payment", "account", "complaint")
REOPEN_WITHIN = timedelta(days=7)  # a customer writing later than this starts a new conversation
_T = TypeVar("_T")


class NotAConversation(LookupError):
    """The thread is not a customer conversation's thread."""


class _StoredBefore(Exception):
    """Raised in a writer job (rolling it back): the customer's message is stored already, it is a copy."""


class _NoLongerApplies(Exception):
    """Raised in a writer job (rolling it back): the survey answer no longer applies (answered, window closed)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """An agent acting on a conversation: their Slack user id and display name."""

    user: str
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EarlierConversation:
    """One of the contact's earlier conversations, as the card links to it."""

    conversation_id: int
    created_at: datetime
    status: str
    thread_ts: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CardState:
    """Everything the thread card shows about a conversation, read fresh from the database."""

    conversation_id: int
    status: str
    assignee: str | None
    priority: str
    tags: tuple[str, ...]
    locale: str
    channel: ChannelKind
    customer_name: str
    email: str | None
    attributes: Mapping[str, object]
    page_url: str | None
    csat: int | None
    csat_comment: str | None = None  # what the customer added after rating
    first_message: str
    thread_ts: str | None
    earlier: tuple[EarlierConversation, ...] = ()  # the contact's last few earlier conversations, newest first
    for_the_morning: datetime | None = None  # arrived after hours, nobody took it yet: when the desk opens


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """A conversation changed: the card must show ``state``; ``note`` (plain text) goes in the thread.

    ``mention`` is a Slack user to notify with the note (the agent a conversation was offered to).
    """

    state: CardState
    note: str | None = None
    mention: str | None = None


class Stale(Exception):
    """The action no longer applies (closed meanwhile, claimed by someone else); ``reason`` says what happened."""

    def __init__(self, reason: str, state: CardState) -> None:
        super().__init__(reason)
        self.reason = reason
        self.state = state


Listener = Callable[[Change], Awaitable[None]]


@dataclass(slots=True)
class _Outcome:
    """What a writer job decided: a stale reason, or the note to post (and whom to mention)."""

    conversation_id: int
    stale: str | None = None
    note: str | None = None
    mention: str | None = None


@final
class Desk:
    """Conversation actions and routing, over the store's single writer (see ``bridge.routing``)."""

    def __init__(
        self,
        *,
        store: Store,
        engine: Engine,
        catalogs: Catalogs,
        urgent_keywords: Sequence[str] = (),
        hours: BusinessHours | None = None,
        faq_keywords: faq.Keywords | None = None,
        clock: Callable[[], datetime] = utcnow,
        limits: Limits | None = None,
    ) -> None:
        self._store = store
        self._hours = hours
        self._faq = faq_keywords  # None: the FAQ bot is off (SWITCHBOARD_FAQ)
        self._engine = engine
        self._catalogs = catalogs
        self._urgent = routing.keyword_pattern(urgent_keywords)
        self._urgent_starts = routing.first_words(urgent_keywords)  # a message without one of these is not urgent
        self._clock = clock
        self._listeners: list[Listener] = []
        self._after_ack: set[asyncio.Future[Receipt]] = set()  # keyword work of acknowledged messages, running
        self._first_messages = KeyedLocks()  # customers whose messages take the slow path, one at a time
        limits = limits or Limits()  # new conversations per client address, messages per conversation a minute
        self._new_conversations, self._messages = limits.conversations, limits.messages

    def on_change(self, listener: Listener) -> None:
        """Call ``listener`` after every committed change (the Slack card subscribes)."""
        self._listeners.append(listener)

    # ------------------------------------------------------------------ reading

    async def state(self, conversation_id: int) -> CardState:
        """The conversation's card state; raises ``NotAConversation``."""
        return await self._state(CONVERSATION.c.id == conversation_id, str(conversation_id))

    async def state_of_thread(self, thread_ts: str) -> CardState:
        """The card state of the conversation whose thread is ``thread_ts``; raises ``NotAConversation``."""
        return await self._state(CONVERSATION.c.slack_thread_ts == thread_ts, thread_ts)

    async def _state(self, where: sa.ColumnElement[bool], what: str) -> CardState:
        row = await self._store.fetch_one(
            sa.select(
                CONVERSATION,
                CONTACT.c.display_name,
                CONTACT.c.email,
                CONTACT.c.attributes.label("contact_attributes"),
            )
            .join(CONTACT, CONTACT.c.id == CONVERSATION.c.contact_id)
            .where(where)
        )
        if row is None:
            raise NotAConversation(what)
        first = await self._store.fetch_one(
            sa.select(MESSAGE.c.text)
            .where(MESSAGE.c.conversation_id == row.id, MESSAGE.c.direction == "in")
            .order_by(MESSAGE.c.id)
            .limit(1)
        )
        earlier = await self._store.fetch_all(
            sa.select(CONVERSATION.c.id, CONVERSATION.c.created_at, CONVERSATION.c.status)
            .add_columns(CONVERSATION.c.slack_thread_ts)
            .where(CONVERSATION.c.contact_id == row.contact_id, CONVERSATION.c.id < row.id)
            .order_by(CONVERSATION.c.id.desc())
            .limit(5)
        )
        attributes = dict(row.contact_attributes or {})  # the widget's hello keeps the visitor's email among them
        given = attributes.pop("email") if isinstance(attributes.get("email"), str) else None
        return CardState(
            conversation_id=int(row.id),
            status=row.status,
            assignee=row.assignee,
            priority=row.priority,
            tags=tuple(row.tags or ()),
            locale=row.locale,
            channel=ChannelKind(row.origin_channel),
            customer_name=row.display_name or f"Visitor {row.id}",
            email=row.email or given,
            attributes=attributes,
            page_url=row.page_url,
            csat=row.csat_score,
            csat_comment=row.csat_comment,
            first_message="" if first is None else first.text,
            thread_ts=row.slack_thread_ts,
            earlier=tuple(
                EarlierConversation(
                    conversation_id=int(e.id),
                    created_at=as_utc(e.created_at),
                    status=e.status,
                    thread_ts=e.slack_thread_ts,
                )
                for e in earlier
            ),
            for_the_morning=after_hours.for_the_morning(
                self._hours,
                created_at=row.created_at,
                status=row.status,
                assignee=row.assignee,
                first_response_at=row.first_response_at,
            ),
        )

    # ------------------------------------------------------------------ agents' actions

    async def claim(self, thread_ts: str, actor: Actor) -> CardState:
        """``actor`` takes the conversation; raises ``Stale`` if it is closed or someone else has it."""

        def decide(row: Any) -> tuple[str | None, dict[str, Any], str, list[str]]:
            if row.status == ConversationStatus.RESOLVED:
                return "This conversation is already closed.", {}, "", []
            if row.assignee == actor.user:
                return "You already have this conversation.", {}, "", []
            if row.assignee is not None:
                return f"<@{row.assignee}> already has this conversation.", {}, "", []
            joined = self._catalogs.gettext(row.locale, texts.AGENT_JOINED, agent=actor.name)
            return None, {"assignee": actor.user}, f"{actor.name} claimed this conversation.", [joined]

        return await self._act(thread_ts, decide)

    async def assign(self, thread_ts: str, actor: Actor, assignee: Actor) -> CardState:
        """Give the conversation to ``assignee``; raises ``Stale`` if it is closed or already theirs."""

        def decide(row: Any) -> tuple[str | None, dict[str, Any], str, list[str]]:
            if row.status == ConversationStatus.RESOLVED:
                return "This conversation is already closed: reopen it first.", {}, "", []
            if row.assignee == assignee.user:
                return f"<@{assignee.user}> already has this conversation.", {}, "", []
            joined = self._catalogs.gettext(row.locale, texts.AGENT_JOINED, agent=assignee.name)
            note = f"{actor.name} assigned this conversation to {assignee.name}."
            return None, {"assignee": assignee.user}, note, [joined]

        return await self._act(thread_ts, decide, mention=assignee.user)

    async def set_priority(self, thread_ts: str, actor: Actor, priority: Priority) -> CardState:
        """Change the priority (the queue serves urgent first)."""

        def decide(row: Any) -> tuple[str | None, dict[str, Any], str, list[str]]:
            if row.priority == priority:
                return None, {}, "", []
            return None, {"priority": str(priority)}, f"{actor.name} set the priority to {priority}.", []

        return await self._act(thread_ts, decide)

    async def set_tags(self, thread_ts: str, actor: Actor, tags: Sequence[str]) -> CardState:
        """Replace the conversation's tags with ``tags`` (unknown tags are dropped)."""
        chosen = [t for t in TAGS if t in tags]

        def decide(row: Any) -> tuple[str | None, dict[str, Any], str, list[str]]:
            if list(row.tags or ()) == chosen:
                return None, {}, "", []
            note = f"{actor.name} set the tags to {', '.join(chosen)}." if chosen else f"{actor.name} removed the tags."
            return None, {"tags": chosen}, note, []

        return await self._act(thread_ts, decide)

    async def close(self, thread_ts: str, actor: Actor) -> CardState:
        """Resolve the conversation; the customer gets the closing text and the survey question (1-5 buttons)."""

        def decide(row: Any) -> tuple[str | None, dict[str, Any], str, list[str | Prompt]]:
            if row.status == ConversationStatus.RESOLVED:
                return "This conversation is already closed.", {}, "", []
            customer = [
                self._catalogs.gettext(row.locale, texts.CONVERSATION_CLOSED),
                survey.question(self._catalogs, row.locale),
            ]
            values = {"status": ConversationStatus.RESOLVED, "resolved_at": self._clock()}
            values |= {"csat_score": None, "csat_at": None, "csat_comment": None}  # a new close, a new survey
            return None, values, f"{actor.name} closed this conversation.", customer

        state = await self._act(thread_ts, decide, forget=True)
        await self.dispatch()  # the agent has room for a waiting conversation now
        return state

    async def reopen(self, thread_ts: str, actor: Actor) -> CardState:
        """Open a resolved conversation again; raises ``Stale`` if it is open."""

        def decide(row: Any) -> tuple[str | None, dict[str, Any], str, list[str]]:
            if row.status != ConversationStatus.RESOLVED:
                return "This conversation is already open.", {}, "", []
            values = {"status": ConversationStatus.OPEN, "resolved_at": None}
            return None, values, f"{actor.name} reopened this conversation.", []

        return await self._act(thread_ts, decide, forget=True)

    async def set_availability(self, actor: Actor, *, available: bool, max_open: int | None = None) -> None:
        """``/available`` and ``/away``: an available agent is offered waiting conversations at once."""

        async def job(conn: AsyncConnection) -> None:
            await routing.set_availability(conn, actor.user, name=actor.name, available=available, max_open=max_open)

        await self._store.writer.run(job)
        if available:
            await self.dispatch()

    async def availability(self, user: str) -> tuple[bool, int] | None:
        """Whether ``user`` is available and their cap of open conversations; None before they first set it."""
        agent = routing.AGENT.c
        row = await self._store.fetch_one(sa.select(agent.available, agent.max_open).where(agent.slack_user_id == user))
        return None if row is None else (bool(row.available), int(row.max_open))

    async def dispatch(self) -> None:
        """Offer waiting conversations (urgent first) to available agents with room, round-robin."""
        for outcome in await self._store.writer.run(self._serve_queue):
            await self._emit(outcome)

    # ------------------------------------------------------------------ customers' messages

    async def receive(self, inbound: Inbound) -> Receipt:
        """The channels' sink: ``Engine.receive`` plus routing, CSAT answers, reopening, urgent keywords and the FAQ
        bot.

        Only a customer without a cached route (their first message since start, or after a close) costs a
        lookup here; the hot path adds keyword searches (the FAQ bot reads the conversation only on a hit).
        """
        if isinstance(inbound, CustomerChoice):
            return await self._choice(inbound)
        if not isinstance(inbound, CustomerMessage):
            return await self._engine.receive(inbound)
        customer = (inbound.source.channel, inbound.source.external_id)
        if self._engine.has_route(inbound.source) and customer not in self._first_messages:
            if (refused := self._too_fast(self._engine.routed(inbound))) is not None:
                return refused
            return await self._stored_customer_message(inbound, await self._engine.receive(inbound))
        # A customer without a cached route takes the slow path (lookups, maybe a new conversation); their
        # messages queue here until it is queued for the writer, so they are stored in the order they came,
        # not in the order the lookups happen to finish.
        async with self._first_messages.hold(customer):
            new = reopened = routing_it = False
            if not self._engine.has_route(inbound.source):
                answered, new, reopened = await self._first_message(inbound)
                if answered is not None:
                    return answered
                if new and not self._new_conversations.admit(inbound.profile.address):
                    return self._too_many_conversations(inbound)
                routing_it = True
            elif (refused := self._too_fast(self._engine.routed(inbound))) is not None:
                return refused
            queued = await self._engine.queue_customer_message(inbound)
            if routing_it:  # counted in its conversation's minute too, once routed (never refused: it is queued)
                self._too_fast(self._engine.routed(inbound))
        return await self._stored_customer_message(inbound, await queued, new=new, reopened=reopened)

    def receive_soon(self, inbound: Inbound) -> asyncio.Future[Receipt] | None:
        """``receive``'s hot path without a task per message (for pipelined widget messages): a customer message
        whose open conversation is cached is queued for the writer now, and the future gives its receipt once it
        is committed. None for anything else: that goes through ``receive``."""
        if not isinstance(inbound, CustomerMessage):
            return None
        if (inbound.source.channel, inbound.source.external_id) in self._first_messages:
            return None
        conversation_id = self._engine.routed(inbound)
        if conversation_id is None:
            return None
        if (refused := self._too_fast(conversation_id)) is not None:  # bridge.abuse.PerMinute: ~0.13 µs
            limited: asyncio.Future[Receipt] = self._store.loop.create_future()
            limited.set_result(refused)
            return limited
        committed = _Committed(self, inbound, conversation_id, self._store.loop)
        self._engine.submit_routed(inbound, conversation_id, committed)
        return committed.receipt

    def _too_fast(self, conversation_id: int | None) -> Receipt | None:
        """The refusal of a message over its conversation's limit a minute (None: within it, now counted)."""
        if conversation_id is None or self._messages.allow(conversation_id):
            return None
        reason = f"more than {self._messages.limit} messages a minute in this conversation; wait a moment"
        return Receipt(status=ReceiptStatus.LIMITED, conversation_id=conversation_id, reason=reason)

    def _too_many_conversations(self, inbound: CustomerMessage) -> Receipt:
        """The refusal of a message that would open one conversation too many from its client's address."""
        limit = self._new_conversations.limit
        log.info("desk: new conversation refused: %s opened %d in 12 h", inbound.profile.address, limit)
        reason = f"more than {limit} new conversations from this address in 12 hours; try again later"
        return Receipt(status=ReceiptStatus.LIMITED, reason=reason)

    def _acknowledged(self, inbound: CustomerMessage, receipt: Receipt) -> None:
        """A hot-path message is stored and its receipt given: FAQ answer and urgent priority follow, in a task
        (the ack does not wait for the keyword work and its Slack calls)."""
        try:
            if self._keywords(inbound):
                task = asyncio.ensure_future(self._stored_customer_message(inbound, receipt))
                self._after_ack.add(task)
                task.add_done_callback(self._after_ack.discard)
        except Exception:  # the message is stored and acknowledged: keyword trouble is only logged
            log.exception("desk: keyword checks failed for conversation %s", receipt.conversation_id)

    async def _redelivered(self, inbound: CustomerMessage, conversation_id: int) -> Receipt:
        """A hot-path message turned out a duplicate: the receipt of the message it already is, the full way."""
        duplicate = await self._engine.duplicate_receipt(inbound, conversation_id)
        return await self._stored_customer_message(inbound, duplicate)

    def _keywords(self, inbound: CustomerMessage) -> bool:
        """Whether the message names an FAQ or urgent keyword (``_after_customer_message`` has work to do)."""
        words = words_of(inbound.text)  # one pass over the text for both checks
        if self._faq is not None and self._faq.mentioned(inbound.text, words):
            return True
        if self._urgent is None or self._urgent_starts.isdisjoint(words):
            return False
        return self._urgent.search(inbound.text) is not None

    async def _first_message(self, inbound: CustomerMessage) -> tuple[Receipt | None, bool, bool]:
        """A customer's message with no cached route: a survey answer (its receipt), or whether it starts a new
        conversation or reopens their last one."""
        new = reopened = False
        latest = await self._latest(inbound.source)
        if latest is not None and latest.status == ConversationStatus.RESOLVED:
            if (stored := await self._stored(inbound)) is not None:  # resent: already a rating, comment...
                return stored, False, False
            answer = None if inbound.attachments else survey.typed(latest, inbound.text, self._clock())
            if answer is not None:
                answered = await self._answer_survey(inbound, latest.id, latest.locale, answer)
                if answered is not None:  # None: answered meanwhile, or the window just closed
                    return answered, False, False
            reopened = self._clock() - as_utc(latest.resolved_at or latest.created_at) <= REOPEN_WITHIN
            reopened = reopened and await self._reopen_for_customer(latest.id)
        new = latest is None or (latest.status == ConversationStatus.RESOLVED and not reopened)
        new = new or (latest.status != ConversationStatus.RESOLVED and await self._unwritten(latest.id))
        return None, new, reopened

    async def _stored_customer_message(
        self, inbound: CustomerMessage, receipt: Receipt, *, new: bool = False, reopened: bool = False
    ) -> Receipt:
        if receipt.status is not ReceiptStatus.STORED or receipt.conversation_id is None:
            return receipt
        try:
            await self._after_customer_message(receipt.conversation_id, inbound.text, new=new, reopened=reopened)
        except Exception:  # the message is stored: routing trouble must not make the channel redeliver it
            log.exception("desk: routing conversation %s failed", receipt.conversation_id)
        return receipt

    async def _after_customer_message(self, conversation_id: int, text: str, *, new: bool, reopened: bool) -> None:
        if self._faq is not None and self._faq.mentioned(text):  # before routing: the bot answers first
            await self._answer_faq(self._faq, conversation_id, text)
        if self._urgent is not None and (found := self._urgent.search(text)):
            await self._raise_to_urgent(conversation_id, found.group(0))
        if reopened:
            state = await self.state(conversation_id)
            await self._notify(Change(state=state, note="The customer wrote again: conversation reopened."))
        if new and self._hours is not None:
            await self._mark_for_the_morning(conversation_id)
        if new or reopened:
            await self._route(conversation_id)

    async def _answer_faq(self, keywords: faq.Keywords, conversation_id: int, text: str) -> None:
        """The message names an FAQ answer's keywords: the bot answers if the conversation is still its own, with
        a note in the thread (``bridge.faq``)."""
        now = self._clock()

        async def job(conn: AsyncConnection) -> faq.Answer | None:
            answer = await faq.answer(conn, conversation_id, text, keywords, self._catalogs)
            if answer is not None:
                await tell_customer(conn, conversation_id, answer.customer, answer.prompt, key=answer.key, now=now)
            return answer

        answer = await self._store.writer.run(job)
        if answer is not None:
            await self._engine.note_to_thread(conversation_id, answer.note, source_id=f"{answer.key}:note")

    async def _mark_for_the_morning(self, conversation_id: int) -> None:
        """A new conversation that arrived after hours gets a note in its thread; its card shows the mark."""
        opening = (await self.state(conversation_id)).for_the_morning
        if opening is not None:
            note, key = after_hours.thread_note(opening), f"after-hours:{conversation_id}"
            await self._engine.note_to_thread(conversation_id, note, source_id=key)

    async def _latest(self, ref: ExternalRef) -> Any:
        return await self._store.fetch_one(
            sa.select(CONVERSATION.c.id, CONVERSATION.c.status, CONVERSATION.c.csat_score)
            .add_columns(CONVERSATION.c.resolved_at, CONVERSATION.c.created_at, CONVERSATION.c.locale)
            .add_columns(CONVERSATION.c.csat_at, CONVERSATION.c.csat_comment)
            .join(IDENTITY, IDENTITY.c.id == CONVERSATION.c.identity_id)
            .where(IDENTITY.c.channel == str(ref.channel), IDENTITY.c.external_id == ref.external_id)
            .order_by(CONVERSATION.c.id.desc())
            .limit(1)
        )

    async def _unwritten(self, conversation_id: int) -> bool:
        """Opened without a customer message (Telegram ``/start``, greeted only): the first one routes it."""
        written = await self._store.fetch_one(
            sa.select(MESSAGE.c.id)
            .where(MESSAGE.c.conversation_id == conversation_id, MESSAGE.c.direction == "in")
            .limit(1)
        )
        return written is None

    async def _reopen_for_customer(self, conversation_id: int) -> bool:
        async def job(conn: AsyncConnection) -> bool:
            done = await conn.execute(
                sa.update(CONVERSATION)
                .where(CONVERSATION.c.id == conversation_id, CONVERSATION.c.status == ConversationStatus.RESOLVED)
                .values(status=ConversationStatus.OPEN, resolved_at=None)
            )
            return bool(done.rowcount)

        return await self._store.writer.run(job)

    async def _stored(self, inbound: CustomerMessage) -> Receipt | None:
        """A DUPLICATE receipt when this very message was stored before (a widget resend, a redelivery)."""
        row = await self._store.fetch_one(
            sa.select(MESSAGE.c.id, MESSAGE.c.conversation_id).where(
                MESSAGE.c.source_channel == str(inbound.source.channel), MESSAGE.c.source_id == inbound.source_id
            )
        )
        if row is None:
            return None
        return Receipt(status=ReceiptStatus.DUPLICATE, message_id=row.id, conversation_id=row.conversation_id)

    async def _choice(self, press: CustomerChoice) -> Receipt:
        """A pressed choice: a survey rating, a reply to the FAQ bot, or else what the customer said by pressing it
        (its label)."""
        found = await choices.offered(self._store, press)
        if found is None:
            return Receipt(status=ReceiptStatus.IGNORED, reason="no such choice was offered to this customer")
        said = CustomerMessage(
            source=press.source, source_id=press.source_id, text=found.choice.label, profile=press.profile
        )
        if (reply := faq.chosen(press.choice)) is not None:
            return await self._faq_pressed(said, found.conversation_id, reply, prompt_id=press.message_id)
        rating = survey.chosen(press.choice)
        if rating is None:
            return await self.receive(said)
        answered = await self._answer_survey(
            said, found.conversation_id, found.locale, rating, prompt_id=press.message_id
        )
        reason = "the survey was answered already, or no longer applies"
        return answered or Receipt(status=ReceiptStatus.DUPLICATE, conversation_id=found.conversation_id, reason=reason)

    async def _answer_survey(
        self,
        inbound: CustomerMessage,
        conversation_id: int,
        locale: str,
        answer: survey.Answer,
        *,
        prompt_id: int | None = None,
    ) -> Receipt | None:
        """Record a rating or its comment: the message joins the closed conversation (and its thread), the
        customer hears back, the card shows it. None when the answer no longer applies (nothing is stored); a
        DUPLICATE receipt when this very message was stored meanwhile (a copy delivered at the same time)."""
        now = self._clock()

        async def job(conn: AsyncConnection) -> int:
            # The message first: its unique source tells a copy whose first delivery was stored meanwhile
            # (_StoredBefore), before a refused rating could send the copy on to reopen the conversation.
            message_id = await _store_customer_words(conn, inbound, conversation_id, now)
            if not await survey.record(conn, conversation_id, answer, now=now, prompt_id=prompt_id):
                raise _NoLongerApplies  # rolls the message back: the caller stores it as any other message
            reply = survey.reply(self._catalogs, locale, answer)
            await tell_customer(conn, conversation_id, inbound.source, reply, key=f"csat:{message_id}", now=now)
            return message_id

        try:
            message_id = await self._store.writer.run(job)
        except _NoLongerApplies:
            return None
        except _StoredBefore:
            copy = Receipt(status=ReceiptStatus.DUPLICATE, conversation_id=conversation_id, reason="stored before")
            return await self._stored(inbound) or copy
        state = await self.state(conversation_id)
        await self._notify(Change(state=state, note=survey.note(answer)))
        return Receipt(status=ReceiptStatus.STORED, message_id=message_id, conversation_id=conversation_id)

    async def _faq_pressed(
        self, said: CustomerMessage, conversation_id: int, reply: faq.Reply, *, prompt_id: int
    ) -> Receipt:
        """A reply to the FAQ bot: "That answers my question" resolves the conversation (no survey: the customer
        just said how it went, and ratings are about agents), "Talk to a person" hands it to the agents."""
        now = self._clock()

        async def job(conn: AsyncConnection) -> tuple[int, faq.Settled] | None:
            settled = await faq.settle(conn, conversation_id, reply, self._catalogs, prompt_id=prompt_id, now=now)
            if settled is None:
                return None
            message_id = await _store_customer_words(conn, said, conversation_id, now)
            await tell_customer(conn, conversation_id, settled.customer, settled.text, key=settled.key, now=now)
            return message_id, settled

        try:
            if reply is faq.Reply.ANSWERED:  # resolves: the customer's next message takes the slow path
                done = await self._resolving(said.source, job)
            else:
                done = await self._store.writer.run(job)
        except (sa.exc.IntegrityError, _StoredBefore):  # another process stored the same hand-off or press meanwhile
            done = None
        if done is None:
            reason = "the conversation was resolved, handed to the agents or answered by one meanwhile"
            return Receipt(status=ReceiptStatus.DUPLICATE, conversation_id=conversation_id, reason=reason)
        message_id, settled = done
        await self._notify(Change(state=await self.state(conversation_id), note=settled.note, mention=settled.mention))
        if reply is faq.Reply.ANSWERED:
            await self.dispatch()  # an agent it was offered to has room again
        elif settled.mention is None:
            await self._route(conversation_id)  # nobody has it yet: offer it, or tell the customer their place
        return Receipt(status=ReceiptStatus.STORED, message_id=message_id, conversation_id=conversation_id)

    async def _raise_to_urgent(self, conversation_id: int, word: str) -> None:
        async def job(conn: AsyncConnection) -> bool:
            done = await conn.execute(
                sa.update(CONVERSATION)
                .where(CONVERSATION.c.id == conversation_id, CONVERSATION.c.priority != Priority.URGENT)
                .values(priority=Priority.URGENT)
            )
            return bool(done.rowcount)

        if await self._store.writer.run(job):
            note = f'Priority raised to urgent: the customer wrote "{word}".'
            await self._notify(Change(state=await self.state(conversation_id), note=note))

    async def _route(self, conversation_id: int) -> None:
        """Serve the queue (this conversation among it); tell the customer their position if it still waits."""
        now = self._clock()

        async def job(conn: AsyncConnection) -> list[_Outcome]:
            if not await routing.has_agents(conn):
                return []  # nobody ever declared themselves available: this desk does not route
            outcomes = await self._serve_queue(conn)
            row = await _conversation(conn, conversation_id)
            position = await routing.queue_position(conn, conversation_id)
            if position is not None:
                told = self._catalogs.gettext(row.locale, texts.QUEUE_POSITION, position=position)
                key = f"queue:{conversation_id}:{now.timestamp()}"
                await tell_customer(conn, conversation_id, _customer(row), told, key=key, now=now)
                note = f"No agent is free: the customer is number {position} in the queue."
                outcomes.append(_Outcome(conversation_id, note=note))
            return outcomes

        for outcome in await self._store.writer.run(job):
            await self._emit(outcome)

    async def _serve_queue(self, conn: AsyncConnection) -> list[_Outcome]:
        """Offer waiting conversations in order while some available agent has room."""
        outcomes: list[_Outcome] = []
        for conversation_id in await routing.queued(conn):
            agent = await routing.next_agent(conn, self._clock())
            if agent is None:
                break
            outcomes.append(await self._offer(conn, conversation_id, agent))
        return outcomes

    async def _offer(self, conn: AsyncConnection, conversation_id: int, agent: str) -> _Outcome:
        """Assign the conversation to ``agent`` and tell the customer who joined."""
        now = self._clock()
        row = await _conversation(conn, conversation_id)
        await conn.execute(sa.update(CONVERSATION).where(CONVERSATION.c.id == conversation_id).values(assignee=agent))
        name = await routing.agent_name(conn, agent)
        joined = self._catalogs.gettext(row.locale, texts.AGENT_JOINED, agent=name)
        key = f"offer:{conversation_id}:{now.timestamp()}"
        await tell_customer(conn, conversation_id, _customer(row), joined, key=key, now=now)
        return _Outcome(conversation_id, note=f"Assigned to {name} (round-robin):", mention=agent)

    # ------------------------------------------------------------------ plumbing

    async def _act(
        self,
        thread_ts: str,
        decide: Callable[[Any], tuple[str | None, dict[str, Any], str, Sequence[str | Prompt]]],
        *,
        forget: bool = False,
        mention: str | None = None,
    ) -> CardState:
        """Read the conversation, let ``decide`` judge it, write its changes and texts in one job."""
        now = self._clock()

        async def job(conn: AsyncConnection) -> _Outcome:
            row = (await conn.execute(_CONVERSATION_ROW.where(CONVERSATION.c.slack_thread_ts == thread_ts))).first()
            if row is None:
                raise NotAConversation(thread_ts)
            stale, values, note, customer_texts = decide(row)
            outcome = _Outcome(int(row.id), stale=stale)
            if stale is not None or not values:
                return outcome
            done = await conn.execute(
                sa.update(CONVERSATION)
                .where(
                    CONVERSATION.c.id == row.id,
                    CONVERSATION.c.status == row.status,
                    CONVERSATION.c.assignee.is_not_distinct_from(row.assignee),
                )
                .values(**values)
            )
            if not done.rowcount:  # another process changed it between our read and write
                outcome.stale = "This conversation changed meanwhile; the card now shows its current state."
                return outcome
            for index, text in enumerate(customer_texts):
                key = f"desk:{row.id}:{now.timestamp()}:{index}"
                await tell_customer(conn, row.id, _customer(row), text, key=key, now=now)
            outcome.note, outcome.mention = note, mention
            return outcome

        if forget:
            outcome = await self._resolving(await self._customer_of_thread(thread_ts), job)
        else:
            outcome = await self._store.writer.run(job)
        if outcome.stale is not None:
            raise Stale(outcome.stale, await self.state(outcome.conversation_id))
        return await self._emit(outcome)

    async def _customer_of_thread(self, thread_ts: str) -> ExternalRef:
        """The customer of the conversation whose thread is ``thread_ts``; raises ``NotAConversation``."""
        of_thread = _CONVERSATION_ROW.where(CONVERSATION.c.slack_thread_ts == thread_ts)
        row = await self._store.fetch_one(of_thread)
        if row is None:  # a card just posted: its thread_ts may still wait in the writer, so read behind it
            row = await self._store.writer.run(lambda conn: _first(conn, of_thread))
        if row is None:
            raise NotAConversation(thread_ts)
        return _customer(row)

    async def _resolving(self, customer: ExternalRef, job: Job[_T]) -> _T:
        """Run ``job``, which resolves (or reopens) ``customer``'s conversation, their cached route forgotten first.

        Forgotten only after the commit, the route would let a message arriving meanwhile join the conversation
        as it is being resolved, unseen. Forgotten first, that message takes the slow path and waits here for the
        commit, then answers the survey, reopens or starts a conversation, as any message after a close does.
        """
        async with self._first_messages.hold((customer.channel, customer.external_id)):
            self._engine.forget_route(customer)
            return await self._store.writer.run(job)

    async def _emit(self, outcome: _Outcome) -> CardState:
        state = await self.state(outcome.conversation_id)
        if outcome.note is not None:
            await self._notify(Change(state=state, note=outcome.note, mention=outcome.mention))
        return state

    async def _notify(self, change: Change) -> None:
        for listener in self._listeners:
            try:
                await listener(change)
            except Exception:  # a card that could not be refreshed must not undo a committed change
                log.exception("desk: change listener failed for conversation %s", change.state.conversation_id)


_CONVERSATION_ROW = sa.select(
    CONVERSATION.c.id,
    CONVERSATION.c.status,
    CONVERSATION.c.assignee,
    CONVERSATION.c.priority,
    CONVERSATION.c.tags,
    CONVERSATION.c.locale,
    IDENTITY.c.channel.label("customer_channel"),
    IDENTITY.c.external_id.label("customer_ref"),
).join(IDENTITY, IDENTITY.c.id == CONVERSATION.c.identity_id)


async def _conversation(conn: AsyncConnection, conversation_id: int) -> Any:
    return (await conn.execute(_CONVERSATION_ROW.where(CONVERSATION.c.id == conversation_id))).one()


async def _first(conn: AsyncConnection, statement: sa.Select[Any]) -> Any:
    return (await conn.execute(statement)).first()


def _customer(row: Any) -> ExternalRef:
    return ExternalRef(channel=ChannelKind(row.customer_channel), external_id=row.customer_ref)


async def _store_customer_words(conn: AsyncConnection, said: CustomerMessage, conversation_id: int, now: Any) -> int:
    """Store what the customer said (a typed rating, a pressed choice's label) and its delivery to the thread.

    Raises ``_StoredBefore`` when this very message is stored already (a copy delivered at the same time, another
    process or path first), deduplicated by the unique source, never by a check first.
    """
    message = customer_message_row(said, conversation_id, now)
    insert = (sqlite if conn.dialect.name == "sqlite" else postgresql).insert(MESSAGE).values(**message)
    inserted = insert.on_conflict_do_nothing(index_elements=["source_channel", "source_id"])
    message_id = (await conn.execute(inserted.returning(MESSAGE.c.id))).scalar()
    if message_id is None:
        raise _StoredBefore
    slack = ExternalRef(channel=ChannelKind.SLACK, external_id=str(conversation_id))
    key = f"{said.source.channel}:{said.source_id}>slack"
    delivery = delivery_row(conversation_id=conversation_id, target=slack, key=key, now=now)
    await conn.execute(sa.insert(DELIVERY).values(message_id=message_id, **delivery))
    return int(message_id)


async def tell_customer(
    conn: AsyncConnection,
    conversation_id: int,
    customer: ExternalRef,
    text: str | Prompt,
    *,
    key: str,
    now: Any = None,
) -> None:
    """Store a system text (a ``Prompt``: with its choices) for the customer and its delivery (the outbox sends
    it in order)."""
    now = now or utcnow()
    message = message_row(
        conversation_id=conversation_id,
        direction="out",
        author_kind=AuthorKind.SYSTEM,
        author_ref=None,
        author_name=None,
        text=text.text if isinstance(text, Prompt) else text,
        attachments=[],
        source_channel=ChannelKind.SLACK,
        source_id=key,
        now=now,
    )
    if isinstance(text, Prompt):
        message["choices"] = choices.as_stored(text.choices)
    message_id = (await conn.execute(sa.insert(MESSAGE).values(**message).returning(MESSAGE.c.id))).scalar()
    delivery = delivery_row(conversation_id=conversation_id, target=customer, key=f"{key}>customer", now=now)
    await conn.execute(sa.insert(DELIVERY).values(message_id=message_id, **delivery))


@final
class _Committed:
    """The writer's ``Outcome`` for a message on ``Desk.receive_soon``'s hot path: it resolves the receipt right
    in the commit's callback (no future of the writer's, no extra trip through the event loop)."""

    __slots__ = ("_conversation_id", "_desk", "_inbound", "receipt")

    def __init__(
        self, desk: Desk, inbound: CustomerMessage, conversation_id: int, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._desk, self._inbound, self._conversation_id = desk, inbound, conversation_id
        self.receipt: asyncio.Future[Receipt] = loop.create_future()

    def stored(self, message_id: int | None) -> None:
        if message_id is None:  # a duplicate, whose id is looked up: the full way, in a task
            task = asyncio.ensure_future(self._desk._redelivered(self._inbound, self._conversation_id))
            task.add_done_callback(lambda done: _settle(self.receipt, done))
            return
        receipt = Receipt(status=ReceiptStatus.STORED, message_id=message_id, conversation_id=self._conversation_id)
        if not self.receipt.done():
            self.receipt.set_result(receipt)
        self._desk._acknowledged(self._inbound, receipt)

    def failed(self, exc: BaseException) -> None:
        if not self.receipt.done():
            self.receipt.set_exception(exc)


def _settle(receipt: asyncio.Future[Receipt], task: asyncio.Future[Receipt]) -> None:
    """Give ``receipt`` the outcome of ``task``."""
    if receipt.done():
        return
    if task.cancelled():
        receipt.cancel()
    elif (exc := task.exception()) is not None:
        receipt.set_exception(exc)
    else:
        receipt.set_result(task.result())
