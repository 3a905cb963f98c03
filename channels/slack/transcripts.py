"""This module contains the thread card's Export button: the conversation's transcript for agents.

The export is in English with internal notes included and marked (``bridge.transcript``), uploaded into the
conversation's thread as ``transcript-<n>.txt`` with the files upload v2 flow (``files_upload_v2``). Only those
who may act on conversations (``Permissions``: the support channel's members, or the agent group's) may export;
anyone else, or a click on something that is not a conversation's card, gets an ephemeral explanation and nothing
is uploaded.

The click is checked in the listener and Slack answered when it returns (bolt runs with
``process_before_response=True``); building the transcript, the upload and the ephemeral answers run afterwards
in the channel's ``Background``.
"""

from __future__ import annotations

import logging
from typing import Any, final

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bridge.transcript import Transcripts
from channels.slack import card
from channels.slack.background import Background
from channels.slack.permissions import Permissions

log = logging.getLogger("switchboard.slack.transcripts")


def register(
    bolt: AsyncApp,
    transcripts: Transcripts,
    *,
    client: AsyncWebClient,
    support_channel: str,
    permissions: Permissions,
    background: Background,
) -> None:
    """Answer the card's Export button on ``bolt``."""
    exporter = Exporter(
        transcripts, client=client, support_channel=support_channel, permissions=permissions, background=background
    )
    bolt.action(card.EXPORT)(exporter.export)


@final
class Exporter:
    def __init__(
        self,
        transcripts: Transcripts,
        *,
        client: AsyncWebClient,
        support_channel: str,
        permissions: Permissions,
        background: Background,
    ) -> None:
        self._transcripts = transcripts
        self._client = client
        self._channel = support_channel
        self._permissions = permissions
        self._background = background

    async def export(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """Check the click, answer Slack; the export (or the reason there is none) follows in the background."""
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        container = body.get("container") or {}
        ts = str(container.get("message_ts") or "")
        if container.get("channel_id") != self._channel or not user or not ts:
            refusal: str | None = f"Export works on conversation cards in <#{self._channel}> only."
        elif not await self._permissions.allowed(user):
            refusal = f"Only {self._permissions.who} can export conversations."
        else:
            refusal = None
        if refusal is not None:
            self._background.spawn(_tell(respond, refusal), what=f"refusing an Export click of {user or 'nobody'}")
        else:
            self._background.spawn(self._upload(user, ts, respond), what=f"exporting the conversation of card {ts}")

    async def _upload(self, user: str, ts: str, respond: AsyncRespond) -> None:
        """Upload the agents' transcript of the conversation whose card is ``ts`` into its thread."""
        transcript = await self._transcripts.for_agents(ts)
        if transcript is None:
            await _tell(respond, "This message is not a customer conversation's card.")
            return
        number = transcript.conversation_id
        try:
            await self._client.files_upload_v2(
                channel=self._channel,
                thread_ts=ts,
                content=transcript.text,
                filename=transcript.filename,
                title=f"Transcript of conversation #{number}",
                initial_comment=f"<@{user}> exported conversation #{number} (internal notes included).",
            )
        except (SlackApiError, SlackRequestError, aiohttp.ClientError):
            log.exception("slack: uploading the transcript of conversation %s failed", number)
            await _tell(respond, f"The transcript of conversation #{number} could not be uploaded; try again.")


async def _tell(respond: AsyncRespond, text: str) -> None:
    """An ephemeral answer to the clicking agent only (through the action's ``response_url``)."""
    try:
        await respond(text=text, response_type="ephemeral", replace_original=False)
    except aiohttp.ClientError:
        log.exception("slack: could not answer an Export click: %s", text)
