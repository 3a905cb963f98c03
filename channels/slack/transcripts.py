"""This module contains the thread card's Export button: the conversation's transcript for agents.

The export is in English with internal notes included and marked (``bridge.transcript``), uploaded into the
conversation's thread as ``transcript-<n>.txt`` with the files upload v2 flow (``files_upload_v2``). Only members
of the support channel may export; anyone else, or a click on something that is not a conversation's card, gets
an ephemeral explanation and nothing is uploaded.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, final

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bridge.transcript import Transcripts
from channels.slack import card

log = logging.getLogger("switchboard.slack.transcripts")

MemberCheck = Callable[[str], Awaitable[bool]]


def register(
    bolt: AsyncApp,
    transcripts: Transcripts,
    *,
    client: AsyncWebClient,
    support_channel: str,
    is_member: MemberCheck,
) -> None:
    """Answer the card's Export button on ``bolt``."""
    exporter = Exporter(transcripts, client=client, support_channel=support_channel, is_member=is_member)
    bolt.action(card.EXPORT)(exporter.export)


@final
class Exporter:
    def __init__(
        self, transcripts: Transcripts, *, client: AsyncWebClient, support_channel: str, is_member: MemberCheck
    ) -> None:
        self._transcripts = transcripts
        self._client = client
        self._channel = support_channel
        self._is_member = is_member

    async def export(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        container = body.get("container") or {}
        ts = str(container.get("message_ts") or "")
        if container.get("channel_id") != self._channel or not user or not ts:
            await _tell(respond, f"Export works on conversation cards in <#{self._channel}> only.")
            return
        if not await self._is_member(user):
            await _tell(
                respond, f"You are not a member of <#{self._channel}>: only its members can export conversations."
            )
            return
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
