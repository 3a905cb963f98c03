"""The bugs the atheris targets (``fuzz/``, reliability target F23) found, each driven through the real endpoint.

Before their fixes: a Slack signature or a Telegram secret token with non-UTF-8 bytes answered 500 (the parser
passes them on as lone surrogates, which ``compare_digest`` and ``str.encode`` refuse); a Slack body declared in
an unknown charset or in ``unicode_escape`` answered 500; Telegram updates of shapes Telegram never sends answered
500 (so Telegram would deliver them again and again); 10,000 ``&`` from a visitor made a 50,000-character Slack
post (``msg_too_long``: the agents never saw the message); an agent's 40,000 characters of ``<@U1|`` took 2 s of
the event loop; an announcement dated ``9999-12-31T23:59-05:00`` failed to render.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest
import sqlalchemy as sa

from bridge.engine import MESSAGE
from channels.slack.translate import from_mrkdwn
from tests.support.harness import SIGNING_SECRET, TELEGRAM_SECRET, Harness, running_telegram_bridge

SLACK_LIMIT = 40_000  # chat.postMessage: msg_too_long above it
_SECRET_HEADER = b"X-Telegram-Bot-Api-Secret-Token"
_SECRET = (_SECRET_HEADER, TELEGRAM_SECRET.encode())


@pytest.fixture
async def telegram_bridge(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_telegram_bridge(db_url, tmp_path, "webhook") as h:
        yield h


async def _post(url: str, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    """POST with header bytes as given (a client library would refuse or re-encode them); returns the status."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        head = [b"POST %s HTTP/1.1" % parts.path.encode(), b"Host: x", b"Content-Length: %d" % len(body)]
        head += [b"Connection: close", *(name + b": " + value for name, value in headers)]
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        return int((await reader.readline()).split()[1])
    finally:
        writer.close()


def _signed(body: bytes, timestamp: int | None = None) -> list[tuple[bytes, bytes]]:
    stamp = b"%d" % (timestamp or int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + stamp + b":" + body, hashlib.sha256).hexdigest()
    return [(b"X-Slack-Request-Timestamp", stamp), (b"X-Slack-Signature", b"v0=" + digest.encode())]


async def _open_thread(h: Harness) -> str:
    async with h.widget(name="Ivy") as widget:
        await widget.say("hello", "c1")
        await widget.expect("status")
    await h.slack.wait_for(lambda: bool(h.slack.channel_messages()))
    return str(h.slack.channel_messages()[0]["ts"])


async def _texts(h: Harness, author_kind: str) -> list[str]:
    rows = await h.bridge.store.fetch_all(sa.select(MESSAGE.c.text).where(MESSAGE.c.author_kind == author_kind))
    return [str(row.text) for row in rows]


async def test_a_slack_signature_that_is_not_ascii_gets_401(harness: Harness) -> None:
    body = b'{"type": "event_callback"}'
    [timestamp, _] = _signed(body)
    forged = [timestamp, (b"X-Slack-Signature", b"v0=\xc3\xa9\xff"), (b"Content-Type", b"application/json")]
    assert await _post(harness.url("/slack/events"), forged, body) == 401


@pytest.mark.parametrize("charset", ["nope", "unicode_escape"])
async def test_a_signed_slack_body_in_an_odd_charset_is_read_as_the_utf8_slack_sends(
    harness: Harness, charset: str
) -> None:
    thread = await _open_thread(harness)
    event = {"type": "message", "channel": "C0SUPPORT", "user": "U0AGENT1", "text": "TEXT", "channel_type": "channel"}
    event |= {"ts": "1763900100.000200", "thread_ts": thread, "event_ts": "1763900100.000200"}
    envelope = {"token": "x", "team_id": "T0SANDBOX", "api_app_id": "A0", "type": "event_callback", "event": event}
    envelope |= {"event_id": "Ev0001", "event_time": 1763900100}
    body = orjson.dumps(envelope).replace(b"TEXT", b"caf\\u00e9 \\ud83d\\ude00")  # escapes, as Slack writes them
    headers = [*_signed(body), (b"Content-Type", b"application/json; charset=" + charset.encode())]

    assert await _post(harness.url("/slack/events"), headers, body) == 200
    assert await _texts(harness, "agent") == ["café 😀"]


async def test_a_telegram_secret_token_that_is_not_utf8_gets_403(telegram_bridge: Harness) -> None:
    headers = [(_SECRET_HEADER, b"\xff\xfe"), (b"Content-Type", b"application/json")]
    assert await _post(telegram_bridge.url("/telegram/webhook"), headers, b'{"update_id": 1}') == 403


_CHAT = {"id": 4242, "type": "private", "first_name": "Ana"}
_MESSAGE = {"message_id": 7, "from": {"id": 4242, "is_bot": False, "first_name": "Ana"}, "chat": _CHAT, "date": 1}


@pytest.mark.parametrize(
    "update",
    [
        pytest.param({"update_id": 1, "message": {**_MESSAGE, "photo": [{"width": 1, "height": 1}]}}, id="no-file-id"),
        pytest.param({"update_id": 1, "message": {**_MESSAGE, "photo": [1, 2]}}, id="photo-sizes-not-objects"),
        pytest.param(
            {"update_id": 1, "message": {**_MESSAGE, "document": {"file_id": "d", "file_size": "big"}}}, id="size-text"
        ),
        pytest.param({"update_id": 1, "message": {**_MESSAGE, "text": "hi", "from": [1]}}, id="from-a-list"),
        pytest.param(
            {"update_id": 1, "my_chat_member": {"chat": _CHAT, "new_chat_member": ["kicked"]}}, id="member-a-list"
        ),
    ],
)
async def test_a_telegram_update_of_a_shape_telegram_never_sends_is_acknowledged_and_stores_nothing(
    telegram_bridge: Harness, update: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram sends a chat's updates one at a time: a 4xx would hold the chat's next message for up to 23 h."""
    url, secret = (
        telegram_bridge.url("/telegram/webhook"),
        (_SECRET_HEADER, TELEGRAM_SECRET.encode()),
    )
    assert await _post(url, [secret], orjson.dumps(update)) == 200
    assert await _texts(telegram_bridge, "customer") == []
    [refused] = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refused.startswith("telegram: update 1 refused, nothing stored: malformed update: ")

    fine = {"update_id": 2, "message": {**_MESSAGE, "text": "still here"}}
    assert await _post(url, [secret], orjson.dumps(fine)) == 200
    assert await _texts(telegram_bridge, "customer") == ["still here"]


@pytest.mark.parametrize(
    "update",
    [
        pytest.param({"update_id": [1], "message": {**_MESSAGE, "text": "hi"}}, id="update-id-a-list"),
        pytest.param({"message": {**_MESSAGE, "text": "hi"}}, id="no-update-id"),
    ],
)
async def test_a_body_that_is_no_telegram_update_gets_400_and_stores_nothing(
    telegram_bridge: Harness, update: dict[str, object]
) -> None:
    """Without an update id it is no update Telegram sent, nor one of a chat's queue: a 400 with the reason."""
    secret = (_SECRET_HEADER, TELEGRAM_SECRET.encode())
    assert await _post(telegram_bridge.url("/telegram/webhook"), [secret], orjson.dumps(update)) == 400
    assert await _texts(telegram_bridge, "customer") == []


async def test_a_button_press_python_telegram_bot_cannot_read_is_acknowledged_and_stores_nothing(
    telegram_bridge: Harness,
) -> None:
    """PTB raised TypeError on a callback query without ``from``; the route answered 500 to every redelivery."""
    press = {"update_id": 3, "callback_query": {"id": "q1", "data": "ch:1:yes", "message": _MESSAGE}}
    secret = (_SECRET_HEADER, TELEGRAM_SECRET.encode())
    assert await _post(telegram_bridge.url("/telegram/webhook"), [secret], orjson.dumps(press)) == 200
    assert await _texts(telegram_bridge, "customer") == []


async def test_a_button_press_without_data_is_acknowledged_and_stores_nothing(telegram_bridge: Harness) -> None:
    """PTB's pattern handler matches a query without ``data`` (True, not a match): ``_pressed`` raised, 500."""
    press = {"update_id": 4, "callback_query": {"id": "q2", "from": _MESSAGE["from"], "chat_instance": "ci"}}
    press["callback_query"]["message"] = _MESSAGE  # type: ignore[index]
    assert await _post(telegram_bridge.url("/telegram/webhook"), [_SECRET], orjson.dumps(press)) == 200
    assert await _texts(telegram_bridge, "customer") == []


async def test_ten_thousand_ampersands_from_a_visitor_reach_the_thread_whole(harness: Harness) -> None:
    """Escaped, 10,000 "&" are 50,000 characters: one post was refused (msg_too_long) and the agents saw nothing."""
    text = "&" * 10_000
    async with harness.widget(name="Ivy") as widget:
        await widget.say("hello", "c1")
        await harness.slack.wait_for(lambda: bool(harness.slack.channel_messages()))
        thread = str(harness.slack.channel_messages()[0]["ts"])
        await widget.say(text, "c2")
        await harness.slack.wait_for(lambda: len(harness.slack.thread(thread)) >= 3)
    posts = [m["text"] for m in harness.slack.thread(thread)[1:] if "&amp;" in m["text"]]
    assert all(len(post) <= SLACK_LIMIT for post in posts)
    assert from_mrkdwn("".join(posts)) == text


def test_an_unclosed_mention_flood_translates_in_linear_time() -> None:
    """40,000 characters of ``<@U1|`` (an agent's message at Slack's limit) took 2 s: each "<" scanned to the end."""
    flood = "<@U1|" * 8_000
    started = time.perf_counter()
    assert from_mrkdwn(flood) == flood
    assert time.perf_counter() - started < 0.25


async def test_an_announcement_dated_past_the_last_utc_datetime_is_sent_as_typed(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Sam", locale="en") as sam:
        await sam.say("Hello", "c1")
        await h.slack.wait_for(lambda: len(h.slack.channel_messages()) == 1)
        await h.slack.post_command("/announce", "maintenance date=9999-12-31T23:59-05:00")
        [view] = [v for v in h.slack.views.values() if v.get("callback_id") == "announce"]

        await h.slack.submit_view(view["id"], {})

        while (frame := await sam.expect("message"))["message"]["text"] == "Hello":
            pass
        assert str(frame["message"]["text"]).startswith("Scheduled maintenance on 9999-12-31T23:59-05:00:")
