"""This module contains the Slack side of announcements: ``/announce`` and its confirmation modal.

``/announce`` opens a modal (``views.open`` with the command's ``trigger_id``): the agent picks a canned text,
types its placeholders' values and sees how many open conversations will get it; ``/announce incident
service=payments`` fills the form in. Submitting it (``view_submission``) checks the choice (errors are shown on
the field, nothing is sent), stores the announcement for every open conversation (``bridge.announce``) and tells
the agent privately, through the command's ``response_url``, how many conversations got it.
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Mapping
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bridge.announce import (
    Announced,
    Announcement,
    Announcements,
    Audience,
    MissingParams,
    NotAnnounceable,
    UnknownCannedKey,
)
from bridge.canned import language_name, parse_command
from channels.slack.permissions import AgentName, Permissions
from channels.slack.translate import escape_mrkdwn, from_mrkdwn

log = logging.getLogger("switchboard.slack.announce")

COMMAND = "/announce"
CALLBACK_ID = "announce"  # the modal's callback_id: its view_submission comes back to ``submission``
KEY_BLOCK, PARAMS_BLOCK = "announce_key", "announce_params"
NO_ANNOUNCEMENTS = (
    "There is nothing to announce yet: add texts (e.g. `incident`) to locales/canned.pot and translate them. "
    "Texts that name the customer (`{customer}`) cannot be announced."
)
LOST_FORM = "This form lost its details; run `/announce` again. Nothing was sent."


def register(
    bolt: AsyncApp,
    announcements: Announcements,
    *,
    client: AsyncWebClient,
    permissions: Permissions,
    agent_name: AgentName,
) -> None:
    """Add ``/announce`` and its modal's submission to ``bolt``."""
    handlers = _Handlers(announcements, client=client, permissions=permissions, agent_name=agent_name)
    bolt.command(COMMAND)(handlers.command)
    bolt.view(CALLBACK_ID)(handlers.submission)


def announce_modal(
    sources: Mapping[str, str], audience: Audience, *, key: str, typed: str, response_url: str
) -> dict[str, Any]:
    """The confirmation modal: who gets it, the text to pick, its values; ``private_metadata`` keeps where to
    answer the agent."""
    options = [_option(k, text) for k, text in list(sources.items())[:100]]
    select: dict[str, Any] = {"type": "static_select", "action_id": KEY_BLOCK, "options": options}
    chosen = next((option for option in options if option["value"] == key), None)
    if chosen is not None:
        select["initial_option"] = chosen
    params: dict[str, Any] = {"type": "plain_text_input", "action_id": PARAMS_BLOCK}
    if typed:
        params["initial_value"] = typed
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": json.dumps({"response_url": response_url}),
        "title": {"type": "plain_text", "text": "Announce"},
        "submit": {"type": "plain_text", "text": "Send to all"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": audience_text(audience)}},
            {
                "type": "input",
                "block_id": KEY_BLOCK,
                "label": {"type": "plain_text", "text": "Announcement"},
                "element": select,
            },
            {
                "type": "input",
                "block_id": PARAMS_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Values for placeholders"},
                "hint": {
                    "type": "plain_text",
                    "text": "name=value, separated by spaces, e.g. service=payments. "
                    "A date and time like date=2026-12-01T02:00Z is shown in each customer's own format.",
                },
                "element": params,
            },
        ],
    }


def _option(key: str, text: str) -> dict[str, Any]:
    return {
        "text": {"type": "plain_text", "text": key[:75]},
        "value": key,
        "description": {"type": "plain_text", "text": text[:75]},
    }


def audience_text(audience: Audience) -> str:
    """Who gets the announcement, e.g. "*Goes to 3 open conversations*, ...: 2 Turkish, 1 English"."""
    if not audience.total:
        return "*There are no open conversations* right now: sending would reach nobody."
    counts = sorted(audience.by_locale.items(), key=lambda item: (-item[1], item[0]))
    languages = ", ".join(f"{count} {language_name(locale)}" for locale, count in counts)
    return f"*Goes to {_count(audience.total, 'open conversation')}*, each customer in their own language: {languages}."


def summary(announced: Announced) -> str:
    """The agent's answer after sending, e.g. "Sent to 3 conversations: 2 Turkish, 1 English. ..."."""
    already = f" {_count(announced.already)} already had it from this form." if announced.already else ""
    if not announced.sent:
        return ("Nothing new was sent." + already) if already else "There are no open conversations: nothing was sent."
    counts = sorted(announced.by_locale.items(), key=lambda item: (-item[1], item[0]))
    languages = ", ".join(f"{count} {language_name(locale)}" for locale, count in counts)
    return f"Sent to {_count(announced.sent)} ({languages}); each thread has a note.{already}"


def _count(count: int, noun: str = "conversation") -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def problem(exc: UnknownCannedKey | NotAnnounceable | MissingParams) -> tuple[str, str]:
    """The modal block at fault and what to tell the agent."""
    match exc:
        case UnknownCannedKey():
            hint = f" Did you mean {', '.join(f'`{m}`' for m in exc.close_matches)}?" if exc.close_matches else ""
            text = f"There is no announcement `{escape_mrkdwn(exc.key)}`.{hint} Nothing was sent."
            return KEY_BLOCK, text
        case NotAnnounceable():
            return KEY_BLOCK, f"`{exc.key}` names the customer, so it cannot go to everyone. Nothing was sent."
        case MissingParams():
            return PARAMS_BLOCK, f"Nothing was sent: {escape_mrkdwn(str(exc))}."


def _field(view: Mapping[str, Any], block: str) -> Mapping[str, Any]:
    """A submitted input's state (its block and action share one id here)."""
    values = (view.get("state") or {}).get("values") or {}
    return dict((values.get(block) or {}).get(block) or {})


class _Handlers:
    def __init__(
        self,
        announcements: Announcements,
        *,
        client: AsyncWebClient,
        permissions: Permissions,
        agent_name: AgentName,
    ) -> None:
        self._announcements = announcements
        self._client = client
        self._permissions = permissions
        self._agent_name = agent_name

    def _refusal(self) -> str:
        return f"Only {self._permissions.who} can send announcements. Nothing was sent."

    async def command(self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        if not await self._permissions.allowed(str(command.get("user_id") or "")):
            await ack(response_type="ephemeral", text=self._refusal())
            return
        sources = self._announcements.sources()
        if not sources:
            await ack(response_type="ephemeral", text=NO_ANNOUNCEMENTS)
            return
        key, params = parse_command(from_mrkdwn(str(command.get("text") or "")))
        if key:
            try:
                self._announcements.check(key, params)
            except (UnknownCannedKey, NotAnnounceable) as exc:
                await ack(response_type="ephemeral", text=problem(exc)[1])
                return
            except MissingParams:
                pass  # the agent fills them in in the modal
        typed = shlex.join(f"{name}={value}" for name, value in params.items())
        audience = await self._announcements.audience()
        view = announce_modal(
            sources, audience, key=key, typed=typed, response_url=str(command.get("response_url") or "")
        )
        await ack()
        try:
            await self._client.views_open(trigger_id=str(command.get("trigger_id") or ""), view=view)
        except SlackApiError as exc:
            log.warning("announce: views.open failed: %s", exc.response.get("error"))
            await respond(response_type="ephemeral", text="Slack did not open the form in time; run `/announce` again.")

    async def submission(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = str((body.get("user") or {}).get("id") or "")
        if not await self._permissions.allowed(user):
            await ack(response_action="errors", errors={KEY_BLOCK: self._refusal()})
            return
        key = str((_field(view, KEY_BLOCK).get("selected_option") or {}).get("value") or "")
        typed = str(_field(view, PARAMS_BLOCK).get("value") or "")
        try:
            response_url = str(json.loads(view.get("private_metadata") or "{}")["response_url"])
        except (ValueError, KeyError, TypeError):
            response_url = ""
        if not key or not response_url or not view.get("id"):
            await ack(response_action="errors", errors={KEY_BLOCK: LOST_FORM})
            return
        announcement = Announcement(
            announcement_id=str(view["id"]),
            key=key,
            params=parse_command(f"{key} {typed}")[1],
            agent_name=await self._agent_name(user) or user,
        )
        try:
            announced = await self._announcements.send(announcement)
        except (UnknownCannedKey, NotAnnounceable, MissingParams) as exc:
            block, text = problem(exc)
            await ack(response_action="errors", errors={block: text[:2000]})
            return
        log.info("announce %s by %s: %s sent, %s already", key, user, announced.sent, announced.already)
        await ack()
        await self._tell(response_url, summary(announced))

    async def _tell(self, response_url: str, text: str) -> None:
        """Answer the agent privately where they typed ``/announce`` (the command's ``response_url``)."""
        try:
            answer = await AsyncWebhookClient(response_url).send(text=text, response_type="ephemeral")
        except (aiohttp.ClientError, ValueError) as exc:
            log.warning("announce: cannot tell the agent %r: %s", text, exc)
            return
        if answer.status_code != 200:
            log.warning("announce: response_url answered %s %s", answer.status_code, answer.body)
