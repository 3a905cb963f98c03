"""This module contains the Slack side of the desk: the thread card's actions, ``/available`` and ``/away``.

Every action is acknowledged at once, checked (``channels.slack.permissions``: members of the support channel
or of the agent user group may act), applied by ``bridge.desk.Desk``, and shown: the card is updated in place
(``chat.update`` on the thread root) and a short note goes in the thread. A stale action gets an ephemeral
explanation and a refreshed card.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bridge.desk import Actor, CardState, Change, Desk, NotAConversation, Stale
from bridge.events import ConversationCard
from bridge.keyed_locks import KeyedLocks
from bridge.routing import PRIORITIES, Priority
from channels.slack import card
from channels.slack.background import Background
from channels.slack.permalinks import Permalinks
from channels.slack.permissions import AgentName, Permissions
from channels.slack.reconcile import card_metadata
from channels.slack.translate import card_post, escape_mrkdwn

log = logging.getLogger("switchboard.slack.desk")

AVAILABLE, AWAY = "/available", "/away"
AVAILABLE_USAGE = "Usage: `/available [max open conversations, 1-50]`, e.g. `/available` or `/available 3`."
AWAY_USAGE = "Usage: `/away` (no arguments)."


def register(
    bolt: AsyncApp,
    desk: Desk,
    *,
    client: AsyncWebClient,
    support_channel: str,
    agent_name: AgentName,
    permissions: Permissions,
    background: Background,
) -> DeskCards:
    """Add the card actions and availability commands to ``bolt``; returns what posts the root cards."""
    cards = DeskCards(
        desk,
        client=client,
        support_channel=support_channel,
        agent_name=agent_name,
        permissions=permissions,
        background=background,
    )
    for action_id in card.ACTIONS:
        bolt.action(action_id)(cards.action)
    bolt.command(AVAILABLE)(cards.available)
    bolt.command(AWAY)(cards.away)
    desk.on_change(cards.changed)
    return cards


class DeskCards:
    """Posts and updates the conversations' cards and answers the agents' clicks on them."""

    def __init__(
        self,
        desk: Desk,
        *,
        client: AsyncWebClient,
        support_channel: str,
        agent_name: AgentName,
        permissions: Permissions,
        background: Background,
    ) -> None:
        self._desk = desk
        self._client = client
        self._channel = support_channel
        self._agent_name = agent_name
        self._permissions = permissions
        self._is_member = permissions.allowed
        self._locks = KeyedLocks()
        self._shows = KeyedLocks()  # one change of a conversation shown at a time, in order
        self._background = background
        # A change may commit before the outbox stores the new thread's ts: ``_posted`` knows it earlier, and
        # changes that arrive before the card exists wait in ``_pending`` until it is posted.
        self._posted: dict[int, str] = {}
        self._pending: dict[int, list[Change]] = {}
        self._permalinks = Permalinks(client, support_channel)  # the card links to the contact's earlier threads
        self._for_the_morning: dict[str, int] = {}  # thread ts -> conversation, for cards showing the mark

    # ------------------------------------------------------------------ the card

    async def post_card(self, opening: ConversationCard, *, existing: str | None = None) -> str:
        """Post a new conversation's root card (the thread root) and return its ts.

        ``existing``: the card is in the channel already (an earlier process posted it, then died before storing
        its ts): bring it up to date instead of posting a second thread.
        """
        state: CardState | None = None
        try:
            state = await self._desk.state(opening.conversation_id)
        except NotAConversation:
            post = card_post(opening, channel=self._channel)
        else:
            message = await self._card_message(state)
            post = {"channel": self._channel, **message, "unfurl_links": False, "unfurl_media": False}
        post["metadata"] = card_metadata(opening.conversation_id)  # found by it should this process die now
        if existing is None:
            ts = str((await self._client.chat_postMessage(**post))["ts"])
        else:
            update = {k: post[k] for k in ("channel", "text", "blocks") if k in post}
            await self._client.chat_update(ts=existing, **update)
            ts = existing
        self._posted[opening.conversation_id] = ts
        if state is not None:
            self._shown(state, ts)
        for change in self._pending.pop(opening.conversation_id, []):
            await self._show(change)
        return ts

    async def changed(self, change: Change) -> None:
        """A committed change: shown after Slack got its answer (a click's 2xx does not wait for ``chat.update``),
        one change of a conversation after the other, in the order they came."""
        self._background.spawn(
            self._show(change), what=f"showing a change of conversation {change.state.conversation_id}"
        )

    async def _show(self, change: Change) -> None:
        """Update the card in place and post the change's note in the thread."""
        async with self._shows.hold(change.state.conversation_id):
            await self._show_now(change)

    async def _show_now(self, change: Change) -> None:
        conversation_id = change.state.conversation_id
        ts = change.state.thread_ts or self._posted.get(conversation_id)
        if ts is None:
            self._pending.setdefault(conversation_id, []).append(change)
            return
        if change.state.thread_ts is not None:
            self._posted.pop(conversation_id, None)
        try:
            await self._refresh(conversation_id, ts)
            if change.note:
                text = escape_mrkdwn(change.note) + (f" <@{change.mention}>" if change.mention else "")
                await self._client.chat_postMessage(channel=self._channel, thread_ts=ts, text=text)
        except (SlackApiError, aiohttp.ClientError):
            log.exception("slack: could not show the change of conversation %s", conversation_id)

    async def _refresh(self, conversation_id: int, ts: str) -> None:
        # Re-read under a per-conversation lock: concurrent changes must not leave an older state on the card.
        async with self._locks.hold(conversation_id):
            state = await self._desk.state(conversation_id)
            await self._client.chat_update(channel=self._channel, ts=ts, **await self._card_message(state))
            self._shown(state, ts)

    async def _card_message(self, state: CardState) -> dict[str, Any]:
        links = await self._permalinks.links(e.thread_ts for e in state.earlier if e.thread_ts)
        return card.card_message(state, links)

    def _shown(self, state: CardState, ts: str) -> None:
        """Remember whether the card at ``ts`` now shows the after-hours mark (a reply must then clear it)."""
        if state.for_the_morning is None:
            self._for_the_morning.pop(ts, None)
        else:
            self._for_the_morning[ts] = state.conversation_id

    async def replied(self, thread_ts: str) -> None:
        """An agent answered in ``thread_ts``: a card marked for the morning loses its mark."""
        conversation_id = self._for_the_morning.get(thread_ts)
        if conversation_id is not None:
            try:
                await self._refresh(conversation_id, thread_ts)
            except (SlackApiError, aiohttp.ClientError):
                log.exception("slack: could not refresh the card of conversation %s", conversation_id)

    # ------------------------------------------------------------------ clicks

    async def action(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        container = body.get("container") or {}
        ts = str(container.get("message_ts") or "")
        if container.get("channel_id") != self._channel or not user or not ts:
            return
        if not await self._is_member(user):
            await self._tell(user, ts, f"Only {self._permissions.who} can act on conversations.")
            return
        actor = Actor(user=user, name=await self._agent_name(user) or user)
        try:
            await self._apply(ts, actor, action)
        except Stale as exc:
            if exc.state.thread_ts:
                await self._refresh(exc.state.conversation_id, exc.state.thread_ts)
            await self._tell(user, ts, exc.reason)
        except NotAConversation:
            await self._tell(user, ts, "This message is not a customer conversation's card.")

    async def _apply(self, ts: str, actor: Actor, action: dict[str, Any]) -> None:
        match action.get("action_id"):
            case card.CLAIM:
                await self._desk.claim(ts, actor)
            case card.CLOSE:
                await self._desk.close(ts, actor)
            case card.REOPEN:
                await self._desk.reopen(ts, actor)
            case card.PRIORITY:
                value = (action.get("selected_option") or {}).get("value")
                if value in PRIORITIES:
                    await self._desk.set_priority(ts, actor, Priority(value))
            case card.TAG_SELECT:
                tags = [str(o.get("value")) for o in action.get("selected_options") or ()]
                await self._desk.set_tags(ts, actor, tags)
            case card.ASSIGN:
                target = action.get("selected_user")
                if target:
                    if not await self._is_member(str(target)):
                        raise Stale(
                            f"<@{target}> is not one of the {self._permissions.who}: assign someone who is.",
                            await self._desk.state_of_thread(ts),
                        )
                    name = await self._agent_name(str(target)) or str(target)
                    await self._desk.assign(ts, actor, Actor(user=str(target), name=name))

    async def _tell(self, user: str, thread_ts: str, text: str) -> None:
        try:
            await self._client.chat_postEphemeral(channel=self._channel, user=user, thread_ts=thread_ts, text=text)
        except (SlackApiError, aiohttp.ClientError):
            log.exception("slack: could not tell %s: %s", user, text)

    # ------------------------------------------------------------------ availability

    async def available(self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        words = str(command.get("text") or "").split()
        # isdecimal, not isdigit: "²" is a digit that int() refuses
        if len(words) > 1 or (words and not (words[0].isdecimal() and 1 <= int(words[0]) <= 50)):
            await respond(text=AVAILABLE_USAGE, response_type="ephemeral")
            return
        actor = await self._command_actor(command, respond)
        if actor is None:
            return
        cap = int(words[0]) if words else None
        await self._desk.set_availability(actor, available=True, max_open=cap)
        limit = f" (up to {cap} open conversations)" if cap else ""
        text = f"You are available{limit}: new conversations are offered to you."
        await respond(text=text, response_type="ephemeral")

    async def away(self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        if str(command.get("text") or "").strip():
            await respond(text=AWAY_USAGE, response_type="ephemeral")
            return
        actor = await self._command_actor(command, respond)
        if actor is None:
            return
        await self._desk.set_availability(actor, available=False)
        await respond(text="You are away: no new conversations are offered to you.", response_type="ephemeral")

    async def _command_actor(self, command: dict[str, Any], respond: AsyncRespond) -> Actor | None:
        user = str(command.get("user_id") or "")
        if not await self._is_member(user):
            await respond(text=f"Only {self._permissions.who} can take conversations.", response_type="ephemeral")
            return None
        return Actor(user=user, name=await self._agent_name(user) or user)
