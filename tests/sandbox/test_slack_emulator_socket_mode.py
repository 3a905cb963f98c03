"""The Slack emulator's Socket Mode, driven by slack_sdk's own aiohttp ``SocketModeClient`` and by bolt's handler.

What a Socket Mode app sees must be what Slack sends (protocol-facts S7): ``apps.connections.open`` with the app
token in the header, ``hello``, envelopes with their ``retry_attempt`` / ``retry_reason``, pongs echoing pings,
acks whose payload answers like an HTTP body, and ``disconnect`` making the client reconnect.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from bridge.sandbox.slack import SlackEmulator
from bridge.sandbox.slack_socket_mode import APP_TOKEN

SECRET = "test-signing-secret"
BUTTON = [
    {
        "type": "actions",
        "block_id": "card",
        "elements": [{"type": "button", "action_id": "claim", "text": {"type": "plain_text", "text": "Claim"}}],
    }
]

Answer = Callable[[SocketModeRequest], dict[str, Any] | None]  # an ack's payload


@dataclass
class App:
    """A Socket Mode app: what it received, and how it acks."""

    client: SocketModeClient
    messages: list[dict[str, Any]] = field(default_factory=list)  # every message, hello included
    requests: list[SocketModeRequest] = field(default_factory=list)


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(signing_secret=SECRET)
    emu.retry_delays, emu.ack_timeout = (0.0, 0.05, 0.05), 0.3
    await emu.start()
    yield emu
    await emu.drain()
    await emu.stop()


@pytest.fixture
def web(emulator: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=emulator.bot_token, base_url=emulator.api_url)


@asynccontextmanager
async def socket_app(
    emulator: SlackEmulator, answer: Answer = lambda _req: None, *, acks: bool = True
) -> AsyncIterator[App]:
    """slack_sdk's aiohttp SocketModeClient, connected to the emulator; it acks each envelope with ``answer``'s
    payload, or sends no ack at all (``acks=False``)."""
    client = SocketModeClient(app_token=APP_TOKEN, web_client=AsyncWebClient(base_url=emulator.api_url))
    app = App(client)

    async def on_message(_client: AsyncBaseSocketModeClient, message: dict[str, Any], _raw: str | None) -> None:
        app.messages.append(message)

    async def on_request(_client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        app.requests.append(req)
        if acks:
            response = SocketModeResponse(envelope_id=req.envelope_id, payload=answer(req))
            await client.send_socket_mode_response(response)

    client.message_listeners.append(on_message)
    client.socket_mode_request_listeners.append(on_request)
    await client.connect()
    try:
        await emulator.wait_for(lambda: any(m.get("type") == "hello" for m in app.messages))
        yield app
    finally:
        await client.close()


async def _open(emulator: SlackEmulator, headers: dict[str, str], **params: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(emulator.api_url + "apps.connections.open", headers=headers, data=params) as resp,
    ):
        assert resp.status == 200
        return dict(await resp.json())


async def test_apps_connections_open_takes_the_app_token_in_the_header_only(emulator: SlackEmulator) -> None:
    opened = await AsyncWebClient(base_url=emulator.api_url).apps_connections_open(app_token=APP_TOKEN)
    assert opened["ok"] is True
    url = str(opened["url"])
    assert url.startswith(f"ws://127.0.0.1:{emulator.base_url.rsplit(':', 1)[1]}/link/?ticket=") and "&app_id=" in url

    bearer = {"Authorization": f"Bearer {APP_TOKEN}"}
    assert (await _open(emulator, {}, token=APP_TOKEN))["error"] == "not_authed"  # a POST param does not count
    assert (await _open(emulator, {"Authorization": "Bearer xapp-1-revoked"}))["error"] == "invalid_auth"
    bot = {"Authorization": f"Bearer {emulator.bot_token}"}
    assert (await _open(emulator, bot))["error"] == "not_allowed_token_type"
    assert (await _open(emulator, bearer))["ok"] is True
    with pytest.raises(SlackApiError, match="invalid_auth"):  # and the app token opens nothing else
        await AsyncWebClient(token=APP_TOKEN, base_url=emulator.api_url).auth_test()


async def test_a_link_url_is_single_use(emulator: SlackEmulator) -> None:
    opened = await AsyncWebClient(base_url=emulator.api_url).apps_connections_open(app_token=APP_TOKEN)
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(str(opened["url"])) as ws:
            hello = json.loads((await ws.receive()).data)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(str(opened["url"]))
    assert refused.value.status == 401
    assert hello == {
        "type": "hello",
        "num_connections": 1,
        "debug_info": {"host": "applink-sandbox", "build_number": 1, "approximate_connection_time": 18060},
        "connection_info": {"app_id": "A0SANDBOX"},
    }


async def test_an_event_arrives_as_an_envelope_and_the_ack_ends_its_delivery(emulator: SlackEmulator) -> None:
    async with socket_app(emulator) as app:
        event = await emulator.agent_says("hello", thread_ts=await _root(emulator))
        await emulator.wait_for(lambda: len(app.requests) == 1)

    [req] = app.requests
    assert (req.type, req.accepts_response_payload, req.retry_attempt, req.retry_reason) == ("events_api", False, 0, "")
    assert req.payload["type"] == "event_callback" and req.payload["event"]["ts"] == event["ts"]
    assert [(d.kind, d.status, d.retry_num) for d in emulator.deliveries if d.event_id == req.payload["event_id"]] == [
        ("event", 200, 0)
    ]
    assert emulator.socket_mode.acks == [{"envelope_id": req.envelope_id}]


async def test_an_envelope_not_acked_is_redelivered_three_times_with_the_same_event_id(
    emulator: SlackEmulator,
) -> None:
    async with socket_app(emulator, acks=False) as app:
        await emulator.agent_says("are you there?", thread_ts=await _root(emulator))
        await emulator.wait_for(lambda: len(app.requests) == 4)
        await asyncio.sleep(emulator.ack_timeout + 0.1)  # and no fifth

    assert len(app.requests) == 4
    assert [(r.retry_attempt, r.retry_reason) for r in app.requests] == [
        (0, ""),
        (1, "timeout"),
        (2, "timeout"),
        (3, "timeout"),
    ]
    assert len({r.payload["event_id"] for r in app.requests}) == 1
    assert len({r.envelope_id for r in app.requests}) == 4


async def test_pongs_echo_the_pings_payload(emulator: SlackEmulator) -> None:
    """slack_sdk pings with ``sdk-ping-pong:<time>`` as it connects and reconnects when pongs do not echo it."""
    opened = await AsyncWebClient(base_url=emulator.api_url).apps_connections_open(app_token=APP_TOKEN)
    async with aiohttp.ClientSession() as session, session.ws_connect(str(opened["url"]), autoping=False) as ws:
        await ws.receive()  # hello
        await ws.ping(b"sdk-ping-pong:1700000000.25")
        pong = await ws.receive(timeout=1.0)
    assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, b"sdk-ping-pong:1700000000.25")

    async with socket_app(emulator) as app:  # its first ping's pong, long before its monitor's first round (5 s)
        await emulator.wait_for(lambda: app.client.last_ping_pong_time is not None, timeout=1.0)


async def test_disconnect_refresh_requested_makes_the_client_reconnect(emulator: SlackEmulator) -> None:
    async with socket_app(emulator) as app:
        await emulator.socket_mode.disconnect()
        await emulator.wait_for(lambda: emulator.socket_mode.connections_opened == 2)
        await emulator.wait_for(lambda: sum(m.get("type") == "hello" for m in app.messages) == 2)
        await emulator.agent_says("after the refresh", thread_ts=await _root(emulator))
        await emulator.wait_for(lambda: len(app.requests) == 1)

    assert len(emulator.calls_to("apps.connections.open")) == 2
    await emulator.wait_for(lambda: emulator.socket_mode.connected == 0)  # the client closed the old one itself


async def test_with_no_socket_open_an_event_waits_for_the_next_connection(emulator: SlackEmulator) -> None:
    await AsyncWebClient(base_url=emulator.api_url).apps_connections_open(app_token=APP_TOKEN)  # a Socket Mode app
    emulator.retry_delays = (0.3, 1.0, 1.0)
    delivering = asyncio.ensure_future(emulator.agent_says("while away", thread_ts=await _root(emulator)))
    await emulator.wait_for(lambda: len(emulator.deliveries) == 1)
    assert emulator.deliveries[0].status is None  # the first attempt found no socket (connection_failed)
    async with socket_app(emulator) as app:
        await delivering
        [req] = app.requests
    assert req.retry_attempt >= 1 and req.payload["event"]["text"] == "while away"


async def test_a_slash_commands_ack_payload_is_its_answer(emulator: SlackEmulator) -> None:
    def answer(req: SocketModeRequest) -> dict[str, Any]:
        return {"response_type": "ephemeral", "text": f"you said {req.payload['text']}"}

    async with socket_app(emulator, answer) as app:
        status, body = await emulator.post_command("/stats", "7d")

    [req] = app.requests
    assert (req.type, req.accepts_response_payload) == ("slash_commands", True)
    assert req.payload["command"] == "/stats" and req.payload["response_url"].startswith(emulator.base_url)
    assert (status, json.loads(body)) == (200, {"response_type": "ephemeral", "text": "you said 7d"})
    assert [e["text"] for e in emulator.ephemerals] == ["you said 7d"]


async def test_a_command_nobody_acks_fails_like_slack_says(emulator: SlackEmulator) -> None:
    async with socket_app(emulator, acks=False):
        status, _ = await emulator.post_command("/stats", "7d")
    assert status == 504
    assert [e["text"] for e in emulator.ephemerals] == ['/stats failed with the error "dispatch_failed"']


async def test_with_bolt_a_modal_answered_with_errors_stays_open(emulator: SlackEmulator, web: AsyncWebClient) -> None:
    """bolt's AsyncSocketModeHandler as the bridge runs it: a view_submission's response_action is in the ack."""
    bolt = AsyncApp(signing_secret=SECRET, client=web)

    @bolt.command("/ask")
    async def ask(ack: Callable[..., Awaitable[None]], body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        view = {
            "type": "modal",
            "callback_id": "ask",
            "title": {"type": "plain_text", "text": "Ask"},
            "submit": {"type": "plain_text", "text": "Send"},
            "blocks": [
                {
                    "type": "input",
                    "block_id": "q",
                    "label": {"type": "plain_text", "text": "Question"},
                    "element": {"type": "plain_text_input", "action_id": "q"},
                }
            ],
        }
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @bolt.view("ask")
    async def submitted(ack: Callable[..., Awaitable[None]]) -> None:
        await ack(response_action="errors", errors={"q": "Ask something"})

    async with _handler(bolt, web):
        await emulator.post_command("/ask", "", user="U0AGENT1")
        [view_id] = emulator.views
        status, body = await emulator.submit_view(view_id, {"q": {"q": ""}})

    assert status == 200 and json.loads(body) == {"response_action": "errors", "errors": {"q": "Ask something"}}
    assert not emulator.views[view_id].get("_closed")
    submission = emulator.socket_mode.envelopes[-1]
    assert submission["type"] == "interactive" and submission["accepts_response_payload"] is True


async def test_the_agent_page_works_unchanged_with_a_socket_mode_app(
    emulator: SlackEmulator, web: AsyncWebClient
) -> None:
    """The page posts to the emulator's own routes; the emulator turns them into envelopes."""
    bolt = AsyncApp(signing_secret=SECRET, client=web)
    seen: list[str] = []

    @bolt.event("message")
    async def message(event: dict[str, Any]) -> None:
        seen.append(str(event.get("text")))

    @bolt.action("claim")
    async def claim(ack: Callable[..., Awaitable[None]]) -> None:
        await ack()
        seen.append("claimed")

    root = (await web.chat_postMessage(channel=emulator.support_channel, text="card", blocks=BUTTON))["ts"]
    async with _handler(bolt, web), aiohttp.ClientSession() as session:
        reply = {"user": "U0AGENT1", "text": "from the page", "thread_ts": root}
        async with session.post(f"{emulator.base_url}/ui/reply", json=reply) as resp:
            assert (await resp.json())["ok"] is True
        action = {"user": "U0AGENT1", "message_ts": root, "action_id": "claim"}
        async with session.post(f"{emulator.base_url}/ui/action", json=action) as resp:
            assert await resp.json() == {"ok": True, "status": 200}
        await emulator.wait_for(lambda: "from the page" in seen and "claimed" in seen)
        async with session.get(f"{emulator.base_url}/ui/state") as resp:
            assert (await resp.json())["events_url"] == "the app over Socket Mode"


async def test_url_verification_is_not_a_socket_mode_thing(emulator: SlackEmulator) -> None:
    async with socket_app(emulator):
        with pytest.raises(RuntimeError, match="no url_verification over Socket Mode"):
            await emulator.post_url_verification()


async def _root(emulator: SlackEmulator) -> str:
    web = AsyncWebClient(token=emulator.bot_token, base_url=emulator.api_url)
    emulator.echo_bot_messages = False  # the app under test should see only what the test makes agents do
    return str((await web.chat_postMessage(channel=emulator.support_channel, text="root"))["ts"])


@asynccontextmanager
async def _handler(bolt: AsyncApp, web: AsyncWebClient) -> AsyncIterator[AsyncSocketModeHandler]:
    handler = AsyncSocketModeHandler(bolt, APP_TOKEN, web_client=web)
    await handler.connect_async()
    try:
        yield handler
    finally:
        await handler.close_async()
