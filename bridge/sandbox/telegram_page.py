"""This module serves the emulator's Telegram-style chat page and the small JSON API it plays the customer with."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import orjson
from aiohttp import web

if TYPE_CHECKING:
    from bridge.sandbox.telegram import TelegramEmulator

UI_DIR = Path(__file__).with_name("telegram_ui")
LONG_POLL_SECONDS = 20.0


def add_page_routes(app: web.Application, emulator: TelegramEmulator) -> None:
    """Mount ``GET /`` (the chat page), its assets under ``/ui/static/`` and its API under ``/ui/api/``."""
    page = _ChatPage(emulator)
    app.router.add_get("/", page.index)
    app.router.add_static("/ui/static/", UI_DIR)
    app.router.add_get("/ui/api/chats", page.list_chats)
    app.router.add_get("/ui/api/chats/{chat_id}", page.show_chat)
    app.router.add_post("/ui/api/chats/{chat_id}/messages", page.send)
    app.router.add_post("/ui/api/chats/{chat_id}/press", page.press)
    app.router.add_post("/ui/api/chats/{chat_id}/block", page.block)
    app.router.add_get("/ui/files/{file_id}", page.file)


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _chat_id(request: web.Request) -> int:
    try:
        return int(request.match_info["chat_id"])
    except ValueError:
        raise web.HTTPBadRequest(text="chat id must be an integer") from None


class _ChatPage:
    """Request handlers that act as the customer's Telegram app."""

    def __init__(self, emulator: TelegramEmulator) -> None:
        self.emulator = emulator

    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(UI_DIR / "index.html")

    async def list_chats(self, request: web.Request) -> web.Response:
        return _json({"chats": self.emulator.chats(), "bot": self.emulator.bot_user})

    async def show_chat(self, request: web.Request) -> web.Response:
        chat_id = _chat_id(request)
        since = int(request.query.get("since", "-1"))
        await self.emulator.wait_changed(since, LONG_POLL_SECONDS if since >= 0 else 0)
        transcript = self.emulator.transcript(chat_id)
        known = next((chat for chat in self.emulator.chats() if chat["id"] == chat_id), None)
        language = known["language_code"] if known else request.query.get("language_code")
        menu = self.emulator.bot_commands.for_user(language)  # what the Menu button lists for this customer
        return _json({"version": self.emulator.version, **transcript, "commands": menu})

    async def send(self, request: web.Request) -> web.Response:
        form = await request.post()
        text = str(form.get("text") or "").strip() or None
        upload = form.get("file")
        profile = {
            "first_name": str(form.get("first_name") or "Ana"),
            "language_code": str(form.get("language_code") or "") or None,
        }
        if isinstance(upload, web.FileField):
            update = self._send_file(_chat_id(request), upload, text, profile)
        elif text:
            update = self.emulator.user_sends(_chat_id(request), text, **profile)
        else:
            raise web.HTTPBadRequest(text="type a message or attach a file")
        return _json(update)

    def _send_file(self, chat_id: int, upload: web.FileField, caption: str | None, profile: dict) -> object:
        data = upload.file.read()
        mime = upload.content_type or "application/octet-stream"
        if mime in {"image/jpeg", "image/png"}:
            return self.emulator.user_sends(chat_id, photo=data, caption=caption, **profile)
        document = (upload.filename or "file.bin", data, mime)
        return self.emulator.user_sends(chat_id, document=document, caption=caption, **profile)

    async def press(self, request: web.Request) -> web.Response:
        body = await request.json(loads=orjson.loads)
        try:
            update = self.emulator.user_presses(_chat_id(request), int(body["message_id"]), str(body["data"]))
        except (KeyError, ValueError) as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        return _json(update)

    async def block(self, request: web.Request) -> web.Response:
        body = await request.json(loads=orjson.loads)
        chat_id = _chat_id(request)
        if all(chat["id"] != chat_id for chat in self.emulator.chats()):
            raise web.HTTPNotFound(text="no such chat")
        update = self.emulator.block(chat_id) if body.get("blocked") else self.emulator.unblock(chat_id)
        return _json(update)

    async def file(self, request: web.Request) -> web.StreamResponse:
        stored = self.emulator.stored_file(request.match_info["file_id"])
        if stored is None:
            raise web.HTTPNotFound()
        disposition = "inline" if stored.mime_type.startswith("image/") else "attachment"
        headers = {aiohttp.hdrs.CONTENT_DISPOSITION: f'{disposition}; filename="{stored.name.replace(chr(34), "")}"'}
        return web.Response(body=stored.data, content_type=stored.mime_type, headers=headers)
