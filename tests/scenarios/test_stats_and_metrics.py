"""Analytics through the running bridge: first response, ``/stats``, App Home and ``GET /metrics`` (issue 6)."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from typing import Any

import aiohttp
import sqlalchemy as sa
from aiohttp.test_utils import make_mocked_request

from bridge.engine import CONVERSATION
from bridge.metrics import Metrics
from bridge.model import as_utc, utcnow
from channels.slack.stats import USAGE
from tests.support.harness import Harness
from tests.support.stats_history import seed_history

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text: str) -> tuple[dict[str, str], Samples]:
    """Prometheus text format 0.0.4: the TYPE of each family and every sample; raises on a malformed line."""
    types: dict[str, str] = {}
    samples: Samples = {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped")
            types[name] = kind
            continue
        if line.startswith("#") or not line:
            continue
        match = _SAMPLE.match(line)
        assert match is not None, f"malformed sample line: {line!r}"
        name, labels, value = match.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"sample before its TYPE line: {line!r}"
        samples[(name, frozenset(_LABEL.findall(labels or "")))] = float(value)
    return types, samples


def _labels(**pairs: str) -> frozenset[tuple[str, str]]:
    return frozenset(pairs.items())


async def _first_response(h: Harness) -> Any:
    row = await h.bridge.store.fetch_one(sa.select(CONVERSATION.c.first_response_at))
    assert row is not None
    return row.first_response_at


async def test_first_agent_reply_records_first_response_once(harness: Harness) -> None:
    async with harness.widget(name="Ana") as widget:
        await widget.say("Hello?", "c1")
        await widget.expect("status")
        root = harness.slack.channel_messages()[0]["ts"]
        await harness.slack.agent_says("// internal note first", thread_ts=root)
        assert await _first_response(harness) is None  # a note is no response
        before = utcnow()
        await harness.slack.agent_says("Hi Ana!", thread_ts=root)
        first = await _first_response(harness)
        assert first is not None and as_utc(first) >= before - timedelta(seconds=1)
        await harness.slack.agent_says("Anything else?", thread_ts=root)
        assert await _first_response(harness) == first


async def test_slash_stats_answers_ephemerally_with_the_figures(harness: Harness) -> None:
    await seed_history(harness.bridge.store, utcnow() - timedelta(days=2))
    status, body = await harness.slack.post_command("/stats", "7d")
    answer = json.loads(body)
    assert status == 200 and answer["response_type"] == "ephemeral"
    assert "5 conversations" in answer["text"]
    blocks = answer["blocks"]
    assert blocks[0]["text"]["text"] == "Support stats: the last 7 days"
    fields = [f["text"] for f in blocks[2]["fields"]]
    assert fields == [
        "*Conversations*\n5",
        "*Messages in / out*\n8 / 5",
        "*First response (median / p90)*\n3m / 4m 42s",
        "*Resolution (median / p90)*\n10m / 18m",
        "*Resolution rate*\n60% (3 resolved)",
        "*CSAT*\n4.0/5 (3)",
        "*Resolved by the bot alone*\n33%",
    ]
    by_channel, by_agent = blocks[3]["text"]["text"], blocks[4]["text"]["text"]
    assert "• Website: 3 conv · first response 1m 30s (p90 1m 54s)" in by_channel
    assert "• Telegram: 2 conv · first response 4m 30s (p90 4m 54s)" in by_channel
    assert "• <@U0AGENT1>: 2 conv" in by_agent and "CSAT 4.5/5 (2)" in by_agent
    assert "• <@U0AGENT2>: 2 conv" in by_agent

    _, body = await harness.slack.post_command("/stats", "")  # the default is 7d
    assert json.loads(body)["blocks"][2]["fields"][0]["text"] == "*Conversations*\n5"


async def test_slash_stats_with_a_bad_period_answers_the_usage_line(harness: Harness) -> None:
    for text in ("yesterdayish", "7d 30d"):
        status, body = await harness.slack.post_command("/stats", text)
        answer = json.loads(body)
        assert status == 200
        assert answer == {"response_type": "ephemeral", "text": USAGE}
    assert "`/stats [today | 7d | 30d | month]`" in USAGE


async def test_slash_stats_is_only_for_the_support_desk(harness: Harness) -> None:
    status, body = await harness.slack.post_command("/stats", "7d", user="U0OUTSIDE")
    assert status == 200
    assert json.loads(body) == {
        "response_type": "ephemeral",
        "text": "Only members of <#C0SUPPORT> can see the support stats.",
    }


async def test_app_home_shows_the_last_30_days(harness: Harness) -> None:
    await seed_history(harness.bridge.store, utcnow() - timedelta(days=2))
    status, _ = await harness.slack.post_event(
        {"type": "app_home_opened", "user": "U0AGENT1", "channel": "D0HOME", "tab": "home"}
    )
    assert status == 200

    def homes() -> list[dict[str, Any]]:
        return [v for v in harness.slack.views.values() if v.get("type") == "home" and v["_user"] == "U0AGENT1"]

    await harness.slack.wait_for(lambda: len(homes()) == 1)  # published after Slack got its 2xx
    texts = json.dumps(homes()[0]["blocks"], ensure_ascii=False)
    assert "Support stats: the last 30 days" in texts
    assert "*Conversations*\\n6" in texts  # the 30 days include the older seeded conversation
    assert "New conversations per day" in texts


async def _scrape(h: Harness) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(h.url("/metrics")) as resp:
        return resp.status, resp.headers["Content-Type"], await resp.text()


async def test_metrics_after_a_widget_message_is_delivered(harness: Harness) -> None:
    async with harness.widget(name="Ana") as widget:
        await widget.say("Where is my order?", "c1")
        await widget.expect("status")
    sent = ("switchboard_deliveries_total", _labels(channel="slack", status="sent"))
    async with asyncio.timeout(10):
        while True:  # the delivery row is marked sent just after Slack has the message
            status, content_type, text = await _scrape(harness)
            types, samples = parse_exposition(text)
            if samples.get(sent):
                break
            await asyncio.sleep(0.05)
    assert status == 200 and content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert types == {
        "switchboard_messages_total": "counter",
        "switchboard_deliveries_total": "counter",
        "switchboard_delivery_seconds": "histogram",
        "switchboard_queue_length": "gauge",
        "switchboard_open_conversations": "gauge",
    }
    assert samples[("switchboard_messages_total", _labels(direction="in", channel="web"))] == 1
    assert samples[sent] == 1
    assert samples[("switchboard_queue_length", frozenset())] == 0
    assert samples[("switchboard_open_conversations", frozenset())] == 1
    buckets = sorted(
        (float(dict(labels)["le"]), value)
        for (name, labels), value in samples.items()
        if name == "switchboard_delivery_seconds_bucket" and dict(labels)["channel"] == "slack"
    )
    assert buckets[-1] == (float("inf"), 1)
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative
    assert samples[("switchboard_delivery_seconds_count", _labels(channel="slack"))] == 1
    assert 0 <= samples[("switchboard_delivery_seconds_sum", _labels(channel="slack"))] < 10


class _BrokenStore:
    def on_commit(self, _listener: Any) -> None: ...

    async def fetch_all(self, _statement: Any) -> Any:
        raise ConnectionResetError("database went away")


class _Outbox:
    def on_sent(self, _listener: Any) -> None: ...


async def test_metrics_answer_503_with_a_reason_when_the_store_fails() -> None:
    metrics = Metrics(_BrokenStore(), _Outbox())  # type: ignore[arg-type]
    response = await metrics.handle(make_mocked_request("GET", "/metrics"))
    assert response.status == 503
    assert response.text == "metrics unavailable: ConnectionResetError\n"
