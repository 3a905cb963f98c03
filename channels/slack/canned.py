"""This module contains the Slack side of canned answers: ``/canned``, ``!canned`` thread replies and the shortcut.

Slack sends no ``thread_ts`` with a slash command, so in a thread an agent either replies ``!canned <key>
[name=value ...]`` (``/canned ...`` typed as a message works too) or uses the message shortcut
``send_canned`` on any message of the thread, which opens a modal. ``/canned`` alone lists the answers.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bridge.canned import (
    CannedRequest,
    CannedService,
    MissingParams,
    NotAConversation,
    UnknownCannedKey,
    language_name,
    parse_command,
)
from bridge.events import ChannelKind, ExternalRef
from channels.slack.permissions import AgentName, Permissions
from channels.slack.translate import escape_mrkdwn, from_mrkdwn

log = logging.getLogger("switchboard.slack.canned")

COMMAND = "/canned"
CALLBACK_ID = "send_canned"  # the message shortcut and its modal (slack-app-manifest.yml)
KEY_BLOCK, PARAMS_BLOCK = "key", "params"
_THREAD_COMMAND = re.compile(r"\s*[!/]canned(?:\s+|$)", re.IGNORECASE)
HOW_TO = (
    "In a conversation thread, reply `!canned <key> [name=value …]` (e.g. `!canned order_status order=A-42`), "
    "or open the ⋯ menu on any message of the thread and choose *Send canned answer*. "
    "The customer gets the answer in their language."
)
NOT_A_CONVERSATION = "This thread is not a customer conversation: use canned answers in a conversation's thread."


def register(
    bolt: AsyncApp,
    service: CannedService,
    *,
    client: AsyncWebClient,
    support_channel: str,
    agent_name: AgentName,
    permissions: Permissions,
) -> None:
    """Add the canned-answer listeners to ``bolt``; call before the plain ``message`` listener (first match wins)."""
    handlers = _Handlers(
        service, client=client, support_channel=support_channel, agent_name=agent_name, permissions=permissions
    )
    bolt.command(COMMAND)(handlers.command)
    bolt.event("message", matchers=[handlers.is_thread_command])(handlers.thread_command)
    bolt.message_shortcut(CALLBACK_ID)(handlers.shortcut)
    bolt.view(CALLBACK_ID)(handlers.submission)


def listing(sources: Mapping[str, str]) -> str:
    """The ``/canned`` answer: every key with its English text, and how to send one."""
    if not sources:
        return "There are no canned answers yet: add them to locales/canned.pot and run `switchboard i18n update`."
    lines = [f"• `{key}`: {escape_mrkdwn(text)}" for key, text in sources.items()]
    return "\n".join(["*Canned answers*", *lines, "", HOW_TO])


def unknown_key_text(exc: UnknownCannedKey) -> str:
    hint = f" Did you mean {', '.join(f'`{m}`' for m in exc.close_matches)}?" if exc.close_matches else ""
    return f"There is no canned answer `{escape_mrkdwn(exc.key)}`.{hint} Type `/canned` for the list. Nothing was sent."


def canned_modal(sources: Mapping[str, str], *, thread_ts: str, customer: str, locale: str) -> dict[str, Any]:
    """The shortcut's modal: pick a key, type the parameters; ``private_metadata`` carries the thread."""
    options = [
        {
            "text": {"type": "plain_text", "text": key[:75]},
            "value": key,
            "description": {"type": "plain_text", "text": text[:75]},
        }
        for key, text in list(sources.items())[:100]
    ]
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": json.dumps({"thread_ts": thread_ts}),
        "title": {"type": "plain_text", "text": "Send canned answer"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"To {escape_mrkdwn(customer)[:200]}, in {escape_mrkdwn(language_name(locale))}",
                    }
                ],
            },
            {
                "type": "input",
                "block_id": KEY_BLOCK,
                "label": {"type": "plain_text", "text": "Answer"},
                "element": {"type": "static_select", "action_id": KEY_BLOCK, "options": options},
            },
            {
                "type": "input",
                "block_id": PARAMS_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Values for placeholders"},
                "hint": {"type": "plain_text", "text": "name=value, separated by spaces, e.g. order=A-42"},
                "element": {"type": "plain_text_input", "action_id": PARAMS_BLOCK},
            },
        ],
    }


class _Handlers:
    def __init__(
        self,
        service: CannedService,
        *,
        client: AsyncWebClient,
        support_channel: str,
        agent_name: AgentName,
        permissions: Permissions,
    ) -> None:
        self._permissions = permissions
        self._service = service
        self._client = client
        self._support = support_channel
        self._agent_name = agent_name

    # -- /canned --------------------------------------------------------------------------------------------

    async def command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        key, _params = parse_command(from_mrkdwn(str(command.get("text") or "")))
        if not key:
            text = listing(self._service.sources())
        else:
            try:
                self._service.source(key)
            except UnknownCannedKey as exc:
                text = unknown_key_text(exc)
            else:
                text = (
                    "Slack does not tell apps which thread a slash command was typed in, so "
                    f"`/canned {escape_mrkdwn(key)}` cannot find the customer. {HOW_TO}"
                )
        await ack(response_type="ephemeral", text=text)

    # -- !canned in a thread --------------------------------------------------------------------------------

    async def is_thread_command(self, event: dict[str, Any]) -> bool:
        thread_ts, ts = event.get("thread_ts"), event.get("ts")
        return bool(
            event.get("channel") == self._support
            and thread_ts
            and ts
            and thread_ts != ts
            and event.get("user")
            and not event.get("bot_id")
            and event.get("subtype") is None
            and _THREAD_COMMAND.match(str(event.get("text") or ""))
        )

    async def thread_command(self, event: dict[str, Any]) -> None:
        user, thread_ts = str(event["user"]), str(event["thread_ts"])
        text = _THREAD_COMMAND.sub("", from_mrkdwn(str(event.get("text") or "")), count=1)
        if not parse_command(text)[0]:
            await self._ephemeral(user, thread_ts, listing(self._service.sources()))
            return
        problem = await self._send(user, thread_ts, text, source_id=f"{self._support}:{event['ts']}")
        if problem is not None:
            await self._ephemeral(user, thread_ts, problem[1])

    async def _send(self, user: str, thread_ts: str, typed: str, *, source_id: str) -> tuple[str, str] | None:
        """Send the answer ``typed`` names (``key name=value ...``) in the thread.

        Returns:
            None when it was sent; else the modal block at fault and the reason to show the agent.
        """
        key, params = parse_command(typed)
        request = CannedRequest(
            thread_ref=thread_ts,
            key=key,
            params=params,
            agent=ExternalRef(channel=ChannelKind.SLACK, external_id=user),
            agent_name=await self._agent_name(user),
            source_id=source_id,
        )
        try:
            sent = await self._service.send(request)
        except NotAConversation:
            return KEY_BLOCK, NOT_A_CONVERSATION
        except UnknownCannedKey as exc:
            return KEY_BLOCK, unknown_key_text(exc)
        except MissingParams as exc:
            return PARAMS_BLOCK, f"Nothing was sent: {escape_mrkdwn(str(exc))}."
        log.info("canned %s -> conversation %s (%s)", request.key, sent.receipt.conversation_id, sent.canned.locale)
        return None

    @property
    def _refusal(self) -> str:
        return f"Only {self._permissions.who} can send canned answers to customers."

    async def _ephemeral(self, user: str, thread_ts: str, text: str) -> None:
        try:
            await self._client.chat_postEphemeral(channel=self._support, user=user, thread_ts=thread_ts, text=text)
        except (SlackApiError, aiohttp.ClientError) as exc:  # the agent misses a hint; Slack must not redeliver
            log.warning("canned: cannot tell %s: %s", user, exc)

    # -- message shortcut and its modal ---------------------------------------------------------------------

    async def shortcut(self, ack: AsyncAck, shortcut: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        message = shortcut.get("message") or {}
        thread_ts = str(message.get("thread_ts") or message.get("ts") or "")
        if (shortcut.get("channel") or {}).get("id") != self._support:
            await respond(response_type="ephemeral", text=NOT_A_CONVERSATION)
            return
        if not await self._permissions.allowed(str((shortcut.get("user") or {}).get("id") or "")):
            await respond(response_type="ephemeral", text=self._refusal)
            return
        try:
            info = await self._service.conversation(thread_ts)
        except NotAConversation:
            await respond(response_type="ephemeral", text=NOT_A_CONVERSATION)
            return
        view = canned_modal(
            self._service.sources(),
            thread_ts=thread_ts,
            customer=info.customer_name or "the customer",
            locale=info.locale,
        )
        await self._client.views_open(trigger_id=shortcut["trigger_id"], view=view)

    async def submission(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = (view.get("state") or {}).get("values") or {}
        chosen = ((values.get(KEY_BLOCK) or {}).get(KEY_BLOCK) or {}).get("selected_option") or {}
        typed = ((values.get(PARAMS_BLOCK) or {}).get(PARAMS_BLOCK) or {}).get("value") or ""
        user = str(body["user"]["id"])
        if not await self._permissions.allowed(user):
            await ack(response_action="errors", errors={KEY_BLOCK: self._refusal})
            return
        try:
            thread_ts = str(json.loads(view.get("private_metadata") or "{}")["thread_ts"])
        except (ValueError, KeyError, TypeError):
            await ack(response_action="errors", errors={KEY_BLOCK: "This form lost its conversation; open it again."})
            return
        typed = f"{chosen.get('value') or ''} {typed}"
        problem = await self._send(user, thread_ts, typed, source_id=f"{self._support}:canned:{view.get('id')}")
        if problem is None:
            await ack()
        else:
            await ack(response_action="errors", errors={problem[0]: problem[1][:2000]})
