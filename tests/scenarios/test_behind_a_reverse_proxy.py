"""Behind the operator's reverse proxy (SWITCHBOARD_TRUSTED_PROXIES), the per-address limits count each visitor's
own address from X-Forwarded-For; from any other peer the header is ignored, so a client cannot pick its address."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest

from bridge.abuse import NEW_CONVERSATIONS_PER_IP
from bridge.config import ConfigError, Settings
from tests.support.harness import Harness, Widget, running_bridge, running_slack

PROXY = "127.0.0.1"  # the test client plays the proxy: its connections come from here


@pytest.fixture
async def proxied(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(
            db_url,
            tmp_path,
            slack,
            slack_server,
            new_conversations_per_ip=NEW_CONVERSATIONS_PER_IP,
            trusted_proxies=(f"{PROXY}/32",),
        ) as h,
    ):
        yield h


async def _open(stack: AsyncExitStack, h: Harness, forwarded_for: str | None) -> aiohttp.ClientWebSocketResponse | int:
    """A widget socket through the 'proxy' with this X-Forwarded-For; the status when the upgrade is refused."""
    session = await stack.enter_async_context(aiohttp.ClientSession())
    headers = {"Origin": h.origin, **({"X-Forwarded-For": forwarded_for} if forwarded_for else {})}
    try:
        return await stack.enter_async_context(session.ws_connect(h.url("/widget/ws"), headers=headers))
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status


async def test_visitors_behind_the_proxy_each_get_their_own_socket_limit(proxied: Harness) -> None:
    async with AsyncExitStack() as stack:
        opened = [await _open(stack, proxied, f"203.0.113.{n}, {PROXY}") for n in range(25)]
        assert all(not isinstance(ws, int) for ws in opened)  # 25 visitors, one socket each: none refused
        same = [await _open(stack, proxied, "198.51.100.7") for _ in range(21)]
        assert [ws for ws in same if isinstance(ws, int)] == [429]  # one visitor's 21st socket


async def test_without_trusted_proxies_the_header_is_ignored(harness: Harness) -> None:
    async with AsyncExitStack() as stack:
        opened = [await _open(stack, harness, f"203.0.113.{n}") for n in range(21)]
        assert [ws for ws in opened if isinstance(ws, int)] == [429]  # all from 127.0.0.1, whatever they claim


async def test_new_conversations_are_counted_per_visitor_behind_the_proxy(proxied: Harness) -> None:
    async def first_message(forwarded_for: str, client_id: str) -> dict[str, object]:
        async with AsyncExitStack() as stack:
            ws = await _open(stack, proxied, forwarded_for)
            assert not isinstance(ws, int)
            widget = Widget(ws)
            await widget.send({"type": "hello", "session": None, "last_seen": 0, "name": client_id})
            await widget.expect("welcome")
            await widget.send({"type": "message", "client_id": client_id, "text": "hello"})
            return await widget.expect_any()

    for n in range(NEW_CONVERSATIONS_PER_IP):
        assert (await first_message("192.0.2.10", f"a{n}"))["type"] == "ack"
    refused = await first_message("192.0.2.10", "a-last")
    assert refused["type"] == "error" and refused["code"] == "rate_limited"
    # A spoofed left-most hop does not help: the proxy appended the real address, which is counted.
    assert (await first_message("10.9.9.9, 192.0.2.10", "spoofed"))["type"] == "error"
    assert (await first_message("192.0.2.11", "other"))["type"] == "ack"  # another visitor behind the same proxy


def test_trusted_proxies_is_a_setting() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_SUPPORT_CHANNEL": "C0SUPPORT"}
    assert Settings.load(env).trusted_proxies == ()
    loaded = Settings.load({**env, "SWITCHBOARD_TRUSTED_PROXIES": "10.0.0.5, 10.1.0.0/16,::1"}).trusted_proxies
    assert [str(network) for network in loaded] == ["10.0.0.5/32", "10.1.0.0/16", "::1/128"]
    with pytest.raises(ConfigError) as refused:
        Settings.load({**env, "SWITCHBOARD_TRUSTED_PROXIES": "10.0.0.5, proxy.internal"})
    assert any(
        "SWITCHBOARD_TRUSTED_PROXIES" in problem and "proxy.internal" in problem for problem in refused.value.problems
    )
