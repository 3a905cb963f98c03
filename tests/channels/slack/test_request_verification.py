"""Only genuine, fresh Slack requests reach the bridge: everything else is a 4xx with a reason, nothing stored."""

from __future__ import annotations

import hashlib
import hmac
import time

import aiohttp
import orjson
import pytest
import sqlalchemy as sa
from slack_sdk.signature import SignatureVerifier

from bridge.engine import MESSAGE
from tests.support.harness import SIGNING_SECRET, Harness


def _reply_body(harness: Harness, thread_ts: str, text: str, event_id: str = "Ev0001") -> str:
    event = {
        "type": "message",
        "channel": "C0SUPPORT",
        "user": "U0AGENT1",
        "text": text,
        "ts": "1763900100.000100",
        "thread_ts": thread_ts,
        "event_ts": "1763900100.000100",
        "channel_type": "channel",
    }
    envelope = {"token": "x", "team_id": "T0SANDBOX", "api_app_id": "A0", "type": "event_callback"}
    return orjson.dumps({**envelope, "event_id": event_id, "event_time": 1763900100, "event": event}).decode()


async def _post(harness: Harness, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            harness.url("/slack/events"), data=body, headers={"Content-Type": "application/json", **headers}
        ) as response:
            return response.status, await response.text()


def _signed(body: bytes, timestamp: int) -> dict[str, str]:
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=str(timestamp), body=body)
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature}


async def _open_thread(harness: Harness) -> str:
    async with harness.widget(name="Ivy") as widget:
        await widget.say("hello", "c1")
        await widget.expect("status")
    return str(harness.slack.channel_messages()[0]["ts"])


async def _agent_rows(harness: Harness) -> int:
    return len(await harness.bridge.store.fetch_all(sa.select(MESSAGE.c.id).where(MESSAGE.c.author_kind == "agent")))


@pytest.mark.parametrize("skew", [-299, 299])
async def test_signed_reply_within_five_minutes_is_stored(harness: Harness, skew: int) -> None:
    body = _reply_body(harness, await _open_thread(harness), "fresh").encode()
    status, _ = await _post(harness, body, _signed(body, int(time.time()) + skew))
    assert status == 200
    assert await _agent_rows(harness) == 1


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param("skew+301", id="timestamp-301s-ahead"),
        pytest.param("skew-301", id="timestamp-301s-old"),
        pytest.param("flipped", id="one-hex-digit-flipped"),
        pytest.param({}, id="no-headers"),
        pytest.param({"X-Slack-Request-Timestamp": "", "X-Slack-Signature": ""}, id="empty"),
        pytest.param({"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"}, id="abc"),
        pytest.param({"X-Slack-Request-Timestamp": "1e30", "X-Slack-Signature": "v0=00"}, id="1e30"),
        pytest.param({"X-Slack-Request-Timestamp": "-5", "X-Slack-Signature": "v0=00"}, id="negative"),
        pytest.param({"X-Slack-Request-Timestamp": "1" * 10_000, "X-Slack-Signature": "v0=00"}, id="10kB"),
    ],
)
async def test_unsigned_stale_or_forged_requests_get_401_and_store_nothing(
    harness: Harness, headers: dict[str, str] | str
) -> None:
    body = _reply_body(harness, await _open_thread(harness), "forged").encode()
    now = int(time.time())
    if headers == "skew+301":
        headers = _signed(body, now + 301)
    elif headers == "skew-301":
        headers = _signed(body, now - 301)
    elif headers == "flipped":
        headers = _signed(body, now)
        last = headers["X-Slack-Signature"][-1]
        headers["X-Slack-Signature"] = headers["X-Slack-Signature"][:-1] + ("0" if last != "0" else "1")
    assert isinstance(headers, dict)
    status, text = await _post(harness, body, headers)
    # aiohttp's HTTP parser itself refuses a header over 8 KB with 400, before any handler runs
    assert status == (400 if len(headers.get("X-Slack-Request-Timestamp", "")) > 8000 else 401), text
    assert await _agent_rows(harness) == 0


async def test_signature_covers_the_raw_bytes(harness: Harness) -> None:
    """A body re-serialised after signing (here: a trailing newline) no longer verifies."""
    body = _reply_body(harness, await _open_thread(harness), "raw").encode()
    headers = _signed(body, int(time.time()))
    status, _ = await _post(harness, body + b"\n", headers)
    assert status == 401
    assert await _agent_rows(harness) == 0


async def test_invalid_utf8_body_is_a_4xx_not_a_crash(harness: Harness) -> None:
    body = b'{"type":"event_callback","event":{"type":"message","text":"\xff\xfe"}}'
    now = int(time.time())
    # slack_sdk cannot sign bytes that are not UTF-8, so sign the raw bytes the way Slack's scheme defines it
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:%d:" % now + body, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": f"v0={digest}"}
    status, _ = await _post(harness, body, headers)
    assert 400 <= status < 500


async def test_unknown_event_type_is_a_404_with_a_reason(harness: Harness) -> None:
    body = (
        b'{"token":"x","team_id":"T0SANDBOX","api_app_id":"A0","type":"event_callback","event_id":"Ev9",'
        b'"event_time":1763900100,"event":{"type":"pin_added","user":"U0AGENT1","event_ts":"1.2"}}'
    )
    status, text = await _post(harness, body, _signed(body, int(time.time())))
    assert status == 404 and "unhandled" in text
    assert await _agent_rows(harness) == 0
