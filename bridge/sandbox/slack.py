"""Loopback Slack emulator: Web API, signed Events API sender and a Slack-like agent page for demos and tests."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import mimetypes
import re
import secrets
import string
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
from aiohttp import web
from aiohttp.helpers import content_disposition_header
from slack_sdk.signature import SignatureVerifier

from bridge.sandbox.slack_manifest import AppManifest
from bridge.sandbox.slack_socket_mode import CONNECTIONS_OPEN, SocketModeServer

log = logging.getLogger(__name__)

UI_DIR = Path(__file__).with_name("slack_ui")
UI_ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}
WORKSPACE_NAME = "Switchboard Sandbox"
TEAM_DOMAIN = "switchboard-sandbox"
API_APP_ID = "A0SANDBOX"
VERIFICATION_TOKEN = "sandbox-verification-token"
BOT_SCOPES = (
    "chat:write,chat:write.customize,channels:history,commands,files:read,files:write,reactions:write,users:read"
)
MAX_TEXT = 40_000
MAX_BLOCKS = 50
TRIGGER_TTL = 3.0
LONG_POLL_SECONDS = 20.0
URL_RE = re.compile(r"\bhttps?://[^\s<>&|]*[^\s<>&|.,;:!?)\]'\"]")
COMMAND_RE = re.compile(r"/[\w-]+(?=\s|$)")  # what Slack's composer sends as a slash command ("// x" is a message)
NOT_IN_THREADS = "{command} is not supported in threads. Sorry!"
NOT_A_COMMAND = (
    '{command} is not a valid command. In Slack, all messages that start with the "/" character are interpreted as '
    'commands.\n\nIf you are trying to send a message and not run a command, try preceding the "/" with an empty space.'
)
COMMAND_FAILED = '{command} failed with the error "dispatch_failed"'

Handler = Callable[[dict[str, Any], web.Request], Awaitable[dict[str, Any]]]


@dataclass
class RecordedCall:
    """One Web API call as the emulator received it."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float


@dataclass
class Delivery:
    """One delivery attempt (events, interactions, commands): a POST to ``events_url``, or an envelope on the app's
    Socket Mode connection (status 200 once acknowledged)."""

    kind: str
    event_id: str | None
    retry_num: int
    retry_reason: str | None
    status: int | None
    body: str
    elapsed: float
    at: float


@dataclass
class _Failure:
    status: int
    retry_after: int
    error: str


class SlackEmulatorError(Exception):
    """A Web API error (the ``error`` string of an ``ok: false`` answer)."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class _Trigger:
    issued: float
    user: str
    channel: str | None = None


@dataclass
class _ResponseUrl:
    channel: str
    user: str
    message_ts: str | None
    thread_ts: str | None
    uses: int = 0


@dataclass
class _Store:
    """Messages per channel in posting order, plus an index by (channel, ts)."""

    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    by_ts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def add(self, channel: str, message: dict[str, Any]) -> None:
        self.history.setdefault(channel, []).append(message)
        self.by_ts[(channel, message["ts"])] = message

    def get(self, channel: str, ts: str) -> dict[str, Any] | None:
        return self.by_ts.get((channel, ts))

    def remove(self, channel: str, ts: str) -> None:
        message = self.by_ts.pop((channel, ts))
        self.history[channel].remove(message)


_INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def slack_json(data: Any) -> bytes:
    """Serialize compactly the way Slack does on the wire: UTF-8, and ``/`` escaped as ``\\/``."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/").encode()


def typed_to_wire(typed: str) -> str:
    """What Slack puts in ``text`` for what a human typed: ``& < >`` escaped, bare URLs wrapped in ``<...>``."""
    escaped = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return URL_RE.sub(lambda m: f"<{m.group(0)}>", escaped)


def _random_id(prefix: str, length: int = 10) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def _is_root(message: dict[str, Any]) -> bool:
    return message.get("thread_ts") in (None, message["ts"])


def _json_field(params: dict[str, Any], name: str, error: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise SlackEmulatorError(error) from None
    return value


def _metadata(params: dict[str, Any]) -> dict[str, Any] | None:
    """Message metadata as Slack checks it: a JSON object with a string ``event_type`` and an object
    ``event_payload`` (``invalid_metadata_format`` / ``invalid_metadata_schema`` otherwise)."""
    value = _json_field(params, "metadata", "invalid_metadata_format")
    if value is None or value in ("", {}):
        return None
    if not isinstance(value, dict):
        raise SlackEmulatorError("invalid_metadata_format")
    if not isinstance(value.get("event_type"), str) or not value["event_type"]:
        raise SlackEmulatorError("invalid_metadata_schema")
    if not isinstance(value.get("event_payload"), dict):
        raise SlackEmulatorError("invalid_metadata_schema")
    return {"event_type": value["event_type"], "event_payload": copy.deepcopy(value["event_payload"])}


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _block_errors(blocks: Any) -> list[str]:
    """Return Slack-style ``invalid_blocks`` messages (empty when the blocks are acceptable)."""
    if not isinstance(blocks, list):
        return ["expected an array [json-pointer:/blocks]"]
    if len(blocks) > MAX_BLOCKS:
        return [f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]"]
    errors: list[str] = []
    for i, block in enumerate(blocks):
        errors.extend(_one_block_errors(block, f"/blocks/{i}"))
    return errors


def _too_long(value: Any, limit: int, pointer: str) -> list[str]:
    if isinstance(value, str) and len(value) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{pointer}]"]
    return []


def _one_block_errors(block: Any, ptr: str) -> list[str]:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        return [f"missing required field: type [json-pointer:{ptr}]"]
    errors = _too_long(block.get("block_id"), 255, f"{ptr}/block_id")
    kind = block["type"]
    if kind == "section":
        errors += _too_long((block.get("text") or {}).get("text"), 3000, f"{ptr}/text/text")
        fields = block.get("fields") or []
        if len(fields) > 10:
            errors.append(f"no more than 10 items allowed [json-pointer:{ptr}/fields]")
        for j, fld in enumerate(fields):
            errors += _too_long(fld.get("text"), 2000, f"{ptr}/fields/{j}/text")
    elif kind == "header":
        errors += _too_long((block.get("text") or {}).get("text"), 150, f"{ptr}/text/text")
    elif kind == "actions":
        elements = block.get("elements") or []
        if len(elements) > 25:
            errors.append(f"no more than 25 items allowed [json-pointer:{ptr}/elements]")
        for j, element in enumerate(elements):
            errors += _element_errors(element, f"{ptr}/elements/{j}")
    return errors


def _element_errors(element: dict[str, Any], ptr: str) -> list[str]:
    errors = _too_long(element.get("action_id"), 255, f"{ptr}/action_id")
    if element.get("type") == "button":
        errors += _too_long((element.get("text") or {}).get("text"), 75, f"{ptr}/text/text")
        errors += _too_long(element.get("value"), 2000, f"{ptr}/value")
    return errors


def _find_element(blocks: Iterable[dict[str, Any]], action_id: str) -> tuple[str, dict[str, Any]] | None:
    """Find an interactive element by action_id in actions blocks and section accessories."""
    for block in blocks:
        candidates = list(block.get("elements") or []) if block.get("type") == "actions" else []
        if block.get("accessory"):
            candidates.append(block["accessory"])
        for element in candidates:
            if element.get("action_id") == action_id:
                return block.get("block_id", ""), element
    return None


class SlackEmulator:
    """An in-process Slack workspace with one support channel, served by an aiohttp app on loopback."""

    def __init__(
        self,
        *,
        signing_secret: str,
        bot_token: str = "xoxb-sandbox",
        support_channel: str = "C0SUPPORT",
        events_url: str | None = None,
        team_id: str = "T0SANDBOX",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        manifest: AppManifest | None = None,
    ) -> None:
        self.signing_secret = signing_secret
        self.manifest = manifest  # the app's commands and shortcuts; None: any /command goes to the app
        self.bot_token = bot_token
        self.support_channel = support_channel
        self.events_url = events_url
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.retry_delays: tuple[float, ...] = (0.0, 1.0, 5.0)
        self.ack_timeout = 3.0
        self.echo_bot_messages = True
        self.calls: list[RecordedCall] = []
        self.deliveries: list[Delivery] = []
        self.dropped_events: list[dict[str, Any]] = []  # event envelopes an Events API outage never delivered
        self._events_down = False
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.file_bytes: dict[str, bytes] = {}
        self.responses: list[dict[str, Any]] = []
        self.channels: dict[str, dict[str, Any]] = {support_channel: self._channel_info(support_channel, "support")}
        self.members: dict[str, set[str]] = {support_channel: {"U0AGENT1", "U0AGENT2", bot_user_id}}
        self.usergroups: dict[str, set[str]] = {}  # user group id (S...) -> its members; tests define their own
        self.users: dict[str, dict[str, Any]] = {
            "U0AGENT1": self._user_info("U0AGENT1", "alex", "Alex Agent"),
            "U0AGENT2": self._user_info("U0AGENT2", "sam", "Sam Agent"),
            bot_user_id: self._user_info(bot_user_id, "switchboard", "Switchboard", bot=True),
        }
        self.version = 0
        self._store = _Store()
        self._failures: dict[str, list[_Failure]] = {}
        self._delays: dict[str, list[float]] = {}  # method -> how late its next calls answer (delay_next)
        self._late: dict[str, list[float]] = {}  # method -> how late its next calls answer once done (answer_late)
        self._last_ts_us = 0
        self._triggers: dict[str, _Trigger] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._changed: asyncio.Event | None = None
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "files.delete": self._files_delete,
        }
        # Socket Mode (an app with an xapp- token): apps.connections.open, then envelopes on a WebSocket.
        self.socket_mode = SocketModeServer(app_id=API_APP_ID, dumps=slack_json)
        self._methods[CONNECTIONS_OPEN] = self.socket_mode.connections_open
        self.app = web.Application(middlewares=[self._learn_base_url])
        self.app.router.add_route("*", "/api/{method}", self._handle_api)
        self.app.router.add_post("/upload/v1/{file_id}", self._handle_upload)
        self.app.router.add_get("/files-pri/{team_file}/{name:.+}", self._handle_file_download)
        self.app.router.add_post("/response/{rid}", self._handle_response_url)
        self.app.router.add_get("/", self._ui_index)
        self.app.router.add_get("/ui/static/{name}", self._ui_asset)
        self.app.router.add_get("/ui/state", self._ui_state)
        self.app.router.add_post("/ui/reply", self._ui_reply)
        self.app.router.add_post("/ui/action", self._ui_action)
        self.app.router.add_post("/ui/view", self._ui_view)
        self.app.router.add_post("/ui/home", self._ui_home)
        self.app.router.add_post("/ui/shortcut", self._ui_shortcut)
        self.app.router.add_get("/ui/files/{file_id}", self._ui_file)
        self.socket_mode.install(self.app)
        self.app.on_cleanup.append(self._on_cleanup)

    # ------------------------------------------------------------------ serving

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve ``app`` on ``host:port`` (0 = any free port); sets and returns ``base_url``."""
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        """Stop serving (cancels pending background deliveries)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_url(self) -> str:
        """The Web API base URL to give slack_sdk (``base_url=``) once serving."""
        return f"{self.base_url}/api/"

    @property
    def app_reachable(self) -> bool:
        """Whether what agents do has somewhere to go: ``events_url``, or an app in Socket Mode."""
        return bool(self.events_url) or self.socket_mode.enabled

    # ------------------------------------------------------------------ inspection helpers

    def calls_to(self, method: str) -> list[RecordedCall]:
        """All recorded calls of one Web API method, in order."""
        return [call for call in self.calls if call.method == method]

    def channel_messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Top-level messages (thread roots) of a channel, oldest first."""
        history = self._store.history.get(channel or self.support_channel, [])
        return [copy.deepcopy(m) for m in history if _is_root(m)]

    def thread(self, thread_ts: str, channel: str | None = None) -> list[dict[str, Any]]:
        """Replies in one thread (not the root), oldest first."""
        history = self._store.history.get(channel or self.support_channel, [])
        return [copy.deepcopy(m) for m in history if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts]

    def fail_next(
        self,
        method: str,
        *,
        count: int = 1,
        status: int | None = None,
        retry_after: int = 1,
        error: str = "ratelimited",
    ) -> None:
        """Make the next ``count`` calls of ``method`` fail (429 + Retry-After for ratelimited, else 200 ok:false)."""
        if status is None:
            status = 429 if error == "ratelimited" else 200
        self._failures.setdefault(method, []).extend(_Failure(status, retry_after, error) for _ in range(count))

    def delay_next(self, method: str, seconds: float, *, count: int = 1) -> None:
        """Make the next ``count`` calls of ``method`` answer ``seconds`` late (a slow Slack), then work as usual.

        The call is recorded (``calls_to``) when it arrives; its effect (a published view, a shared file)
        happens only after the delay.
        """
        self._delays.setdefault(method, []).extend(seconds for _ in range(count))

    def answer_late(self, method: str, seconds: float, *, count: int = 1) -> None:
        """Make the next ``count`` calls of ``method`` take effect at once but answer ``seconds`` late: Slack has
        accepted the post while the caller still waits (a slow or dropped answer; a caller killed now never
        learns that its post exists)."""
        self._late.setdefault(method, []).extend(seconds for _ in range(count))

    def events_outage(self) -> None:
        """An Events API incident: from now until ``recover``, no event of the workspace (agents' messages and
        files, the echoes of the bot's own posts) reaches the app, and none is retried or replayed later (Slack's
        "not replayed" incidents); they are listed in ``dropped_events``. The Web API keeps working, as do slash
        commands and interactions."""
        self._events_down = True

    def recover(self) -> None:
        """Drop the failures and delays still scheduled (``fail_next``, ``delay_next``, ``answer_late``) and end an
        Events API outage: Slack is healthy again."""
        self._events_down = False
        self._failures.clear()
        self._delays.clear()
        self._late.clear()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109 (public API)
        """Poll ``predicate`` until true; AssertionError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s")
            await asyncio.sleep(0.01)

    async def drain(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until every background delivery (bot-message echoes, UI actions) has finished."""
        await self.wait_for(lambda: not self._tasks, timeout)

    # ------------------------------------------------------------------ workspace fixtures

    def add_user(self, user_id: str, name: str, real_name: str | None = None) -> None:
        """A workspace member who is not in the support channel (unless a test adds them to ``members``)."""
        self.users[user_id] = self._user_info(user_id, name, real_name or name.title())

    def _user_info(self, user_id: str, name: str, real_name: str, *, bot: bool = False) -> dict[str, Any]:
        display = real_name.split()[0]
        profile: dict[str, Any] = {
            "display_name": display,
            "display_name_normalized": display,
            "real_name": real_name,
            "real_name_normalized": real_name,
            "team": self.team_id,
        }
        if bot:
            profile["bot_id"] = self.bot_id
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": False,
            "real_name": real_name,
            "tz": "Europe/London",
            "is_bot": bot,
            "is_admin": False,
            "profile": profile,
        }

    def _channel_info(self, channel_id: str, name: str) -> dict[str, Any]:
        return {
            "id": channel_id,
            "name": name,
            "is_channel": True,
            "is_private": False,
            "is_archived": False,
            "is_member": True,
            "context_team_id": self.team_id,
        }

    def _bot_profile(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "app_id": API_APP_ID,
            "name": "Switchboard",
            "deleted": False,
            "team_id": self.team_id,
        }

    def _next_ts(self) -> str:
        now_us = time.time_ns() // 1000
        self._last_ts_us = max(now_us, self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _touch(self) -> None:
        self.version += 1
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def _channel(self, params: dict[str, Any], key: str = "channel") -> str:
        """Resolve a channel id, ``name`` or ``#name`` to the channel id (channel_not_found otherwise)."""
        wanted = str(params.get(key) or "")
        for channel_id, info in self.channels.items():
            if wanted in (channel_id, info["name"], f"#{info['name']}"):
                return channel_id
        raise SlackEmulatorError("channel_not_found")

    def _message(self, channel: str, ts: Any) -> dict[str, Any]:
        message = self._store.get(channel, str(ts or ""))
        if message is None:
            raise SlackEmulatorError("message_not_found")
        return message

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("sandbox slack background task failed: %r", task.exception())

    async def _on_cleanup(self, _app: web.Application) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ------------------------------------------------------------------ messages

    def _store_message(self, channel: str, message: dict[str, Any]) -> dict[str, Any]:
        """Add a message to history, updating its thread root like Slack does (reply_count, latest_reply...)."""
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            root = self._store.get(channel, thread_ts)
            if root is None:
                raise SlackEmulatorError("thread_not_found")
            if not _is_root(root):
                thread_ts = message["thread_ts"] = root["thread_ts"]
                root = self._message(channel, thread_ts)
            message["parent_user_id"] = root.get("user", "")
            self._mark_replied(root, message)
        self._store.add(channel, message)
        self._touch()
        return message

    @staticmethod
    def _mark_replied(root: dict[str, Any], reply: dict[str, Any]) -> None:
        users: list[str] = root.setdefault("reply_users", [])
        if reply.get("user") and reply["user"] not in users:
            users.append(reply["user"])
        root["thread_ts"] = root["ts"]
        root["reply_count"] = root.get("reply_count", 0) + 1
        root["reply_users_count"] = len(users)
        root["latest_reply"] = reply["ts"]
        root.setdefault("subscribed", False)

    def _bot_message(self, params: dict[str, Any], blocks: Any) -> dict[str, Any]:
        message: dict[str, Any] = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": self._next_ts(),
            "bot_id": self.bot_id,
            "app_id": API_APP_ID,
            "text": str(params.get("text") or ""),
            "team": self.team_id,
            "bot_profile": self._bot_profile(),
        }
        if blocks is not None:
            message["blocks"] = blocks
        attachments = _json_field(params, "attachments", "invalid_attachments")
        if attachments:
            message["attachments"] = attachments
        metadata = _metadata(params)
        if metadata is not None:
            message["metadata"] = metadata
        if params.get("username"):
            message["username"] = params["username"]
        if params.get("icon_emoji") or params.get("icon_url"):
            message["icons"] = {k: params[k] for k in ("icon_emoji", "icon_url") if params.get(k)}
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
            if _truthy(params.get("reply_broadcast")):
                message["subtype"] = "thread_broadcast"
        return message

    def _checked_blocks(self, params: dict[str, Any]) -> Any:
        blocks = _json_field(params, "blocks", "invalid_blocks_format")
        if blocks is not None:
            errors = _block_errors(blocks)
            if errors:
                raise SlackEmulatorError("invalid_blocks", errors=errors)
        return blocks

    def _check_text(self, params: dict[str, Any], blocks: Any) -> None:
        text = params.get("text")
        if not text and not blocks and not params.get("attachments"):
            raise SlackEmulatorError("no_text")
        if isinstance(text, str) and len(text) > MAX_TEXT:
            raise SlackEmulatorError("msg_too_long")

    def _echo(self, channel: str, event: dict[str, Any]) -> None:
        """Deliver the event Slack would send the app for a bot action, in the background."""
        if self.echo_bot_messages and self.app_reachable:
            self._spawn(self._deliver(self._envelope(event)))

    def _message_event(self, channel: str, message: dict[str, Any]) -> dict[str, Any]:
        event = {k: v for k, v in message.items() if k not in ("reply_count", "reply_users", "reply_users_count")}
        event.update(channel=channel, event_ts=message["ts"], channel_type="channel")
        return event

    # ------------------------------------------------------------------ Web API plumbing

    @web.middleware
    async def _learn_base_url(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not self.base_url:
            self.base_url = f"{request.scheme}://{request.host}"
        return await handler(request)

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._request_params(request)
        self.calls.append(RecordedCall(method, params, dict(request.headers), time.monotonic()))
        delays = self._delays.get(method)
        if delays:
            await asyncio.sleep(delays.pop(0))
        failures = self._failures.get(method)
        if failures:
            return self._failure_response(failures.pop(0))
        error = self.socket_mode.auth_error(request) if method == CONNECTIONS_OPEN else self._auth_error(request)
        if error:
            return self._api_response({"ok": False, "error": error})
        handler = self._methods.get(method)
        if handler is None:
            return self._api_response({"ok": False, "error": "unknown_method"})
        try:
            result = await handler(params, request)
        except SlackEmulatorError as exc:
            return self._api_response({"ok": False, "error": exc.error, **exc.extra})
        late = self._late.get(method)
        if late:
            await asyncio.sleep(late.pop(0))
        return self._api_response({"ok": True, **result})

    @staticmethod
    async def _request_params(request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if not request.can_read_body:
            return params
        if request.content_type.startswith("multipart/"):
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
            return params
        raw = await request.read()
        if request.content_type == "application/json":
            with contextlib.suppress(ValueError):
                body = json.loads(raw or b"{}")
                if isinstance(body, dict):
                    params.update(body)
        elif request.content_type == "application/x-www-form-urlencoded":
            params.update(parse_qsl(raw.decode(), keep_blank_values=True))
        return params

    def _auth_error(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            return "not_authed"
        return None if secrets.compare_digest(header[7:].strip(), self.bot_token) else "invalid_auth"

    @staticmethod
    def _api_response(data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        headers = {"X-OAuth-Scopes": BOT_SCOPES, **(headers or {})}
        body = json.dumps(data, ensure_ascii=False).encode()
        return web.Response(status=status, body=body, headers=headers, content_type="application/json")

    def _failure_response(self, failure: _Failure) -> web.Response:
        if failure.status == 429:
            return self._api_response(
                {"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(failure.retry_after)}
            )
        return self._api_response({"ok": False, "error": failure.error}, failure.status)

    # ------------------------------------------------------------------ Web API methods

    async def _auth_test(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": WORKSPACE_NAME,
            "user": self.users[self.bot_user_id]["name"],
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    async def _chat_post_message(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        channel = self._channel(params)
        blocks = self._checked_blocks(params)
        self._check_text(params, blocks)
        message = self._store_message(channel, self._bot_message(params, blocks))
        self._echo(channel, self._message_event(channel, message))
        return {"channel": channel, "ts": message["ts"], "message": self._public(message)}

    @staticmethod
    def _public(message: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in message.items() if not k.startswith("_")}

    async def _chat_update(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        channel = self._channel(params)
        message = self._message(channel, params.get("ts"))
        if message.get("bot_id") != self.bot_id:
            raise SlackEmulatorError("cant_update_message")
        previous = copy.deepcopy(message)
        blocks = self._checked_blocks(params)
        if "text" in params:
            message["text"] = str(params["text"] or "")
        if blocks is not None:
            message["blocks"] = blocks
            if not blocks:
                del message["blocks"]
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        self._touch()
        self._echo(channel, self._changed_event(channel, message, previous))
        return {"channel": channel, "ts": message["ts"], "text": message["text"], "message": self._public(message)}

    def _changed_event(self, channel: str, message: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
        ts = self._next_ts()
        return {
            "type": "message",
            "subtype": "message_changed",
            "message": self._public(message),
            "previous_message": previous,
            "channel": channel,
            "hidden": True,
            "ts": ts,
            "event_ts": ts,
            "channel_type": "channel",
        }

    async def _chat_delete(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        channel = self._channel(params)
        message = self._message(channel, params.get("ts"))
        if message.get("bot_id") != self.bot_id:
            raise SlackEmulatorError("cant_delete_message")
        self._delete(channel, message)
        return {"channel": channel, "ts": message["ts"]}

    def _delete(self, channel: str, message: dict[str, Any]) -> None:
        previous = copy.deepcopy(message)
        if _is_root(message) and message.get("reply_count"):
            for key in ("blocks", "bot_id", "bot_profile", "attachments", "files"):
                message.pop(key, None)
            message.update(subtype="tombstone", text="This message was deleted.", user="USLACKBOT", hidden=True)
        else:
            self._store.remove(channel, message["ts"])
        self._touch()
        ts = self._next_ts()
        event = {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "deleted_ts": previous["ts"],
            "channel": channel,
            "previous_message": previous,
            "ts": ts,
            "event_ts": ts,
            "channel_type": "channel",
        }
        self._echo(channel, event)

    async def _chat_post_ephemeral(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        channel = self._channel(params)
        if params.get("user") not in self.users:
            raise SlackEmulatorError("user_not_in_channel")
        blocks = self._checked_blocks(params)
        self._check_text(params, blocks)
        ephemeral = {
            "type": "message",
            "subtype": "bot_message",
            "channel": channel,
            "user": params["user"],
            "ts": self._next_ts(),
            "text": str(params.get("text") or ""),
            "blocks": blocks or [],
            "thread_ts": params.get("thread_ts"),
            "bot_id": self.bot_id,
        }
        self.ephemerals.append(ephemeral)
        self._touch()
        return {"message_ts": ephemeral["ts"]}

    async def _chat_get_permalink(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        channel = self._channel(params)
        message = self._message(channel, params.get("message_ts"))
        link = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{message['ts'].replace('.', '')}"
        if not _is_root(message):
            link += f"?thread_ts={message['thread_ts']}&cid={channel}"
        return {"channel": channel, "permalink": link}

    async def _conversations_replies(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        channel = self._channel(params)
        message = self._store.get(channel, str(params.get("ts") or ""))
        if message is None:
            raise SlackEmulatorError("thread_not_found")
        root_ts = message["ts"] if _is_root(message) else message["thread_ts"]
        oldest, latest = float(params.get("oldest") or 0), float(params.get("latest") or "inf")
        inclusive = _truthy(params.get("inclusive"))
        replies = [  # the parent stays first; oldest / latest bound the replies (ends included with ``inclusive``)
            m
            for m in self._thread_raw(channel, root_ts)
            if (oldest <= float(m["ts"]) <= latest if inclusive else oldest < float(m["ts"]) < latest)
        ]
        return self._page([self._message(channel, root_ts), *replies], params)

    def _thread_raw(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        history = self._store.history.get(channel, [])
        return [m for m in history if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts]

    async def _conversations_history(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        channel = self._channel(params)
        oldest, latest = float(params.get("oldest") or 0), float(params.get("latest") or "inf")
        visible = [
            m
            for m in reversed(self._store.history.get(channel, []))
            if (_is_root(m) or m.get("subtype") == "thread_broadcast") and oldest < float(m["ts"]) < latest
        ]
        return {**self._page(visible, params), "pin_count": 0}

    def _page(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        """One page of ``messages``; their metadata only with ``include_all_metadata`` (Slack leaves it out)."""
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        page = [self._public(m) for m in messages[start : start + limit]]
        if not _truthy(params.get("include_all_metadata")):
            for message in page:
                message.pop("metadata", None)
        more = start + limit < len(messages)
        return {
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    async def _conversations_info(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        return {"channel": dict(self.channels[self._channel(params)])}

    async def _conversations_members(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        members = sorted(self.members.get(self._channel(params), ()))
        start, limit = int(params.get("cursor") or 0), int(params.get("limit") or 100)
        more = start + limit < len(members)
        return {
            "members": members[start : start + limit],
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    async def _users_info(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        user = self.users.get(str(params.get("user") or ""))
        if user is None:
            raise SlackEmulatorError("user_not_found")
        return {"user": copy.deepcopy(user)}

    async def _usergroups_users_list(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        members = self.usergroups.get(str(params.get("usergroup") or ""))
        if members is None:
            raise SlackEmulatorError("no_such_subteam")
        return {"users": sorted(members)}

    async def _views_open(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        trigger = self._triggers.get(str(params.get("trigger_id") or params.get("interactivity_pointer") or ""))
        if trigger is None:
            raise SlackEmulatorError("invalid_trigger_id")
        if time.monotonic() - trigger.issued > TRIGGER_TTL:
            raise SlackEmulatorError("expired_trigger_id")
        view = self._new_view(_json_field(params, "view", "invalid_arguments"), user=trigger.user)
        return {"view": copy.deepcopy(view)}

    def _new_view(self, spec: Any, *, user: str, view_id: str | None = None) -> dict[str, Any]:
        if not isinstance(spec, dict) or "type" not in spec:
            raise SlackEmulatorError("invalid_arguments")
        spec = {**spec, "blocks": [{"block_id": _random_id("", 5), **b} for b in spec.get("blocks") or []]}
        view = {
            "id": view_id or _random_id("V"),
            "team_id": self.team_id,
            "callback_id": "",
            "private_metadata": "",
            "external_id": "",
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "app_id": API_APP_ID,
            "bot_id": self.bot_id,
            "root_view_id": None,
            "previous_view_id": None,
            **spec,
            "_user": user,
        }
        view["root_view_id"] = view["root_view_id"] or view["id"]
        self.views[view["id"]] = view
        self._touch()
        return self._public(view)

    async def _views_update(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        view_id = params.get("view_id")
        if not view_id and params.get("external_id"):
            matches = [v for v in self.views.values() if v.get("external_id") == params["external_id"]]
            view_id = matches[0]["id"] if matches else None
        old = self.views.get(str(view_id or ""))
        if old is None:
            raise SlackEmulatorError("not_found")
        if params.get("hash") and params["hash"] != old["hash"]:
            raise SlackEmulatorError("hash_conflict")
        spec = _json_field(params, "view", "invalid_arguments")
        return {"view": self._new_view(spec, user=old["_user"], view_id=old["id"])}

    async def _views_publish(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        user = str(params.get("user_id") or "")
        if user not in self.users:
            raise SlackEmulatorError("user_not_found")
        spec = _json_field(params, "view", "invalid_arguments")
        existing = [v["id"] for v in self.views.values() if v.get("type") == "home" and v["_user"] == user]
        return {"view": self._new_view(spec, user=user, view_id=existing[0] if existing else None)}

    async def _reactions_add(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        name, message = self._reaction_target(params)
        reactions: list[dict[str, Any]] = message.setdefault("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is None:
            entry = {"name": name, "users": [], "count": 0}
            reactions.append(entry)
        if self.bot_user_id in entry["users"]:
            raise SlackEmulatorError("already_reacted")
        entry["users"].append(self.bot_user_id)
        entry["count"] = len(entry["users"])
        self._touch()
        return {}

    async def _reactions_remove(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        name, message = self._reaction_target(params)
        entry = next((r for r in message.get("reactions", []) if r["name"] == name), None)
        if entry is None or self.bot_user_id not in entry["users"]:
            raise SlackEmulatorError("no_reaction")
        entry["users"].remove(self.bot_user_id)
        entry["count"] = len(entry["users"])
        if not entry["users"]:
            message["reactions"].remove(entry)
        self._touch()
        return {}

    def _reaction_target(self, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = str(params.get("name") or "")
        if not name or ":" in name or " " in name:
            raise SlackEmulatorError("invalid_name")
        channel = self._channel(params)
        return name, self._message(channel, params.get("timestamp"))

    async def _files_get_upload_url(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        filename = str(params.get("filename") or "")
        length = str(params.get("length") or "")
        if not filename or not length.isdigit():
            raise SlackEmulatorError("invalid_arguments")
        file_id = _random_id("F")
        self.files[file_id] = self._file_object(file_id, filename, int(length), self.bot_user_id)
        self.files[file_id]["alt_txt"] = params.get("alt_txt") or ""
        return {"upload_url": f"{self.base_url}/upload/v1/{file_id}", "file_id": file_id}

    def _file_object(self, file_id: str, name: str, size: int, user: str) -> dict[str, Any]:
        mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        url = f"{self.base_url}/files-pri/{self.team_id}-{file_id}"
        now = int(time.time())
        return {
            "id": file_id,
            "created": now,
            "timestamp": now,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rsplit(".", 1)[-1].lower() if "." in name else "binary",
            "pretty_type": mimetype,
            "user": user,
            "user_team": self.team_id,
            "editable": False,
            "size": size,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": True,
            "public_url_shared": False,
            "url_private": f"{url}/{name}",
            "url_private_download": f"{url}/download/{name}",
            "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{user}/{file_id}/{name}",
            "_uploaded": False,
        }

    async def _handle_upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        if file_id not in self.files:
            return web.Response(status=404, text="file not found")
        self.file_bytes[file_id] = data
        self.files[file_id]["_uploaded"] = True
        return web.Response(text=f"OK - {len(data)}")

    async def _files_complete_upload(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        items = _json_field(params, "files", "invalid_arguments")
        if not isinstance(items, list) or not items:
            raise SlackEmulatorError("invalid_arguments")
        files = [self._completed_file(item) for item in items]
        channel = params.get("channel_id") or (str(params.get("channels") or "").split(",")[0] or None)
        if channel:
            self._share_files(self._channel({"channel": channel}), files, params)
        return {"files": [self._public(f) for f in files]}

    def _completed_file(self, item: Any) -> dict[str, Any]:
        file = self.files.get(str(item.get("id") if isinstance(item, dict) else ""))
        if file is None or not file["_uploaded"]:
            raise SlackEmulatorError("file_not_found")
        if item.get("title"):
            file["title"] = item["title"]
        return file

    def _share_files(self, channel: str, files: list[dict[str, Any]], params: dict[str, Any]) -> None:
        message = self._bot_message({"text": params.get("initial_comment") or ""}, None)
        message.update(subtype="file_share", upload=True, display_as_bot=False, files=[self._public(f) for f in files])
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        self._store_message(channel, message)
        for file in files:
            file.setdefault("shares", {"public": {}})["public"].setdefault(channel, []).append({"ts": message["ts"]})
        self._echo(channel, self._message_event(channel, message))

    async def _files_delete(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        """A bot deletes a file it uploaded; the messages that shared it show a tombstone in its place."""
        file_id = str(params.get("file") or "")
        file = self.files.get(file_id)
        if file is None:
            raise SlackEmulatorError("file_not_found")
        if file["user"] != self.bot_user_id:
            raise SlackEmulatorError("cant_delete_file")
        del self.files[file_id]
        self.file_bytes.pop(file_id, None)
        for message in self._store.by_ts.values():
            if any(shared.get("id") == file_id for shared in message.get("files") or ()):
                message["files"] = [
                    {"id": file_id, "mode": "tombstone"} if shared.get("id") == file_id else shared
                    for shared in message["files"]
                ]
        self._touch()
        return {}

    async def _handle_file_download(self, request: web.Request) -> web.Response:
        file_id = request.match_info["team_file"].removeprefix(f"{self.team_id}-")
        if self._auth_error(request) or file_id not in self.file_bytes:
            login = "<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>"
            return web.Response(text=login, content_type="text/html")
        content_type = self.files[file_id]["mimetype"]
        return web.Response(body=self.file_bytes[file_id], content_type=content_type)

    # ------------------------------------------------------------------ signed requests to the app

    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """The X-Slack-Signature / X-Slack-Request-Timestamp headers for ``body``."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = SignatureVerifier(self.signing_secret).generate_signature(timestamp=ts, body=body)
        return {"X-Slack-Signature": signature or "", "X-Slack-Request-Timestamp": ts}

    def _envelope(self, event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
        event_id = event_id or _random_id("Ev", 9)
        event = {**event, "event_ts": event.get("event_ts") or self._next_ts()}
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": None,
            "api_app_id": API_APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(float(event["event_ts"])),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{_random_id('eyJldCI6Im1lc3NhZ2UiLCJ0aWQiOi', 24)}",
        }

    async def _post(
        self, body: bytes, content_type: str, extra: dict[str, str] | None = None
    ) -> tuple[int, str, dict[str, str]]:
        if not self.events_url:
            raise RuntimeError("SlackEmulator.events_url is not set")
        headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        headers.update(self.sign(body))
        headers.update(extra or {})
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.events_url, data=body, headers=headers) as resp,
        ):
            return resp.status, await resp.text(), dict(resp.headers)

    async def _post_logged(
        self,
        kind: str,
        body: bytes,
        content_type: str,
        *,
        event_id: str | None = None,
        retry: int = 0,
        reason: str | None = None,
    ) -> tuple[int, str, dict[str, str]]:
        extra = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": reason or ""} if retry else {}
        started = time.monotonic()
        status: int | None = None
        text = ""
        try:
            if self.socket_mode.enabled:  # the app is in Socket Mode: an envelope on its socket, not a POST
                status, text, headers = await self.socket_mode.send(kind, body, retry=retry, timeout=self.ack_timeout)
            else:
                status, text, headers = await self._post(body, content_type, extra)
            return status, text, headers
        finally:
            self.deliveries.append(
                Delivery(kind, event_id, retry, reason, status, text, time.monotonic() - started, started)
            )

    async def post_event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int | None = None
    ) -> tuple[int, str]:
        """Wrap ``event`` in an event_callback envelope, sign it and POST it once to ``events_url``."""
        envelope = self._envelope(event, event_id)
        reason = "http_timeout" if retry_num else None
        status, text, _ = await self._post_logged(
            "event",
            slack_json(envelope),
            "application/json",
            event_id=envelope["event_id"],
            retry=retry_num or 0,
            reason=reason,
        )
        return status, text

    async def post_url_verification(self, challenge: str | None = None) -> tuple[int, str]:
        """Send the signed (unwrapped) url_verification handshake."""
        body = {
            "token": VERIFICATION_TOKEN,
            "challenge": challenge or secrets.token_urlsafe(24),
            "type": "url_verification",
        }
        status, text, _ = await self._post_logged("url_verification", slack_json(body), "application/json")
        return status, text

    async def _deliver(self, envelope: dict[str, Any]) -> bool:
        """Deliver an envelope with Slack's retry policy: non-2xx, connection failures and >3 s acks retry."""
        if self._events_down:
            self.dropped_events.append(envelope)
            return False
        body = slack_json(envelope)
        reason: str | None = None
        for attempt, delay in enumerate((0.0, *self.retry_delays)):
            if attempt:
                await asyncio.sleep(delay)
            reason = await self._attempt(body, envelope["event_id"], attempt, reason)
            if reason is None:
                return True
        log.warning("sandbox slack gave up delivering %s (%s)", envelope["event_id"], reason)
        return False

    async def _attempt(self, body: bytes, event_id: str, attempt: int, reason: str | None) -> str | None:
        """One delivery attempt; returns the retry reason, or None when done (acked or retries disabled)."""
        task = asyncio.ensure_future(
            self._post_logged("event", body, "application/json", event_id=event_id, retry=attempt, reason=reason)
        )
        try:
            status, _, headers = await asyncio.wait_for(asyncio.shield(task), self.ack_timeout)
        except TimeoutError:
            self._tasks.add(task)
            task.add_done_callback(self._task_done)
            return "http_timeout"
        except aiohttp.ClientError:
            return "connection_failed"
        if 200 <= status < 300 or headers.get("X-Slack-No-Retry") == "1":
            return None
        return "http_error"

    async def post_interaction(self, payload: dict[str, Any]) -> tuple[int, str]:
        """POST an interactivity payload form-encoded as ``payload=<json>``, signed."""
        if payload.get("trigger_id"):
            user = (payload.get("user") or {}).get("id", "")
            self._triggers[payload["trigger_id"]] = _Trigger(time.monotonic(), user)
        body = urlencode({"payload": json.dumps(payload, ensure_ascii=False, separators=(",", ":"))}).encode()
        status, text, _ = await self._post_logged("interaction", body, "application/x-www-form-urlencoded")
        return status, text

    async def post_command(
        self, command: str, text: str, *, user: str = "U0AGENT1", channel: str | None = None
    ) -> tuple[int, str]:
        """POST a signed slash command (plain form fields, as Slack sends them).

        Like Slack, the user then sees the app's immediate answer (the ack body: ephemeral unless it says
        ``in_channel``), or "failed with the error" when the app does not answer 2xx.
        """
        channel = channel or self.support_channel
        trigger_id = self._new_trigger(user, channel)
        fields = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel,
            "channel_name": self.channels.get(channel, {}).get("name", "unknown"),
            "user_id": user,
            "user_name": self.users.get(user, {}).get("name", user),
            "command": command,
            "text": text,
            "api_app_id": API_APP_ID,
            "is_enterprise_install": "false",
            "response_url": self.new_response_url(channel, user, None, None),
            "trigger_id": trigger_id,
        }
        status, body, _ = await self._post_logged(
            "command", urlencode(fields).encode(), "application/x-www-form-urlencoded"
        )
        if not 200 <= status < 300:
            self.slackbot_says(channel, user, COMMAND_FAILED.format(command=command))
        elif body.strip():
            self._apply_response(_ResponseUrl(channel, user, None, None), self._command_answer(body))
        return status, body

    @staticmethod
    def _command_answer(body: str) -> dict[str, Any]:
        """A slash command's ack body as a message: JSON with ``text``/``blocks``, or plain text."""
        with contextlib.suppress(ValueError):
            data = json.loads(body)
            if isinstance(data, dict):
                return data
        return {"text": body}

    def slackbot_says(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
        """An ephemeral from Slackbot to ``user`` (how Slack reports a refused or failed command)."""
        ephemeral = {"type": "message", "channel": channel, "user": user, "username": "Slackbot", "text": text}
        self.ephemerals.append({**ephemeral, "ts": self._next_ts(), "thread_ts": thread_ts, "blocks": []})
        self._touch()

    def _new_trigger(self, user: str, channel: str | None) -> str:
        trigger_id = f"{secrets.randbelow(10**11)}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"
        self._triggers[trigger_id] = _Trigger(time.monotonic(), user, channel)
        return trigger_id

    def new_response_url(self, channel: str, user: str, message_ts: str | None, thread_ts: str | None) -> str:
        """A response_url like those Slack puts in interaction payloads: its posts land in `responses`."""
        rid = secrets.token_urlsafe(18)
        self._response_urls[rid] = _ResponseUrl(channel, user, message_ts, thread_ts)
        return f"{self.base_url or 'http://127.0.0.1'}/response/{rid}"

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        target = self._response_urls.get(request.match_info["rid"])
        try:
            data = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if target is None or target.uses >= 5 or not isinstance(data, dict):
            return web.Response(status=404, text="expired_url")
        target.uses += 1
        self.responses.append(data)
        self._apply_response(target, data)
        return web.Response(text="ok")

    def _apply_response(self, target: _ResponseUrl, data: dict[str, Any]) -> None:
        """Apply a response_url body: delete/replace the source message, post in channel, or ephemeral."""
        source = self._store.get(target.channel, target.message_ts or "")
        if _truthy(data.get("delete_original")) and source is not None:
            self._delete(target.channel, source)
        elif _truthy(data.get("replace_original")) and source is not None:
            source.update({k: data[k] for k in ("text", "blocks") if k in data})
            self._touch()
        elif data.get("response_type") == "in_channel":
            params = {**data, "thread_ts": data.get("thread_ts") or target.thread_ts}
            self._store_message(target.channel, self._bot_message(params, data.get("blocks")))
        else:
            ephemeral = {
                "type": "message",
                "channel": target.channel,
                "user": target.user,
                "ts": self._next_ts(),
                "text": data.get("text", ""),
                "blocks": data.get("blocks", []),
                "thread_ts": data.get("thread_ts") or target.thread_ts,
                "bot_id": self.bot_id,
            }
            self.ephemerals.append(ephemeral)
            self._touch()

    # ------------------------------------------------------------------ what agents do

    def _agent_message(
        self, text: str, *, thread_ts: str | None, user: str, channel: str, raw: bool = False
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "user": user,
            "type": "message",
            "ts": self._next_ts(),
            "client_msg_id": str(uuid.uuid4()),
            "text": text if raw else typed_to_wire(text),
            "team": self.team_id,
            "blocks": [
                {
                    "type": "rich_text",
                    "block_id": secrets.token_urlsafe(4)[:5],
                    "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
                }
            ],
        }
        if thread_ts:  # a message in the channel itself has no thread_ts
            message["thread_ts"] = thread_ts
        return self._store_message(channel, message)

    async def agent_says(
        self,
        text: str,
        *,
        thread_ts: str,
        user: str = "U0AGENT1",
        channel: str | None = None,
        copies: int = 1,
        raw: bool = False,
    ) -> dict[str, Any]:
        """A human agent replies in a thread: record it, then deliver the ``message`` event (with Slack retries).

        ``text`` is what the agent typed; like Slack, the event carries it with ``& < >`` escaped and bare URLs
        wrapped (``raw=True`` sends ``text`` verbatim, e.g. to include ``<@U...>`` mentions).
        """
        channel = channel or self.support_channel
        message = self._agent_message(text, thread_ts=thread_ts, user=user, channel=channel, raw=raw)
        event = self._message_event(channel, message)
        await self._deliver_copies(self._envelope(event), copies)
        return event

    async def _deliver_copies(self, envelope: dict[str, Any], copies: int) -> None:
        """First delivery with Slack's retry policy, plus ``copies - 1`` duplicate retries a few ms apart."""
        if self._events_down:
            self.dropped_events.append(envelope)
            return
        body = slack_json(envelope)
        jobs = [asyncio.ensure_future(self._deliver(envelope))]
        for retry in range(1, copies):
            await asyncio.sleep(0.004)
            jobs.append(
                asyncio.ensure_future(
                    self._post_logged(
                        "event",
                        body,
                        "application/json",
                        event_id=envelope["event_id"],
                        retry=retry,
                        reason="http_timeout",
                    )
                )
            )
        results = await asyncio.gather(*jobs, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception) and not isinstance(result, aiohttp.ClientError):
                raise result

    async def agent_shares_file(
        self,
        filename: str,
        content: bytes,
        *,
        thread_ts: str,
        user: str = "U0AGENT1",
        text: str = "",
        channel: str | None = None,
    ) -> dict[str, Any]:
        """A human agent uploads a file into a thread: a ``file_share`` event; the file needs Bearer to read."""
        channel = channel or self.support_channel
        file_id = _random_id("F")
        file = self._file_object(file_id, filename, len(content), user)
        file["_uploaded"] = True
        self.files[file_id], self.file_bytes[file_id] = file, content
        message = self._agent_message(text, thread_ts=thread_ts, user=user, channel=channel)
        message.update(subtype="file_share", upload=True, display_as_bot=False, files=[self._public(file)])
        event = self._message_event(channel, message)
        await self._deliver_copies(self._envelope(event), 1)
        return event

    def block_actions_payload(
        self,
        message_ts: str,
        action_id: str,
        *,
        user: str = "U0AGENT1",
        channel: str | None = None,
        value: str | None = None,
    ) -> dict[str, Any]:
        """The block_actions payload Slack sends when ``user`` clicks/selects element ``action_id`` of a message."""
        channel = channel or self.support_channel
        message = self._message(channel, message_ts)
        found = _find_element(message.get("blocks") or [], action_id)
        if found is None:
            raise KeyError(f"no element {action_id!r} in message {message_ts}")
        block_id, element = found
        user_info = self.users[user]
        thread_ts = None if _is_root(message) else message["thread_ts"]
        container = {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False}
        if thread_ts:
            container["thread_ts"] = thread_ts
        return {
            "type": "block_actions",
            "user": {"id": user, "username": user_info["name"], "name": user_info["name"], "team_id": self.team_id},
            "api_app_id": API_APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": container,
            "trigger_id": self._new_trigger(user, channel),
            "team": {"id": self.team_id, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": self.channels[channel]["name"]},
            "message": self._public(message),
            "state": {"values": {}},
            "response_url": self.new_response_url(channel, user, message_ts, thread_ts),
            "actions": [self._action(block_id, element, value)],
        }

    def _action(self, block_id: str, element: dict[str, Any], value: str | None) -> dict[str, Any]:
        action: dict[str, Any] = {
            "action_id": element["action_id"],
            "block_id": block_id,
            "type": element.get("type", "button"),
            "action_ts": f"{time.time():.6f}",
        }
        if action["type"] == "button":
            action.update(text=element.get("text"), value=element.get("value", ""))
            if element.get("style"):
                action["style"] = element["style"]
        elif action["type"] == "users_select":
            action["selected_user"] = value
        elif action["type"] == "multi_static_select":  # ``value``: the chosen option values, comma-separated
            chosen_values = (value or "").split(",")
            action["selected_options"] = [o for o in element.get("options") or [] if o.get("value") in chosen_values]
        else:
            options = element.get("options") or []
            chosen = next((o for o in options if o.get("value") == value), options[0] if options else None)
            action["selected_option"] = chosen
            if element.get("placeholder"):
                action["placeholder"] = element["placeholder"]
        return action

    async def click_button(
        self,
        message_ts: str,
        action_id: str,
        *,
        user: str = "U0AGENT1",
        channel: str | None = None,
        value: str | None = None,
    ) -> tuple[int, str]:
        """Click a button (or pick ``value`` in a select) on a stored message: signed block_actions to the app."""
        return await self.post_interaction(
            self.block_actions_payload(message_ts, action_id, user=user, channel=channel, value=value)
        )

    def view_block_actions_payload(
        self, view_id: str, action_id: str, *, user: str = "U0AGENT1", value: str | None = None
    ) -> dict[str, Any]:
        """The block_actions payload Slack sends when ``user`` clicks element ``action_id`` of a view (a Home tab
        or a modal): the container is the view, the payload carries the view, no channel, message or response_url.
        """
        view = self.views[view_id]
        found = _find_element(view.get("blocks") or [], action_id)
        if found is None:
            raise KeyError(f"no element {action_id!r} in view {view_id}")
        block_id, element = found
        user_info = self.users[user]
        return {
            "type": "block_actions",
            "user": {"id": user, "username": user_info["name"], "name": user_info["name"], "team_id": self.team_id},
            "api_app_id": API_APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": {"type": "view", "view_id": view_id},
            "trigger_id": self._new_trigger(user, None),
            "team": {"id": self.team_id, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "view": self._public(view),
            "actions": [self._action(block_id, element, value)],
        }

    async def click_view_button(self, view_id: str, action_id: str, *, user: str = "U0AGENT1") -> tuple[int, str]:
        """Click a button in a view (e.g. the Home tab): signed block_actions to the app."""
        return await self.post_interaction(self.view_block_actions_payload(view_id, action_id, user=user))

    def message_action_payload(
        self, message_ts: str, callback_id: str, *, user: str = "U0AGENT1", channel: str | None = None
    ) -> dict[str, Any]:
        """The message_action payload Slack sends when ``user`` picks a message shortcut in a message's ⋯ menu."""
        channel = channel or self.support_channel
        message = self._message(channel, message_ts)
        user_info = self.users[user]
        return {
            "type": "message_action",
            "token": VERIFICATION_TOKEN,
            "action_ts": f"{time.time():.6f}",
            "team": {"id": self.team_id, "domain": TEAM_DOMAIN},
            "user": {"id": user, "username": user_info["name"], "name": user_info["name"], "team_id": self.team_id},
            "channel": {"id": channel, "name": self.channels[channel]["name"]},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self._new_trigger(user, channel),
            "response_url": self.new_response_url(channel, user, message_ts, message.get("thread_ts")),
            "message_ts": message_ts,
            "message": self._public(message),
        }

    async def open_home(self, user: str) -> tuple[int, str]:
        """``user`` opens the app's Home tab: the ``app_home_opened`` event (with the view published before)."""
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user,
            "channel": self.home_channel(user),
            "tab": "home",
        }
        home = self.home_view(user)
        if home is not None:
            event["view"] = self._public(home)
        return await self.post_event(event)

    @staticmethod
    def home_channel(user: str) -> str:
        """The id of the app's direct-message channel with ``user`` (where its Home tab lives)."""
        return "D" + user.removeprefix("U")

    def home_view(self, user: str) -> dict[str, Any] | None:
        """The Home tab the app last published for ``user`` (``views.publish``), if any."""
        return next((v for v in self.views.values() if v.get("type") == "home" and v["_user"] == user), None)

    def view_submission_payload(
        self, view_id: str, values: dict[str, dict[str, str]], *, user: str = "U0AGENT1"
    ) -> dict[str, Any]:
        """The view_submission payload for an open view; ``values`` maps block_id -> action_id -> value."""
        view = self.views[view_id]
        user_info = self.users[user]
        return {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": TEAM_DOMAIN},
            "user": {"id": user, "username": user_info["name"], "name": user_info["name"], "team_id": self.team_id},
            "api_app_id": API_APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self._new_trigger(user, None),
            "view": {**self._public(view), "state": {"values": self._view_state(view, values)}},
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }

    @staticmethod
    def _view_state(view: dict[str, Any], values: dict[str, dict[str, str]]) -> dict[str, Any]:
        """Typed state values like Slack builds them from the view's input elements (an input left alone keeps
        its ``initial_option`` / ``initial_value``)."""
        state: dict[str, Any] = {}
        for block in view.get("blocks") or []:
            element = block.get("element") or {}
            if block.get("type") != "input" or "action_id" not in element:
                continue
            typed = values.get(block.get("block_id", ""), {})
            initial = (element.get("initial_option") or {}).get("value") or element.get("initial_value")
            value = typed[element["action_id"]] if element["action_id"] in typed else initial
            if element.get("type") == "static_select":
                option = next((o for o in element.get("options", []) if o.get("value") == value), None)
                entry: dict[str, Any] = {"type": "static_select", "selected_option": option}
            else:
                entry = {"type": element.get("type", "plain_text_input"), "value": value}
            state.setdefault(block.get("block_id", ""), {})[element["action_id"]] = entry
        return state

    async def submit_view(
        self, view_id: str, values: dict[str, dict[str, str]], *, user: str = "U0AGENT1"
    ) -> tuple[int, str]:
        """Submit a modal: signed view_submission; the view closes unless the app answers errors/update/push."""
        status, text = await self.post_interaction(self.view_submission_payload(view_id, values, user=user))
        answer: dict[str, Any] = {}
        with contextlib.suppress(ValueError):
            answer = json.loads(text) if text else {}
        action = answer.get("response_action") if isinstance(answer, dict) else None
        if 200 <= status < 300 and action not in ("errors", "update", "push"):
            self.views[view_id]["_closed"] = True
        elif action == "update" and isinstance(answer.get("view"), dict):
            self._new_view(answer["view"], user=user, view_id=view_id)
        self._touch()
        return status, text

    # ------------------------------------------------------------------ agent page (demo UI)

    async def _ui_index(self, request: web.Request) -> web.Response:
        return self._asset_response((UI_DIR / "index.html").read_bytes(), "text/html")

    async def _ui_asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in UI_ASSETS:
            raise web.HTTPNotFound()
        return self._asset_response((UI_DIR / name).read_bytes(), UI_ASSETS[name])

    @staticmethod
    def _asset_response(body: bytes, content_type: str) -> web.Response:
        headers = {
            "Cache-Control": "no-store",
            # images in blocks (the Home tab's chart) come from the app's server, as Slack fetches them
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data: http: https:; object-src 'none'; "
            "base-uri 'none'",
            "X-Content-Type-Options": "nosniff",
        }
        return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)

    async def _ui_state(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", "-1"))
        if since == self.version:
            if self._changed is None:
                self._changed = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), LONG_POLL_SECONDS)
        return web.json_response(self.ui_state())

    def ui_state(self) -> dict[str, Any]:
        """Everything the agent page renders, with a version counter for long polling."""
        channel = self.support_channel
        roots = [self._public(m) for m in self._store.history.get(channel, []) if _is_root(m)]
        return {
            "version": self.version,
            "workspace": WORKSPACE_NAME,
            "channel": self.channels[channel],
            "bot_user_id": self.bot_user_id,
            "users": {uid: {"name": u["real_name"], "is_bot": u["is_bot"]} for uid, u in self.users.items()},
            "agents": [uid for uid, u in self.users.items() if not u["is_bot"]],
            "messages": roots,
            "threads": {m["ts"]: [self._public(r) for r in self._thread_raw(channel, m["ts"])] for m in roots},
            "ephemerals": [dict(e) for e in self.ephemerals if e["channel"] == channel],
            "modals": [
                {**self._public(v), "user": v["_user"]}
                for v in self.views.values()
                if v.get("type") == "modal" and not v.get("_closed")
            ],
            "homes": {v["_user"]: self._public(v) for v in self.views.values() if v.get("type") == "home"},
            "commands": [asdict(c) for c in self.manifest.commands] if self.manifest else [],
            "shortcuts": [asdict(s) for s in self.manifest.shortcuts if s.type == "message"] if self.manifest else [],
            # the page shows "Events to <this>"; an app in Socket Mode has no events URL
            "events_url": self.events_url or ("the app over Socket Mode" if self.socket_mode.connected else None),
        }

    async def _ui_json(self, request: web.Request, *keys: str) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="invalid json") from None
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) and data[k] for k in keys):
            raise web.HTTPBadRequest(text=f"required: {', '.join(keys)}")
        if data["user"] not in self.users or self.users[data["user"]]["is_bot"]:
            raise web.HTTPBadRequest(text="unknown agent")
        return data

    async def _ui_reply(self, request: web.Request) -> web.Response:
        """The composer: a message in the channel (no ``thread_ts``) or in a thread, or a slash command."""
        data = await self._ui_json(request, "user", "text")
        thread_ts = data.get("thread_ts") if isinstance(data.get("thread_ts"), str) and data["thread_ts"] else None
        text, user, channel = data["text"].strip(), data["user"], self.support_channel
        if match := COMMAND_RE.match(text):
            command = match.group(0)
            refusal = self._command_refusal(command, thread_ts)
            if refusal:
                self.slackbot_says(channel, user, refusal, thread_ts)
                return web.json_response({"ok": False, "command": command, "error": refusal})
            self._spawn(self._run_command(command, text[len(command) :].strip(), user))
            return web.json_response({"ok": True, "command": command})
        try:
            message = self._agent_message(text, thread_ts=thread_ts, user=user, channel=channel)
        except SlackEmulatorError as exc:
            return web.json_response({"ok": False, "error": exc.error}, status=400)
        if self.app_reachable:
            self._spawn(self._deliver(self._envelope(self._message_event(channel, message))))
        return web.json_response({"ok": True, "ts": message["ts"]})

    def _command_refusal(self, command: str, thread_ts: str | None) -> str | None:
        """Slack's answer to a command it will not send: none in threads, and none the app did not declare."""
        if thread_ts:
            return NOT_IN_THREADS.format(command=command)
        if self.manifest is not None and self.manifest.command(command) is None:
            return NOT_A_COMMAND.format(command=command)
        return None

    async def _run_command(self, command: str, text: str, user: str) -> None:
        try:
            await self.post_command(command, text, user=user)
        except (aiohttp.ClientError, RuntimeError):  # the bridge is down, or not connected
            self.slackbot_says(self.support_channel, user, COMMAND_FAILED.format(command=command))

    async def _ui_action(self, request: web.Request) -> web.Response:
        """A click or a pick in a message (``message_ts``) or in a view (``view_id``: Home tab, modal)."""
        data = await self._ui_json(request, "action_id", "user")
        value = data.get("value") if isinstance(data.get("value"), str) else None
        try:
            if isinstance(data.get("view_id"), str):
                payload = self.view_block_actions_payload(
                    data["view_id"], data["action_id"], user=data["user"], value=value
                )
            else:
                ts = str(data.get("message_ts") or "")
                payload = self.block_actions_payload(ts, data["action_id"], user=data["user"], value=value)
        except (KeyError, SlackEmulatorError):
            raise web.HTTPNotFound(text="no such element") from None
        return await self._ui_interaction(payload)

    async def _ui_interaction(self, payload: dict[str, Any]) -> web.Response:
        if not self.app_reachable:
            return web.json_response({"ok": False, "error": "events_url not set"}, status=503)
        status, _ = await self.post_interaction(payload)
        return web.json_response({"ok": 200 <= status < 300, "status": status})

    async def _ui_home(self, request: web.Request) -> web.Response:
        """The agent opens the app's Home tab."""
        data = await self._ui_json(request, "user")
        if not self.app_reachable:
            return web.json_response({"ok": False, "error": "events_url not set"}, status=503)
        status, _ = await self.open_home(data["user"])
        return web.json_response({"ok": 200 <= status < 300, "status": status})

    async def _ui_shortcut(self, request: web.Request) -> web.Response:
        """The agent picks a message shortcut the manifest declares, in a message's ⋯ menu."""
        data = await self._ui_json(request, "message_ts", "callback_id", "user")
        declared = self.manifest.shortcuts if self.manifest else ()
        if not any(s.callback_id == data["callback_id"] and s.type == "message" for s in declared):
            raise web.HTTPNotFound(text="no such message shortcut")
        try:
            payload = self.message_action_payload(data["message_ts"], data["callback_id"], user=data["user"])
        except SlackEmulatorError:
            raise web.HTTPNotFound(text="no such message") from None
        return await self._ui_interaction(payload)

    async def _ui_file(self, request: web.Request) -> web.Response:
        """A shared file for the signed-in agent (the page's download link; the API's url_private needs a token)."""
        file_id = request.match_info["file_id"]
        if file_id not in self.file_bytes:
            raise web.HTTPNotFound(text="no such file")
        file = self.files[file_id]
        # Raster images show inline; anything else (an SVG, HTML...) downloads, and nothing a customer sent may
        # run script on this page's origin.
        disposition = "inline" if file["mimetype"] in _INLINE_IMAGES else "attachment"
        headers = {
            "Content-Disposition": content_disposition_header(disposition, filename=file["name"]),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'",
        }
        return web.Response(body=self.file_bytes[file_id], content_type=file["mimetype"], headers=headers)

    async def _ui_view(self, request: web.Request) -> web.Response:
        data = await self._ui_json(request, "view_id", "user")
        view = self.views.get(data["view_id"])
        if view is None or view.get("_closed"):
            raise web.HTTPNotFound(text="no such view")
        if data.get("cancel"):
            view["_closed"] = True
            self._touch()
            return web.json_response({"ok": True})
        values = data.get("values") if isinstance(data.get("values"), dict) else {}
        status, text = await self.submit_view(data["view_id"], values, user=data["user"])
        return web.json_response({"ok": 200 <= status < 300, "status": status, "answer": text})


async def _serve(port: int, signing_secret: str, events_url: str | None) -> None:
    emulator = SlackEmulator(signing_secret=signing_secret, events_url=events_url)
    base = await emulator.start(port=port)
    print(f"Slack emulator: agent page {base}/  Web API {emulator.api_url}", flush=True)
    print(f"  (Socket Mode: give the bridge SLACK_APP_TOKEN={emulator.socket_mode.app_token})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    """Run the emulator standalone: ``python -m bridge.sandbox.slack --port 8091 --events-url URL``."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--signing-secret", default="sandbox-signing-secret")
    parser.add_argument("--events-url", default=None)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.signing_secret, args.events_url))


if __name__ == "__main__":
    main()
