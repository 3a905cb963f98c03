"""This module contains SlackChannel, the agents' side: a slack-bolt AsyncApp mounted in the bridge."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bridge.announce import Announcements
from bridge.attachments import AttachmentUnavailable, Fetchers
from bridge.canned import CannedService
from bridge.chart import DailyChart
from bridge.config import SlackSettings
from bridge.desk import Desk
from bridge.events import (
    ChannelKind,
    Delivered,
    ExternalRef,
    Outbound,
    OutboundCard,
    OutboundEdit,
    OutboundText,
    ReceiptStatus,
)
from bridge.stats import Stats
from bridge.transcript import Transcripts
from channels.base import ChannelStartupError, InboundSink
from channels.slack.announce import register as register_announce
from channels.slack.background import Background
from channels.slack.canned import register as register_canned
from channels.slack.catch_up import CatchUp, ThreadSource
from channels.slack.desk import DeskCards
from channels.slack.desk import register as register_desk
from channels.slack.errors import to_delivery_error
from channels.slack.files import FILE_URL_SCHEME as SLACK_FILE_SCHEME
from channels.slack.files import SlackFileFetcher
from channels.slack.home import Home
from channels.slack.home import register as register_home
from channels.slack.permissions import Permissions
from channels.slack.reconcile import Reconciler, card_metadata
from channels.slack.shapes import malformed
from channels.slack.socket_mode import SocketMode
from channels.slack.stats import register as register_stats
from channels.slack.transcripts import register as register_transcripts
from channels.slack.translate import card_post, escape_mrkdwn, is_plain_id, message_posts, to_agent_reply

log = logging.getLogger("switchboard.slack")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SLACK_TS = re.compile(r"[0-9]{10}\.[0-9]{6}")  # a message ts as Slack writes it; garbage is never "not ready yet"


class ThreadNotReady(Exception):
    """A reply in a thread our bot started that the bridge cannot place yet: Slack must redeliver it.

    The root card's ts is stored only after ``chat.postMessage`` returns and the outbox commits
    it; an agent (or Slack's own event) can be faster. Refusing the event (bolt answers 500) makes
    Slack retry it, instead of acknowledging a reply that would then be lost.
    """


class SlackStartupError(ChannelStartupError):
    """Slack refused the bot token at start (auth.test failed)."""


class SlackChannel:
    """Conversation threads in the support channel; agents' thread replies become ``AgentReply``.

    Events are verified by bolt (signing secret, timestamp window) and handled with
    ``process_before_response=True``: the reply is stored before Slack gets its 200, so an
    event is never acknowledged and then lost. Redeliveries (same ``event_id``, same ``ts``)
    are deduplicated by the message's unique ``(channel, ts)`` source id. With ``SLACK_APP_TOKEN`` they arrive over
    Socket Mode instead (``socket_mode.py``), into the same bolt app and listeners. Follow-up Slack calls
    (a card's ``chat.update``, App Home's ``views.publish``, an Export's upload) must not hold that
    200 back: listeners hand them to ``self.background``, which ``__aexit__`` ends.
    """

    kind: ClassVar[ChannelKind] = ChannelKind.SLACK

    def __init__(
        self,
        *,
        settings: SlackSettings,
        sink: InboundSink,
        fetchers: Fetchers | None = None,
        canned: CannedService | None = None,
        stats: Stats | None = None,
        desk: Desk | None = None,
        transcripts: Transcripts | None = None,
        chart: DailyChart | None = None,
        announcements: Announcements | None = None,
        threads: ThreadSource | None = None,
    ) -> None:
        self._settings = settings
        self._sink = sink
        self._fetchers = fetchers  # customers' files are uploaded into the thread when a channel can fetch them
        self.channel_id = settings.support_channel
        self.client = AsyncWebClient(token=settings.bot_token, base_url=settings.api_url)
        self.bolt = AsyncApp(signing_secret=settings.signing_secret, client=self.client, process_before_response=True)
        self._verifier = SignatureVerifier(settings.signing_secret)  # the route's own check, before bolt parses
        self.reconciler = Reconciler(self.client, self.channel_id)  # posts carry their key; found before a repost
        self._names: dict[str, str] = {}
        self._bot_user_id: str | None = None
        self.background = Background()  # follow-up Slack calls, run after Slack got its answer
        # Who may act on conversations: the support channel's members, or SWITCHBOARD_SLACK_AGENT_GROUP's.
        permissions = Permissions(self.client, support_channel=self.channel_id, agent_group=settings.agent_group)
        if canned is not None:  # first: its `!canned` thread replies must not reach the plain reply listener
            register_canned(
                self.bolt,
                canned,
                client=self.client,
                support_channel=self.channel_id,
                agent_name=self._agent_name,
                permissions=permissions,
            )
        if stats is not None:  # /stats
            register_stats(self.bolt, stats, permissions=permissions)
        self._cards: DeskCards | None = None  # the thread card's actions, /available and /away
        if desk is not None:
            self._cards = register_desk(
                self.bolt,
                desk,
                client=self.client,
                support_channel=self.channel_id,
                agent_name=self._agent_name,
                permissions=permissions,
                background=self.background,
            )
            if transcripts is not None:  # the card's Export button
                register_transcripts(
                    self.bolt,
                    transcripts,
                    client=self.client,
                    support_channel=self.channel_id,
                    permissions=permissions,
                    background=self.background,
                )
            if stats is not None:  # App Home: the availability toggle, the figures and their chart
                home = Home(
                    stats,
                    desk,
                    client=self.client,
                    chart=chart,
                    permissions=permissions,
                    agent_name=self._agent_name,
                    background=self.background,
                )
                register_home(self.bolt, home)
        if announcements is not None:  # /announce and its modal
            register_announce(
                self.bolt, announcements, client=self.client, permissions=permissions, agent_name=self._agent_name
            )
        self.bolt.event("message")(self._on_message)
        # SLACK_APP_TOKEN: everything reaches bolt over Slack's Socket Mode connection instead of POST /slack/events.
        self._socket = None if settings.app_token is None else SocketMode(self.bolt, app_token=settings.app_token)
        # Replies whose event Slack dropped (an incident, the bridge down): read from the threads, through bolt.
        self.catch_up = (
            None
            if threads is None
            else CatchUp(self.bolt, channel=self.channel_id, threads=threads, every=settings.catch_up_every)
        )

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        """``POST /slack/events``; not mounted in Socket Mode, where Slack sends nothing there (a POST gets 404)."""
        return [] if self._socket is not None else [web.post("/slack/events", self._handle)]

    async def __aenter__(self) -> Self:
        """Check the token now (bolt would do it lazily and drop events on failure); in Socket Mode, connect."""
        self.client.session = aiohttp.ClientSession()  # one keep-alive pool instead of one per call
        try:
            auth = await self.client.auth_test()
        except SlackApiError as exc:
            await self.client.session.close()
            raise SlackStartupError(f"Slack rejected SLACK_BOT_TOKEN: {exc.response.get('error')}") from exc
        except aiohttp.ClientError as exc:
            await self.client.session.close()
            raise SlackStartupError(f"cannot reach Slack at {self._settings.api_url}: {exc}") from exc
        log.info("slack: connected as %s in team %s", auth.get("user"), auth.get("team"))
        self._bot_user_id = str(auth.get("user_id") or "")
        self.reconciler.own(self._bot_user_id, str(auth.get("bot_id") or ""))
        if self._socket is not None:  # after auth.test: the listeners need our bot's user id
            try:
                await self._socket.start()
            except ChannelStartupError:
                await self.client.session.close()
                raise
        self._register_fetcher()
        if self.catch_up is not None:
            self.catch_up.start(own_user=self._bot_user_id)
        return self

    def _register_fetcher(self) -> None:
        """Agents' shared files (``slack-file:`` URLs) become bytes for the customer's channel."""
        if self._fetchers is not None:
            fetcher = SlackFileFetcher(
                token=self._settings.bot_token, api_url=self._settings.api_url, session=lambda: self.client.session
            )
            self._fetchers.register(SLACK_FILE_SCHEME.rstrip(":"), fetcher)

    async def __aexit__(self, *exc: object) -> None:
        if self.catch_up is not None:
            await self.catch_up.close()  # at once: a sweep cut short is done again by the next start
        # Socket Mode's connection closes (first: no new envelopes) while running follow-ups finish, before the HTTP
        # session closes; the close takes at most socket_mode.CLOSE_GRACE, under the background's GRACE.
        await asyncio.gather(*([] if self._socket is None else [self._socket.close()]), self.background.close())
        if self._fetchers is not None:
            self._fetchers.unregister(SLACK_FILE_SCHEME.rstrip(":"))
        if self.client.session is not None:
            await self.client.session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > 1_000_000:
            return web.json_response({"error": "request body too large"}, status=413)
        # slack_sdk's verifier raises (bolt answers 500) on a timestamp that is not an integer: refuse it first.
        if not _TIMESTAMP.fullmatch(request.headers.get("X-Slack-Request-Timestamp", "")):
            return web.json_response({"error": "invalid request: missing or malformed request timestamp"}, status=401)
        try:  # Slack sends UTF-8; a declared charset may be unknown (LookupError) or make surrogates (unicode_escape)
            body = (await request.read()).decode("utf-8")
        except UnicodeDecodeError:
            return web.json_response({"error": "body is not valid UTF-8"}, status=400)
        headers = request.headers
        # A header's invalid UTF-8 arrives as lone surrogates: compare_digest raises TypeError on non-ASCII text.
        signature, timestamp = headers.get("X-Slack-Signature", ""), headers["X-Slack-Request-Timestamp"]
        if not signature.isascii() or not self._verifier.is_valid(body, timestamp, signature):
            return web.json_response({"error": "invalid request"}, status=401)  # verified before any parsing
        try:  # bolt parses the body and reads ids out of it as Slack shapes them; it raises on other shapes
            # the text verified above: bolt's aiohttp adapter would decode the body again, by the declared charset
            bolt_request = AsyncBoltRequest(body=body, query=request.query_string, headers=headers)  # type: ignore[arg-type]
        except (ValueError, TypeError, AttributeError, LookupError, RecursionError):
            return web.json_response({"error": "malformed payload"}, status=400)
        problem = malformed(bolt_request.body)
        if problem is not None:
            return web.json_response({"error": f"malformed payload: {problem}"}, status=400)
        return await to_aiohttp_response(await self.bolt.async_dispatch(bolt_request))

    async def _on_message(self, event: dict[str, Any]) -> None:
        user = event.get("user")
        name = await self._agent_name(user) if is_plain_id(user) and event.get("thread_ts") else None
        reply = to_agent_reply(event, support_channel=self.channel_id, agent_name=name)
        if reply is not None:
            receipt = await self._sink(reply)  # raising here gives Slack a 500, so it redelivers
            log.debug("slack: %s -> %s", reply.source_id, receipt.status)
            if (
                receipt.status is ReceiptStatus.IGNORED
                and event.get("parent_user_id") == self._bot_user_id
                and _SLACK_TS.fullmatch(reply.thread_ref)
            ):
                raise ThreadNotReady(f"reply {reply.source_id} in thread {reply.thread_ref} is not placed yet")
            if receipt.status is ReceiptStatus.STORED and not reply.is_note and self._cards is not None:
                # An answer clears the card's after-hours mark: a chat.update, after Slack got its 200.
                what = f"refreshing the card of thread {reply.thread_ref}"
                self.background.spawn(self._cards.replied(reply.thread_ref), what=what)

    async def _agent_name(self, user: str) -> str | None:
        if user not in self._names:
            try:
                info = await self.client.users_info(user=user)
            except (SlackApiError, aiohttp.ClientError):
                return None
            profile = info.get("user") or {}
            name = (profile.get("profile") or {}).get("display_name") or profile.get("real_name") or profile.get("name")
            self._names[user] = str(name) if name else user
        return self._names[user]

    async def deliver(self, out: Outbound) -> Delivered:
        try:
            match out:
                case OutboundCard() if self._cards is not None:
                    existing = await self.reconciler.find_card(out)
                    async with self.reconciler.card_attempt(out):
                        return Delivered(remote_id=await self._cards.post_card(out.card, existing=existing))
                case OutboundCard():
                    existing = await self.reconciler.find_card(out)
                    if existing is not None:
                        return Delivered(remote_id=existing)
                    metadata = card_metadata(out.card.conversation_id)
                    async with self.reconciler.card_attempt(out):
                        post = card_post(out.card, channel=self.channel_id)
                        response = await self.client.chat_postMessage(**post, metadata=metadata)
                    return Delivered(remote_id=str(response["ts"]))
                case OutboundText():
                    first = await self.reconciler.post_message(out, message_posts(out, channel=self.channel_id))
                    await self._share_files(out)
                    return Delivered(remote_id=first)
                case OutboundEdit():
                    await self.client.chat_update(
                        channel=self.channel_id, ts=out.remote_id, text=escape_mrkdwn(out.text)
                    )
                    return Delivered(remote_id=out.remote_id)
        except Exception as exc:
            raise to_delivery_error(exc) from exc

    async def _share_files(self, out: OutboundText) -> None:
        """Upload a message's files into its thread; one that cannot be fetched is named with the reason."""
        if not out.attachments or self._fetchers is None:
            return
        uploads: list[dict[str, Any]] = []
        labels: list[str] = []
        for attachment in out.attachments:
            try:
                data, _media_type = await self._fetchers.fetch(attachment)
            except AttachmentUnavailable as exc:
                labels.append(f":warning: {escape_mrkdwn(attachment.name)}: {escape_mrkdwn(exc.label)}")
                continue
            uploads.append({"file": data, "filename": attachment.name, "title": attachment.name})
        thread = {"channel": self.channel_id, "thread_ts": out.target.external_id}
        if uploads:
            await self.client.files_upload_v2(file_uploads=uploads, **thread)
        if labels:
            await self.client.chat_postMessage(
                text="\n".join(labels), username=(out.author_name or "Customer")[:80], **thread
            )

    async def delivered(self, customer: ExternalRef, message_id: int) -> None:
        """Slack users are agents, not customers: no receipts to send."""
