"""Tests of the loopback Telegram Bot API emulator, driven by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter
from telegram.ext import AIORateLimiter, Application
from telegram.helpers import escape_markdown

from bridge.sandbox.telegram import TelegramEmulator, serve
from bridge.sandbox.telegram_markup import EntityParseError, plain_text

TOKEN = "123456:SANDBOX"
CHAT = 4242
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000280000001e00806000000") + b"\x00" * 64


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
def emulator() -> TelegramEmulator:
    return TelegramEmulator(token=TOKEN, webhook_retry_delays=(0.05, 0.1))


@pytest.fixture
async def base_url(emulator: TelegramEmulator) -> AsyncIterator[str]:
    async with serve(emulator) as url:
        yield url


def build_app(base_url: str, *, token: str = TOKEN, rate_limited: bool = False) -> Application:
    builder = Application.builder().token(token).base_url(f"{base_url}/bot").base_file_url(f"{base_url}/file/bot")
    if rate_limited:
        builder = builder.rate_limiter(AIORateLimiter())
    return builder.updater(None).build()


@pytest.fixture(params=[False, True], ids=["plain", "rate_limiter"])
async def bot(request: pytest.FixtureRequest, base_url: str) -> AsyncIterator[Bot]:
    async with build_app(base_url, rate_limited=request.param) as app:
        yield app.bot


async def test_initialize_calls_get_me(bot: Bot, emulator: TelegramEmulator) -> None:
    assert bot.username == "switchboard_sandbox_bot"
    assert bot.id == 123456
    assert emulator.requests[0][0] == "getMe"


async def test_wrong_token_is_unauthorized(base_url: str) -> None:
    app = build_app(base_url, token="999:WRONG")
    with pytest.raises(InvalidToken):
        await app.initialize()
    await app.bot.shutdown()  # Application.shutdown() skips a never-initialized app and leaks httpx


async def test_send_message_is_recorded_with_markup(bot: Bot, emulator: TelegramEmulator) -> None:
    emulator.user_sends(CHAT, "hi")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("5", callback_data="csat:1:5")]])
    message = await bot.send_message(CHAT, "<b>Thanks</b> &amp; bye", parse_mode=ParseMode.HTML, reply_markup=keyboard)
    assert message.text == "Thanks & bye"
    [sent] = emulator.sent(CHAT)
    assert sent["method"] == "sendMessage"
    assert sent["parse_mode"] == "HTML"
    assert sent["reply_markup"] == {"inline_keyboard": [[{"text": "5", "callback_data": "csat:1:5"}]]}
    assert sent["message_id"] == message.message_id == 2


async def test_unknown_chat_is_bad_request(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(777, "hello?")


@pytest.mark.parametrize(
    ("text", "parse_mode", "error"),
    [
        ("x" * 4097, None, "Message is too long"),
        ("1 < 2", ParseMode.HTML, "Can't parse entities"),
        ("<b>open", ParseMode.HTML, "Can't parse entities"),
        ("Done.", ParseMode.MARKDOWN_V2, "Can't parse entities"),
        ("*bold", ParseMode.MARKDOWN_V2, "Can't parse entities"),
    ],
)
async def test_invalid_text_is_rejected(
    base_url: str, emulator: TelegramEmulator, text: str, parse_mode: str | None, error: str
) -> None:
    emulator.user_sends(CHAT, "hi")
    async with build_app(base_url) as app:
        with pytest.raises(BadRequest, match=error):
            await app.bot.send_message(CHAT, text, parse_mode=parse_mode)
    assert emulator.sent() == []


async def test_4096_chars_after_entity_parsing_fit(bot: Bot, emulator: TelegramEmulator) -> None:
    emulator.user_sends(CHAT, "hi")
    await bot.send_message(CHAT, "<b>" + "&amp;" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    assert emulator.sent(CHAT)[0]["text"] == "&" * 4096


async def test_injected_429_raises_retry_after(bot: Bot, emulator: TelegramEmulator) -> None:
    emulator.user_sends(CHAT, "hi")
    emulator.fail_next("sendMessage", chat_id=CHAT, status=429, retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "first")
    assert caught.value.retry_after == timedelta(seconds=3)
    await bot.send_message(CHAT, "second")
    assert [item["text"] for item in emulator.sent(CHAT)] == ["second"]


async def test_429_wire_shape(base_url: str, emulator: TelegramEmulator) -> None:
    emulator.user_sends(CHAT, "hi")
    emulator.fail_next("sendMessage", retry_after=2)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base_url}/bot{TOKEN}/sendMessage", json={"chat_id": CHAT, "text": "x"}) as resp:
            assert resp.status == 429
            assert resp.headers["Retry-After"] == "2"
            assert await resp.json() == {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 2",
                "parameters": {"retry_after": 2},
            }
        async with http.get(f"{base_url}/bot{TOKEN}/sendMessage", params={"chat_id": CHAT, "text": "y"}) as resp:
            assert (await resp.json())["result"]["text"] == "y"
        async with http.get(f"{base_url}/botWRONG/getMe") as resp:
            assert (resp.status, await resp.json()) == (
                401,
                {"ok": False, "error_code": 401, "description": "Unauthorized"},
            )


async def test_blocked_chat_is_forbidden_and_emits_my_chat_member(bot: Bot, emulator: TelegramEmulator) -> None:
    emulator.user_sends(CHAT, "hi")
    update = emulator.block(CHAT)
    assert update["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    assert update["my_chat_member"]["old_chat_member"]["status"] == "member"
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "still there?")
    kinds = [next(k for k in u.to_dict() if k != "update_id") for u in await bot.get_updates()]
    assert kinds == ["message", "my_chat_member"]


async def test_customer_photo_downloads_through_get_file(bot: Bot, emulator: TelegramEmulator, base_url: str) -> None:
    update = emulator.user_sends(CHAT, photo=PNG, caption="look")
    largest = update["message"]["photo"][-1]
    assert (largest["width"], largest["height"]) == (640, 480)
    file = await bot.get_file(largest["file_id"])
    assert file.file_path == f"{base_url}/file/bot{TOKEN}/photos/file_1.jpg"
    assert bytes(await file.download_as_bytearray()) == PNG


async def test_file_over_20_mb_is_too_big(bot: Bot, emulator: TelegramEmulator) -> None:
    update = emulator.user_sends(CHAT, document=("big.bin", b"\0" * (20 * 1024 * 1024 + 1), "application/zip"))
    with pytest.raises(BadRequest, match="File is too big"):
        await bot.get_file(update["message"]["document"]["file_id"])


async def test_send_photo_multipart_and_document_by_file_id(bot: Bot, emulator: TelegramEmulator) -> None:
    emulator.user_sends(CHAT, "hi")
    photo = await bot.send_photo(CHAT, PNG, caption="*shot*", parse_mode=ParseMode.MARKDOWN_V2)
    assert photo.caption == "shot"
    doc = await bot.send_document(CHAT, b"%PDF-1.4", filename="invoice.pdf")
    again = await bot.send_document(CHAT, doc.document.file_id)
    assert again.document.file_name == "invoice.pdf"
    methods = [(item["method"], item["file"]["size"]) for item in emulator.sent(CHAT)]
    assert methods == [("sendPhoto", len(PNG)), ("sendDocument", 8), ("sendDocument", 8)]
    assert emulator.stored_file(photo.photo[-1].file_id).data == PNG  # type: ignore[union-attr]


async def test_long_poll_wakes_on_update_and_offset_confirms(bot: Bot, emulator: TelegramEmulator) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.05)
    sent = emulator.user_sends(CHAT, "hello", first_name="Budi", language_code="id")
    [update] = await poll
    assert time.monotonic() - started < 2
    assert update.update_id == sent["update_id"]
    assert update.message.text == "hello"
    assert update.message.from_user.language_code == "id"
    assert len(await bot.get_updates(timeout=0)) == 1
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    assert emulator.pending_updates == []


async def test_long_poll_is_held_until_timeout(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert time.monotonic() - started >= 0.9


async def test_overlapping_pollers_conflict(bot: Bot, base_url: str) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.05)
    async with build_app(base_url) as second_instance:
        assert await second_instance.bot.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first


async def test_limit_and_update_copies(bot: Bot, emulator: TelegramEmulator) -> None:
    update = emulator.user_sends(CHAT, "one")
    emulator.send_update_copies(update, 2)
    emulator.user_sends(CHAT, "two")
    assert [u.update_id for u in await bot.get_updates(limit=3)] == [update["update_id"]] * 3
    assert len(await bot.get_updates(offset=update["update_id"] + 1)) == 1


async def test_edit_keyboard_and_callback_query(bot: Bot, emulator: TelegramEmulator) -> None:
    emulator.user_sends(CHAT, "hi")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(str(n), callback_data=f"csat:9:{n}") for n in (1, 5)]])
    message = await bot.send_message(CHAT, "Rate us", reply_markup=keyboard)
    update = emulator.user_presses(CHAT, message.message_id, "csat:9:5")
    query = update["callback_query"]
    assert query["data"] == "csat:9:5"
    assert await bot.answer_callback_query(query["id"], text="Thanks!")
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query["id"])
    edited = await bot.edit_message_text("Thanks for rating", chat_id=CHAT, message_id=message.message_id)
    assert edited.text == "Thanks for rating"
    assert "reply_markup" not in emulator.message(CHAT, message.message_id)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("Thanks for rating", chat_id=CHAT, message_id=message.message_id)
    assert [item["method"] for item in emulator.sent(CHAT)] == ["sendMessage", "editMessageText"]


async def test_customer_edit_sticker_voice_and_chat_action(bot: Bot, emulator: TelegramEmulator) -> None:
    first = emulator.user_sends(CHAT, "helo")
    edit = emulator.user_edits(CHAT, first["message"]["message_id"], "hello")
    assert edit["edited_message"]["text"] == "hello"
    assert "edit_date" in edit["edited_message"]
    sticker = emulator.user_sends(CHAT, sticker="👍")["message"]["sticker"]
    assert sticker["emoji"] == "👍"
    assert emulator.user_sends(CHAT, voice=b"OggS")["message"]["voice"]["mime_type"] == "audio/ogg"
    assert await bot.send_chat_action(CHAT, "typing")
    assert emulator.transcript(CHAT)["typing"] is True
    updates = await bot.get_updates()
    assert updates[1].edited_message.text == "hello"


async def test_flood_violations_are_counted(bot: Bot, emulator: TelegramEmulator) -> None:
    emulator.user_sends(CHAT, "hi")
    for n in range(3):
        await bot.send_message(CHAT, f"burst {n}")
    assert emulator.flood_violations.total == 0
    for n in range(2):
        await bot.send_message(CHAT, f"over {n}")
    assert emulator.flood_violations.per_chat[CHAT] == 2
    assert emulator.flood_violations.overall == 0


class _Receiver:
    """A webhook endpoint that fails its first ``failures`` calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[tuple[str | None, dict[str, object]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        assert request.content_type == "application/json"
        if self.failures:
            self.failures -= 1
            return web.Response(status=500)
        self.received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.Response()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[_Receiver, str]]:
    target = _Receiver(failures=1)
    app = web.Application()
    app.router.add_post("/telegram/webhook", target.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield target, f"http://127.0.0.1:{runner.addresses[0][1]}/telegram/webhook"
    await runner.cleanup()


async def test_webhook_delivery_retries_in_order_with_secret(
    bot: Bot, emulator: TelegramEmulator, receiver: tuple[_Receiver, str]
) -> None:
    target, url = receiver
    emulator.user_sends(CHAT, "before webhook")
    assert await bot.set_webhook(url, secret_token="s3cret-token")
    emulator.user_sends(CHAT, "after webhook")
    emulator.user_sends(CHAT + 1, "other chat")
    await emulator.wait_for(lambda: len(target.received) == 3)
    texts = [(secret, body["message"]["text"]) for secret, body in target.received]  # type: ignore[index]
    assert [t for t in texts if "webhook" in t[1]] == [
        ("s3cret-token", "before webhook"),
        ("s3cret-token", "after webhook"),
    ]
    assert [attempt.status for attempt in emulator.webhook_attempts].count(500) == 1
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == (url, 0)
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == ()


async def test_invalid_secret_token_is_rejected(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="unallowed characters"):
        await bot.set_webhook("http://127.0.0.1:1/hook", secret_token="no spaces!")


async def test_wait_for_times_out(emulator: TelegramEmulator) -> None:
    with pytest.raises(TimeoutError):
        await emulator.wait_for(lambda: emulator.sent(), timeout=0.1)


@pytest.mark.parametrize(
    ("text", "parse_mode", "plain"),
    [
        (escape_markdown("Price: 1.5 (50% off) - now!", version=2), "MarkdownV2", "Price: 1.5 (50% off) - now!"),
        ("*bold* _it_ __u__ ~s~ ||sp|| `c\\`d`", "MarkdownV2", "bold it u s sp c`d"),
        ("[site](https://example.com/a\\)b) ok", "MarkdownV2", "site ok"),
        ("```py\nx = 1\n```", "MarkdownV2", "py\nx = 1\n"),
        ('<a href="https://x.y">x</a> &lt;3 &#128512;', "HTML", "x <3 😀"),
        ("a > b", "HTML", "a > b"),
        ("plain * text", None, "plain * text"),
    ],
)
def test_markup_valid(text: str, parse_mode: str | None, plain: str) -> None:
    assert plain_text(text, parse_mode) == plain


@pytest.mark.parametrize(
    ("text", "parse_mode"),
    [("a_b", "MarkdownV2"), ("[x](y", "MarkdownV2"), ("`code", "MarkdownV2"), ("<i>x</b>", "HTML"), ("<x>", "HTML")],
)
def test_markup_invalid(text: str, parse_mode: str) -> None:
    with pytest.raises(EntityParseError):
        plain_text(text, parse_mode)


async def test_chat_page_api_plays_the_customer(base_url: str, emulator: TelegramEmulator) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base_url}/") as resp:
            assert "Telegram sandbox" in await resp.text()
        form = aiohttp.FormData({"text": "Halo", "first_name": "Siti", "language_code": "id"})
        async with http.post(f"{base_url}/ui/api/chats/{CHAT}/messages", data=form) as resp:
            assert (await resp.json())["message"]["from"]["first_name"] == "Siti"
        async with http.get(f"{base_url}/ui/api/chats/{CHAT}", params={"since": "0"}) as resp:
            transcript = await resp.json()
    assert [m["text"] for m in transcript["messages"]] == ["Halo"]
    assert emulator.chats()[0]["first_name"] == "Siti"
