"""This module contains a loopback Telegram Bot API emulator (bot side, customer side, chat page) for demo and tests."""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from bridge.sandbox.telegram_commands import BotCommands
from bridge.sandbox.telegram_markup import EntityParseError, plain_text
from bridge.sandbox.telegram_page import add_page_routes

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_DOWNLOAD = 20 * 1024 * 1024
DELETE_WITHIN = 48 * 3600  # seconds: how long after sending a bot may delete a message (deleteMessage)
MAX_UPLOAD = 50 * 1024 * 1024
LONG_POLL_MAX = 50
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_DEFAULT_EXCLUDED = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CHAT_ACTIONS = frozenset(
    {"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice"}
    | {"upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note"}
)
_UPDATE_CHAT_PATHS = (
    ("message", "chat"),
    ("edited_message", "chat"),
    ("channel_post", "chat"),
    ("edited_channel_post", "chat"),
    ("callback_query", "message", "chat"),
    ("my_chat_member", "chat"),
    ("chat_member", "chat"),
)

Json = dict[str, Any]
Handler = Callable[["_Params"], Awaitable[object]]


class BotApiError(Exception):
    """A Bot API failure, answered as ``{"ok": false, "error_code", "description", "parameters"?}``."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def response(self) -> web.Response:
        body: Json = {"ok": False, "error_code": self.status, "description": self.description}
        headers = {}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
            headers["Retry-After"] = str(self.retry_after)
        return _json_response(body, status=self.status, headers=headers)


def _bad_request(detail: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {detail}")


def _json_response(body: object, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, headers=headers, content_type="application/json")


@dataclass(frozen=True, slots=True)
class Upload:
    """A file part of a multipart request."""

    name: str
    data: bytes
    mime_type: str


@dataclass(slots=True)
class StoredFile:
    """A file the emulator knows: what ``getFile`` describes and ``/file/bot<token>/<path>`` serves."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    mime_type: str
    name: str


@dataclass(slots=True)
class Fault:
    """A scripted failure for the next ``count`` calls of ``method`` (optionally for one chat)."""

    method: str
    chat_id: str | None
    count: int
    error: BotApiError


@dataclass(slots=True)
class FloodViolations:
    """Sends beyond Telegram's flood limits: >1 msg/s per chat past a burst of 3, >30 msg/s overall."""

    per_chat: Counter[int] = field(default_factory=Counter)
    overall: int = 0

    @property
    def total(self) -> int:
        return sum(self.per_chat.values()) + self.overall


class _FloodMeter:
    """Token bucket per chat (burst 3, 1/s) and a sliding one-second window overall (30)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}
        self._recent: deque[float] = deque()
        self.violations = FloodViolations()

    def record(self, chat_id: int) -> bool:
        """Count one send; return True when it breaks a limit."""
        now = self._clock()
        tokens, last = self._buckets.get(chat_id, (3.0, now))
        tokens = min(3.0, tokens + (now - last))
        chat_over = tokens < 1.0
        self._buckets[chat_id] = (tokens - 1.0 if not chat_over else tokens, now)
        self._recent.append(now)
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        overall_over = len(self._recent) > 30
        if chat_over:
            self.violations.per_chat[chat_id] += 1
        if overall_over:
            self.violations.overall += 1
        return chat_over or overall_over


@dataclass(slots=True)
class _Chat:
    """A chat with the bot as the emulator sees it (private chat id == user id)."""

    id: int
    first_name: str
    language_code: str | None
    messages: dict[int, Json] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    blocked: bool = False
    action_at: float = 0.0

    @property
    def type(self) -> str:
        if self.id > 0:
            return "private"
        return "supergroup" if str(self.id).startswith("-100") else "group"

    def as_json(self) -> Json:
        if self.type == "private":
            return {"id": self.id, "type": "private", "first_name": self.first_name}
        return {"id": self.id, "type": self.type, "title": self.first_name}

    def user(self, user_id: int | None = None) -> Json:
        user: Json = {"id": user_id or abs(self.id), "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            user["language_code"] = self.language_code
        return user


@dataclass(slots=True)
class _Queued:
    """One pending update (copies share ``update_id`` but are distinct entries)."""

    update_id: int
    payload: Json
    chat_key: str


@dataclass(slots=True)
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    """One POST the webhook sender made: which update, what came back (0 = connection error)."""

    update_id: int
    status: int
    at: float


class _Params:
    """Bot API parameters from the query, a form, a multipart or a JSON body."""

    def __init__(self, values: Mapping[str, object], uploads: Mapping[str, Upload]) -> None:
        self.values = values
        self.uploads = uploads

    @classmethod
    async def read(cls, request: web.Request) -> _Params:
        values: dict[str, object] = dict(request.query)
        uploads: dict[str, Upload] = {}
        ctype = request.content_type
        if ctype == "application/json" and request.can_read_body:
            try:
                body = orjson.loads(await request.read() or b"{}")
            except orjson.JSONDecodeError:
                raise _bad_request("can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise _bad_request("JSON object expected")
            values.update(body)
        elif ctype == "multipart/form-data":
            await cls._read_multipart(request, values, uploads)
        elif ctype == "application/x-www-form-urlencoded":
            values.update(await request.post())
        return cls(values, uploads)

    @staticmethod
    async def _read_multipart(request: web.Request, values: dict[str, object], uploads: dict[str, Upload]) -> None:
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                continue
            if part.filename is None:
                values[part.name] = await part.text()
                continue
            data = await part.read(decode=False)
            if len(data) > MAX_UPLOAD:
                raise BotApiError(413, "Request Entity Too Large")
            mime = part.headers.get(aiohttp.hdrs.CONTENT_TYPE, "application/octet-stream")
            uploads[part.name] = Upload(part.filename, bytes(data), mime)

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else str(value)

    def required(self, name: str) -> str:
        value = self.text(name)
        if not value:
            raise _bad_request(f"{name} is empty")
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return int(str(value))
        except ValueError:
            raise _bad_request(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        return str(self.values.get(name, "")).lower() in {"true", "1"}

    def json(self, name: str) -> object:
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise _bad_request(f"can't parse {name} JSON object") from None

    def chat_id(self) -> int:
        value = self.required("chat_id")
        try:
            return int(value)
        except ValueError:
            raise _bad_request("chat not found") from None


class TelegramEmulator:
    """A Bot API server on loopback plus the customers' side of each chat.

    Deliberate deviations from api.telegram.org: webhooks may be plain ``http://`` on any port
    and a webhook's 2xx response body is not executed as a method call.

    Serve ``.app`` with an ``AppRunner``; point PTB at ``http://host:port/bot`` and
    ``http://host:port/file/bot``. Updates created by ``user_*`` are delivered by ``getUpdates``
    or, while a webhook is set, POSTed per chat in order with retries.
    """

    def __init__(
        self,
        *,
        token: str = "123456:SANDBOX",
        webhook_retry_delays: Iterable[float] = (1, 2, 4, 8, 16, 32, 60),
        bot_username: str = "switchboard_sandbox_bot",
        bot_first_name: str = "Switchboard",
        enforce_flood_limits: bool = False,
    ) -> None:
        self.token = token
        self.webhook_retry_delays = tuple(webhook_retry_delays) or (1.0,)
        self.enforce_flood_limits = enforce_flood_limits
        self.bot_user: Json = {
            "id": int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.webhook_attempts: list[WebhookAttempt] = []
        self.chat_actions: list[Json] = []
        self.answered_callbacks: list[Json] = []
        self.requests: list[tuple[str, Json]] = []
        self.bot_commands = BotCommands(_bad_request)  # the menus of setMyCommands, per language
        self._sent: list[Json] = []
        self._chats: dict[int, _Chat] = {}
        self._files: dict[str, StoredFile] = {}
        self._pending: list[_Queued] = []
        self._update_ids = itertools.count(10_000_001)
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._callbacks: dict[str, bool] = {}
        self._faults: list[Fault] = []
        self._flood = _FloodMeter(time.monotonic)
        self._allowed_updates: frozenset[str] | None = None
        self._webhook: _Webhook | None = None
        self._webhook_last_error: tuple[int, str] | None = None
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._poller: asyncio.Future[None] | None = None
        self._changed = asyncio.Event()
        self._version = 0
        self._closing = False
        self._methods = self._method_table()
        self.app = self._build_app()

    # --- public: inspection ---------------------------------------------------------------

    @property
    def flood_violations(self) -> FloodViolations:
        return self._flood.violations

    @property
    def webhook_url(self) -> str | None:
        return self._webhook.url if self._webhook else None

    @property
    def pending_updates(self) -> list[Json]:
        return [entry.payload for entry in self._pending]

    def sent(self, chat_id: int | None = None) -> list[Json]:
        """Messages the bot sent or edited, oldest first (optionally for one chat)."""
        return [item for item in self._sent if chat_id is None or item["chat_id"] == chat_id]

    def message(self, chat_id: int, message_id: int) -> Json:
        """The current state of one message in a chat (the customer's view)."""
        return self._chat(chat_id).messages[message_id]

    @property
    def version(self) -> int:
        """A counter bumped on every change (the chat page long-polls on it)."""
        return self._version

    async def wait_changed(self, since: int, seconds: float) -> None:
        """Return once ``version`` differs from ``since``, after ``seconds``, or on shutdown."""
        deadline = asyncio.get_running_loop().time() + seconds
        while self._version == since and not self._closing:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return

    def chats(self) -> list[Json]:
        """Every chat the customers opened, for the chat page's list."""
        return [
            {"id": chat.id, "first_name": chat.first_name, "language_code": chat.language_code, "blocked": chat.blocked}
            for chat in self._chats.values()
        ]

    def transcript(self, chat_id: int) -> Json:
        """One chat as the customer's app shows it: messages, typing indicator, block state."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return {"chat": None, "blocked": False, "typing": False, "messages": []}
        typing = time.time() - chat.action_at < 5 and not any(
            item["chat_id"] == chat_id and item["at"] > chat.action_at for item in self._sent
        )
        messages = list(chat.messages.values())
        return {"chat": chat.as_json(), "blocked": chat.blocked, "typing": typing, "messages": messages}

    def stored_file(self, file_id: str) -> StoredFile | None:
        return self._files.get(file_id)

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 5.0) -> object:  # noqa: ASYNC109
        """Wait until ``predicate()`` is truthy (re-checked on every change and every 50 ms)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not (result := predicate()):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} s")
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), min(remaining, 0.05))
            except TimeoutError:
                pass
        return result

    # --- public: scripted faults ----------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        chat_id: int | None = None,
        count: int = 1,
        status: int = 429,
        retry_after: int = 1,
        description: str | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``method`` fail with ``status`` (429 carries ``retry_after``)."""
        defaults = {
            429: f"Too Many Requests: retry after {retry_after}",
            403: "Forbidden: bot was blocked by the user",
            400: "Bad Request: chat not found",
        }
        text = description or defaults.get(status, "Internal Server Error")
        error = BotApiError(status, text, retry_after=retry_after if status == 429 else None)
        key = None if chat_id is None else str(chat_id)
        self._faults.append(Fault(method.lower(), key, count, error))

    def block(self, chat_id: int) -> Json:
        """The customer blocks the bot: sends answer 403 and a ``my_chat_member`` (kicked) update is emitted."""
        return self._set_blocked(chat_id, blocked=True)

    def unblock(self, chat_id: int) -> Json:
        """The customer restarts the bot: a ``my_chat_member`` (member) update is emitted."""
        return self._set_blocked(chat_id, blocked=False)

    # --- public: the customer's side ------------------------------------------------------

    def user_sends(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        photo: bytes | None = None,
        document: tuple[str, bytes, str] | None = None,
        voice: bytes | None = None,
        sticker: str | None = None,
        first_name: str = "Ana",
        language_code: str | None = "id",
        caption: str | None = None,
        user_id: int | None = None,
    ) -> Json:
        """The customer sends a message; returns the queued Update."""
        chat = self._open_chat(chat_id, first_name, language_code)
        if chat.blocked:
            self.unblock(chat_id)
        content = self._user_content(text, photo, document, voice, sticker, caption)
        message = self._new_message(chat, chat.user(user_id), content)
        return self._enqueue({"message": message})

    def user_edits(self, chat_id: int, message_id: int, text: str) -> Json:
        """The customer edits one of their text messages; returns the ``edited_message`` Update."""
        message = self.message(chat_id, message_id)
        if message["from"].get("is_bot"):
            raise ValueError("customers can only edit their own messages")
        message.update(text=text, edit_date=int(time.time()))
        self._touch()
        return self._enqueue({"edited_message": dict(message)})

    def user_presses(self, chat_id: int, message_id: int, callback_data: str) -> Json:
        """The customer presses an inline button of a bot message; returns the ``callback_query`` Update."""
        chat = self._chat(chat_id)
        message = chat.messages[message_id]
        if callback_data not in _callback_datas(message):
            raise ValueError(f"message {message_id} has no button with callback_data {callback_data!r}")
        query_id = f"{chat_id}{next(self._callback_ids):08d}"
        self._callbacks[query_id] = False
        query = {
            "id": query_id,
            "from": chat.user(),
            "message": message,
            "chat_instance": str(-abs(hash((chat_id, self.token))) % 10**18),
            "data": callback_data,
        }
        return self._enqueue({"callback_query": query})

    def inject_update(self, update: Json) -> Json:
        """Queue a raw update (given ``update_id`` kept, otherwise the next one assigned)."""
        payload = dict(update)
        if "update_id" not in payload:
            payload["update_id"] = next(self._update_ids)
        self._queue(payload)
        return payload

    def send_update_copies(self, update: Json, copies: int) -> None:
        """Deliver the same update (same ``update_id``) ``copies`` more times, like a redelivery."""
        for _ in range(copies):
            self._queue(dict(update))

    # --- update queue ---------------------------------------------------------------------

    def _enqueue(self, body: Json) -> Json:
        return self.inject_update({"update_id": next(self._update_ids), **body})

    def _queue(self, payload: Json) -> None:
        kind = next((key for key in payload if key != "update_id"), "")
        allowed = self._allowed_updates
        if (allowed and kind not in allowed) or (not allowed and kind in _DEFAULT_EXCLUDED):
            return
        entry = _Queued(payload["update_id"], payload, _chat_key(payload))
        self._pending.append(entry)
        self._touch()
        if self._webhook:
            self._start_worker(entry.chat_key)

    def _touch(self) -> None:
        self._version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            self._pending = self._pending[offset:]
        else:
            self._pending = [entry for entry in self._pending if entry.update_id >= offset]

    # --- chats and messages ---------------------------------------------------------------

    def _open_chat(self, chat_id: int, first_name: str, language_code: str | None) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = _Chat(chat_id, first_name, language_code)
        chat.first_name, chat.language_code = first_name, language_code
        return chat

    def _chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise _bad_request("chat not found")
        return chat

    def _new_message(self, chat: _Chat, sender: Json, content: Json) -> Json:
        message_id = next(chat.ids)
        message = {"message_id": message_id, "from": sender, "chat": chat.as_json(), "date": int(time.time())}
        message.update(content)
        chat.messages[message_id] = message
        self._touch()
        return message

    def _user_content(
        self,
        text: str | None,
        photo: bytes | None,
        document: tuple[str, bytes, str] | None,
        voice: bytes | None,
        sticker: str | None,
        caption: str | None,
    ) -> Json:
        content: Json = {}
        if text is not None:
            content["text"] = text
        if photo is not None:
            content["photo"] = self._photo_sizes(self._store(Upload("photo.jpg", photo, "image/jpeg"), "photos"))
        if document is not None:
            content["document"] = self._document_json(self._store(Upload(*document), "documents"))
        if voice is not None:
            stored = self._store(Upload("voice.oga", voice, "audio/ogg"), "voice")
            content["voice"] = {**self._file_json(stored), "duration": 1, "mime_type": "audio/ogg"}
        if sticker is not None:
            content["sticker"] = self._sticker_json(sticker)
        if caption is not None and "text" not in content:
            content["caption"] = caption
        if not content:
            raise ValueError("user_sends needs text, photo, document, voice or sticker")
        return content

    def _set_blocked(self, chat_id: int, *, blocked: bool) -> Json:
        chat = self._chat(chat_id)
        chat.blocked = blocked
        statuses = ("member", "kicked") if blocked else ("kicked", "member")
        old, new = ({"user": self.bot_user, "status": status} for status in statuses)
        (new if blocked else old)["until_date"] = 0  # ChatMemberBanned ("kicked") requires it, old or new
        update = {"chat": chat.as_json(), "from": chat.user(), "date": int(time.time())}
        return self._enqueue({"my_chat_member": {**update, "old_chat_member": old, "new_chat_member": new}})

    # --- files ----------------------------------------------------------------------------

    def _store(self, upload: Upload, folder: str) -> StoredFile:
        number = next(self._file_ids)
        suffix = Path(upload.name).suffix or ".bin"
        stored = StoredFile(
            file_id=f"AgAC{number:04d}{secrets.token_urlsafe(18)}",
            file_unique_id=f"AQAD{number:04d}",
            file_path=f"{folder}/file_{number}{suffix}",
            data=upload.data,
            mime_type=upload.mime_type,
            name=upload.name,
        )
        self._files[stored.file_id] = stored
        return stored

    @staticmethod
    def _file_json(stored: StoredFile) -> Json:
        return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "file_size": len(stored.data)}

    def _photo_sizes(self, stored: StoredFile) -> list[Json]:
        width, height = _image_size(stored.data)
        scale = min(1.0, 90 / max(width, height, 1))
        thumb = {**self._file_json(stored), "width": round(width * scale), "height": round(height * scale)}
        thumb["file_id"] += "_s"
        thumb["file_unique_id"] += "s"
        self._files[thumb["file_id"]] = stored
        return [thumb, {**self._file_json(stored), "width": width, "height": height}]

    def _document_json(self, stored: StoredFile) -> Json:
        return {**self._file_json(stored), "file_name": stored.name, "mime_type": stored.mime_type}

    def _sticker_json(self, emoji: str) -> Json:
        stored = self._store(Upload("sticker.webp", b"RIFF\x00\x00\x00\x00WEBP", "image/webp"), "stickers")
        extra = {"type": "regular", "width": 512, "height": 512, "is_animated": False, "is_video": False}
        return {**self._file_json(stored), **extra, "emoji": emoji}

    def _resolve_media(self, params: _Params, name: str, folder: str) -> StoredFile:
        upload = params.uploads.get(name)
        reference = params.text(name)
        if upload is None and reference and reference.startswith("attach://"):
            upload = params.uploads.get(reference.removeprefix("attach://"))
        if upload is not None:
            return self._store(upload, folder)
        if not reference:
            raise _bad_request(f"there is no {name} in the request")
        stored = self._files.get(reference)
        if stored is None:
            raise _bad_request("wrong file identifier/HTTP URL specified")
        return stored

    # --- Bot API methods ------------------------------------------------------------------

    def _method_table(self) -> dict[str, Handler]:
        methods: dict[str, Handler] = {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "getFile": self._get_file,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
        }
        return {name.lower(): handler for name, handler in methods.items()}

    async def _get_me(self, params: _Params) -> object:
        return self.bot_user

    async def _true(self, params: _Params) -> object:
        return True

    async def _set_webhook(self, params: _Params) -> object:
        url = params.text("url") or ""
        if not url:
            return await self._delete_webhook(params)
        secret = params.text("secret_token")
        if secret is not None and not _SECRET_TOKEN.match(secret):
            raise _bad_request("secret token contains unallowed characters")
        if not url.startswith(("http://", "https://")):
            raise _bad_request("invalid webhook URL specified")
        self._stop_workers()
        if params.flag("drop_pending_updates"):
            self._pending.clear()
        self._apply_allowed_updates(params)
        self._webhook = _Webhook(url, secret, params.integer("max_connections", 40) or 40)
        self._webhook_last_error = None
        self._wake_poller(conflict=True)
        for key in {entry.chat_key for entry in self._pending}:
            self._start_worker(key)
        return True

    async def _delete_webhook(self, params: _Params) -> object:
        self._stop_workers()
        self._webhook = None
        if params.flag("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _get_webhook_info(self, params: _Params) -> object:
        info: Json = {"url": self.webhook_url or "", "has_custom_certificate": False}
        info["pending_update_count"] = len(self._pending)
        if self._webhook:
            info["max_connections"] = self._webhook.max_connections
        if self._webhook_last_error:
            info["last_error_date"], info["last_error_message"] = self._webhook_last_error
        return info

    def _apply_allowed_updates(self, params: _Params) -> None:
        allowed = params.json("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(str(kind) for kind in allowed) or None

    async def _get_updates(self, params: _Params) -> object:
        if self._webhook:
            raise BotApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._wake_poller(conflict=True)
        offset = params.integer("offset")
        if offset is not None:
            self._confirm(offset)
        self._apply_allowed_updates(params)
        limit = max(1, min(100, params.integer("limit", 100) or 100))
        timeout = max(0, min(LONG_POLL_MAX, params.integer("timeout", 0) or 0))
        if not self._pending and timeout:
            await self._long_poll(timeout)
        return [entry.payload for entry in self._pending[:limit]]

    async def _long_poll(self, seconds: float) -> None:
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._poller = mine
        deadline = asyncio.get_running_loop().time() + seconds
        try:
            while not self._pending and not self._closing and not mine.done():
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    return
                await self._wait_change_or(mine, remaining)
            if mine.done() and (error := mine.exception()) is not None:
                raise error
        finally:
            if self._poller is mine:
                self._poller = None

    async def _wait_change_or(self, other: asyncio.Future[None], seconds: float) -> None:
        changed = asyncio.ensure_future(self._changed.wait())
        try:
            await asyncio.wait({changed, other}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()

    def _wake_poller(self, *, conflict: bool) -> None:
        poller, self._poller = self._poller, None
        if poller is None or poller.done():
            return
        if conflict:
            text = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
            poller.set_exception(BotApiError(409, text))
        else:
            poller.set_result(None)

    async def _send_message(self, params: _Params) -> object:
        chat = self._sendable_chat(params, "sendMessage")
        text = self._checked_text(params.required("text"), params.text("parse_mode"), MAX_TEXT, "message")
        return self._bot_sends(chat, "sendMessage", params, {"text": text})

    async def _send_photo(self, params: _Params) -> object:
        chat = self._sendable_chat(params, "sendPhoto")
        stored = self._resolve_media(params, "photo", "photos")
        return self._bot_sends(chat, "sendPhoto", params, {"photo": self._photo_sizes(stored)}, stored)

    async def _send_document(self, params: _Params) -> object:
        chat = self._sendable_chat(params, "sendDocument")
        stored = self._resolve_media(params, "document", "documents")
        return self._bot_sends(chat, "sendDocument", params, {"document": self._document_json(stored)}, stored)

    def _sendable_chat(self, params: _Params, method: str) -> _Chat:
        chat = self._chat(params.chat_id())
        if chat.blocked:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        if self._flood.record(chat.id) and self.enforce_flood_limits:
            raise BotApiError(429, "Too Many Requests: retry after 5", retry_after=5)
        return chat

    @staticmethod
    def _checked_text(raw: str, parse_mode: str | None, limit: int, what: str) -> str:
        try:
            text = plain_text(raw, parse_mode)
        except EntityParseError as exc:
            raise _bad_request(f"can't parse entities: {exc}") from None
        if len(text) > limit:
            raise _bad_request(f"{what} is too long" if what == "message" else f"message {what} is too long")
        if not text.strip() and what == "message":
            raise _bad_request("message text is empty")
        return text

    def _bot_sends(
        self, chat: _Chat, method: str, params: _Params, content: Json, stored: StoredFile | None = None
    ) -> Json:
        caption = params.text("caption")
        if stored is not None and caption:
            content["caption"] = self._checked_text(caption, params.text("parse_mode"), MAX_CAPTION, "caption")
        markup = _reply_markup(params)
        if markup:
            content["reply_markup"] = markup
        message = self._new_message(chat, self.bot_user, content)
        self._record(method, chat.id, message, params, stored)
        return message

    def _record(
        self, method: str, chat_id: int, message: Json, params: _Params, stored: StoredFile | None = None
    ) -> None:
        item: Json = {
            "method": method,
            "chat_id": chat_id,
            "message_id": message["message_id"],
            "text": message.get("text"),
            "caption": message.get("caption"),
            "parse_mode": params.text("parse_mode"),
            "reply_markup": message.get("reply_markup"),
            "file": None,
            "at": time.time(),
        }
        if stored is not None:
            item["file"] = {"file_id": stored.file_id, "name": stored.name, "mime_type": stored.mime_type}
            item["file"]["size"] = len(stored.data)
        self._sent.append(item)

    async def _edit_message_text(self, params: _Params) -> object:
        chat = self._sendable_chat(params, "editMessageText")
        message = chat.messages.get(params.integer("message_id") or 0)
        if message is None:
            raise _bad_request("message to edit not found")
        if not message["from"].get("is_bot"):
            raise _bad_request("message can't be edited")
        text = self._checked_text(params.required("text"), params.text("parse_mode"), MAX_TEXT, "message")
        markup = _reply_markup(params)
        if text == message.get("text") and markup == message.get("reply_markup"):
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        message.update(text=text, edit_date=int(time.time()))
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        self._touch()
        self._record("editMessageText", chat.id, message, params)
        return message

    async def _edit_message_reply_markup(self, params: _Params) -> object:
        """Replace (or, without ``reply_markup``, remove) a bot message's inline keyboard (protocol facts T5)."""
        chat = self._sendable_chat(params, "editMessageReplyMarkup")
        message = chat.messages.get(params.integer("message_id") or 0)
        if message is None:
            raise _bad_request("message to edit not found")
        if not message["from"].get("is_bot"):
            raise _bad_request("message can't be edited")
        markup = _reply_markup(params)
        if markup == message.get("reply_markup"):
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        message["edit_date"] = int(time.time())
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        self._touch()
        self._record("editMessageReplyMarkup", chat.id, message, params)
        return message

    async def _get_file(self, params: _Params) -> object:
        stored = self._files.get(params.required("file_id"))
        if stored is None:
            raise _bad_request("invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD:
            raise _bad_request("file is too big")
        return {**self._file_json(stored), "file_path": stored.file_path}

    async def _delete_message(self, params: _Params) -> object:
        """A bot deletes its own messages, and a customer's in a private chat, up to 48 hours after they were sent."""
        chat = self._chat(params.chat_id())
        message = chat.messages.get(params.integer("message_id") or 0)
        if message is None:
            raise _bad_request("message to delete not found")
        if time.time() - message["date"] > DELETE_WITHIN or (chat.type != "private" and not message["from"]["is_bot"]):
            raise _bad_request("message can't be deleted for everyone")
        del chat.messages[message["message_id"]]
        self._touch()
        return True

    async def _answer_callback_query(self, params: _Params) -> object:
        query_id = params.required("callback_query_id")
        if self._callbacks.get(query_id) is not False:
            raise _bad_request("query is too old and response timeout expired or query ID is invalid")
        text = params.text("text") or ""
        if len(text) > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        self._callbacks[query_id] = True
        self.answered_callbacks.append({"id": query_id, "text": text, "show_alert": params.flag("show_alert")})
        self._touch()
        return True

    async def _send_chat_action(self, params: _Params) -> object:
        chat = self._chat(params.chat_id())
        action = params.required("action")
        if action not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        if chat.blocked:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        chat.action_at = time.time()
        self.chat_actions.append({"chat_id": chat.id, "action": action, "at": chat.action_at})
        self._touch()
        return True

    async def _set_my_commands(self, params: _Params) -> object:
        self.bot_commands.set(params.json("commands"), params.text("language_code"), params.json("scope"))
        self._touch()
        return True

    async def _get_my_commands(self, params: _Params) -> object:
        return self.bot_commands.get(params.text("language_code"), params.json("scope"))

    async def _delete_my_commands(self, params: _Params) -> object:
        self.bot_commands.delete(params.text("language_code"), params.json("scope"))
        self._touch()
        return True

    # --- HTTP: Bot API routes -------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        add_page_routes(app, self)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        if not hmac.compare_digest(request.match_info["token"], self.token):
            return BotApiError(401, "Unauthorized").response()
        name = request.match_info["method"]
        try:
            params = await _Params.read(request)
            self.requests.append((name, dict(params.values)))
            result = await self._call(name, params)
        except BotApiError as exc:
            return exc.response()
        return _json_response({"ok": True, "result": result})

    async def _call(self, name: str, params: _Params) -> object:
        handler = self._methods.get(name.lower())
        if handler is None:
            raise BotApiError(404, "Not Found: method not found")
        self._raise_fault(name.lower(), params.text("chat_id"))
        return await handler(params)

    def _raise_fault(self, method: str, chat_id: str | None) -> None:
        for fault in self._faults:
            if fault.method == method and fault.chat_id in (None, chat_id):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                raise fault.error

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if not hmac.compare_digest(request.match_info["token"], self.token):
            return BotApiError(401, "Unauthorized").response()
        path = request.match_info["path"]
        stored = next((item for item in self._files.values() if item.file_path == path), None)
        if stored is None or len(stored.data) > MAX_DOWNLOAD:
            return BotApiError(404, "Not Found").response()
        return web.Response(body=stored.data, content_type=stored.mime_type)

    async def _on_shutdown(self, app: web.Application) -> None:
        await self.close()

    async def close(self) -> None:
        """Release long polls, stop the webhook sender and close its HTTP session."""
        self._closing = True
        self._wake_poller(conflict=False)
        self._touch()
        self._stop_workers()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- webhook sender -------------------------------------------------------------------

    def _start_worker(self, chat_key: str) -> None:
        if chat_key not in self._workers and not self._closing:
            self._workers[chat_key] = asyncio.get_running_loop().create_task(self._webhook_worker(chat_key))

    def _stop_workers(self) -> None:
        for task in self._workers.values():
            task.cancel()
        self._workers.clear()

    async def _webhook_worker(self, chat_key: str) -> None:
        failures = 0
        try:
            while self._webhook is not None:
                entry = next((item for item in self._pending if item.chat_key == chat_key), None)
                if entry is None:
                    return
                status, retry_after = await self._post_update(self._webhook, entry)
                if 200 <= status < 300:
                    failures = 0
                    if entry in self._pending:
                        self._pending.remove(entry)
                    continue
                delay = self.webhook_retry_delays[min(failures, len(self.webhook_retry_delays) - 1)]
                failures += 1
                await asyncio.sleep(retry_after if retry_after is not None else delay)
        finally:
            if self._workers.get(chat_key) is asyncio.current_task():
                del self._workers[chat_key]

    async def _post_update(self, webhook: _Webhook, entry: _Queued) -> tuple[int, float | None]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        headers = {"Content-Type": "application/json"}
        if webhook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
        status, retry_after, error = 0, None, "Connection refused"
        try:
            async with self._session.post(webhook.url, data=orjson.dumps(entry.payload), headers=headers) as resp:
                status, error = resp.status, f"Wrong response from the webhook: {resp.status} {resp.reason}"
                retry_after = _clamped_retry_after(resp.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.debug("webhook POST of update %s failed: %r", entry.update_id, exc)
        self.webhook_attempts.append(WebhookAttempt(entry.update_id, status, time.time()))
        if not 200 <= status < 300:
            self._webhook_last_error = (int(time.time()), error)
        self._touch()
        return status, retry_after


def _chat_key(update: Json) -> str:
    for path in _UPDATE_CHAT_PATHS:
        node: object = update
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and "id" in node:
            return str(node["id"])
    return f"update:{update.get('update_id')}:{secrets.token_hex(4)}"


def _reply_markup(params: _Params) -> Json | None:
    markup = params.json("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise _bad_request("BUTTON_DATA_INVALID")
    return markup


def _callback_datas(message: Json) -> set[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return {button["callback_data"] for row in rows for button in row if "callback_data" in button}


def _clamped_retry_after(value: str | None) -> float | None:
    if value is None or not value.isdigit():
        return None
    return float(min(3600, int(value)))


def _image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG or JPEG (800x600 when unknown)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    index = 2
    while data.startswith(b"\xff\xd8") and index + 9 < len(data):
        marker, length = data[index + 1], int.from_bytes(data[index + 2 : index + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return int.from_bytes(data[index + 7 : index + 9], "big"), int.from_bytes(
                data[index + 5 : index + 7], "big"
            )
        index += 2 + length
    return 800, 600


@asynccontextmanager
async def serve(emulator: TelegramEmulator, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve the emulator on loopback; yields its base URL (Bot API at ``/bot``, files at ``/file/bot``)."""
    runner = web.AppRunner(emulator.app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        await runner.cleanup()
