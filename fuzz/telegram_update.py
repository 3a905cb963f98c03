"""Atheris target: ``POST /telegram/webhook`` with any body, answered with a documented status only.

The request goes over loopback to the real route of a real ``TelegramChannel`` (webhook mode, with the customer
commands and the choice buttons), whose Bot API calls the Telegram emulator answers. The route checks the secret
token header, parses the body with orjson, translates the update (``to_inbound``), lets python-telegram-bot read
button presses (``Update.de_json``) and hands what it found to the sink. Documented answers: 200 (handled or
ignored), 400 (not JSON, not an object), 403 (missing or wrong secret token), and 500 only when a Bot API call the
update needed failed (``TelegramError``: Telegram delivers the update again; the emulator knows none of the fuzzed
chats). Any other exception breaks the contract.

Input layout: one mode byte, then the body. Mode bit 0 set: the secret token header is the body's first line
(as aiohttp's parser would pass it on) instead of the right one; bit 1 set: no secret token header.
"""

from __future__ import annotations

import asyncio
from functools import cache
from pathlib import Path

from bridge.config import TelegramSettings
from bridge.greeting import CustomerTexts
from bridge.i18n import Catalogs
from bridge.sandbox import telegram as telegram_sandbox
from channels.telegram.channel import SECRET_HEADER, WEBHOOK_PATH, TelegramChannel
from fuzz.support import ErrorRecords, Loopback, check, header_value, stored

MAX_LEN = 8192
TOKEN = "123456:FUZZ"
SECRET = "fuzz-webhook-secret"
CHAT = 4242
LOCALES = Path(__file__).resolve().parents[1] / "locales"
DOCUMENTED = frozenset({200, 400, 403})
_RECORDS = ErrorRecords("switchboard", "aiohttp", "telegram")
_TELEGRAM_ERROR = "telegram.error."  # a traceback's last line names a Bot API failure so


class _Harness:
    """The Telegram emulator and a TelegramChannel whose webhook route is served on loopback, for the whole run."""

    def __init__(self) -> None:
        self.net = Loopback()
        self.emulator = telegram_sandbox.TelegramEmulator(token=TOKEN)
        self.emulator.user_sends(CHAT, "hi")  # the seeds' chat exists, so their Bot API calls succeed
        self.net.run(self._start())

    async def _start(self) -> None:
        self._served = telegram_sandbox.serve(self.emulator)
        url = await self._served.__aenter__()
        settings = TelegramSettings(
            bot_token=TOKEN,
            mode="webhook",
            webhook_secret=SECRET,
            api_url=f"{url}/bot",
            file_url=f"{url}/file/bot",
        )
        texts = CustomerTexts(Catalogs(LOCALES, reload_interval=float("inf")))
        self.channel = TelegramChannel(settings=settings, sink=stored, customer_texts=texts)
        await self.channel.__aenter__()
        await self.net.serve_routes(self.channel.routes())

    async def settle(self) -> None:
        """Let the background calls an update started (answering a button press) finish before the next input."""
        await asyncio.gather(*self.channel._tasks, return_exceptions=True)


@cache
def _harness() -> _Harness:
    return _Harness()


def request(data: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The headers and body that ``data`` describes (see the module's doc)."""
    mode, body = (data[0], data[1:]) if data else (0, b"")
    headers = [(b"Content-Type", b"application/json")]
    if mode & 0b10:
        return headers, body
    if mode & 0b01:
        line, _, body = body.partition(b"\n")
        headers.append((SECRET_HEADER.encode(), header_value(line)))
    else:
        headers.append((SECRET_HEADER.encode(), SECRET.encode()))
    return headers, body


def test_one_input(data: bytes) -> None:
    harness = _harness()
    headers, body = request(data)
    status, answer = harness.net.run(harness.net.post(WEBHOOK_PATH, headers, body))
    harness.net.run(harness.settle())
    errors = _RECORDS.take()
    if status == 500:
        raised = errors[-1].rstrip().rsplit("\n", 1)[-1] if errors else ""
        check(raised.startswith(_TELEGRAM_ERROR), "500 without a Bot API failure:\n" + "\n".join(errors))
        return
    check(not errors, f"ERROR logged (status {status}):\n" + "\n".join(errors))
    check(status in DOCUMENTED, f"undocumented status {status}: {answer[:300]!r}")
    if len(harness.emulator.requests) > 1000:  # the emulator records every call; a long run must not grow
        harness.emulator.requests.clear()
        harness.emulator.answered_callbacks.clear()
