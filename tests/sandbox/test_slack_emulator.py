"""Tests for the loopback Slack emulator, driven by the real slack_sdk client and a real bolt AsyncApp."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from yarl import URL

from bridge.sandbox.slack import SlackEmulator, typed_to_wire
from tests.support.bolt_server import serving_bolt

SECRET = "test-signing-secret"
TOKEN = "xoxb-sandbox"
ROOT_BLOCKS = [
    {"type": "header", "text": {"type": "plain_text", "text": "New conversation"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Ana* via Telegram"}},
    {
        "type": "actions",
        "block_id": "conv",
        "elements": [
            {"type": "button", "action_id": "claim", "text": {"type": "plain_text", "text": "Claim"}, "value": "c1"}
        ],
    },
]


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(signing_secret=SECRET)
    emu.retry_delays = (0.0, 0.05, 0.05)
    await emu.start()
    yield emu
    await emu.stop()


def api_url(emu: SlackEmulator) -> str:
    return emu.api_url


@pytest.fixture
def client(emulator: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=api_url(emulator))


@pytest.fixture
async def bolt(emulator: SlackEmulator, client: AsyncWebClient) -> AsyncIterator[AsyncApp]:
    """A real bolt AsyncApp served on loopback; the emulator's events_url points at it."""
    async with serving_bolt(emulator, SECRET, client) as app:
        yield app


async def raw_call(emu: SlackEmulator, method: str, **kwargs: Any) -> tuple[int, dict[str, Any], Any]:
    async with aiohttp.ClientSession() as session:
        verb = kwargs.pop("verb", "POST")
        async with session.request(verb, api_url(emu) + method, **kwargs) as resp:
            return resp.status, await resp.json(), resp.headers


# ---------------------------------------------------------------- Web API


async def test_auth_test_matches_bolt_expectations(client: AsyncWebClient) -> None:
    resp = await client.auth_test()
    assert resp["user_id"] == "U0BOT"
    assert resp["bot_id"] == "B0BOT"
    assert resp["team_id"] == "T0SANDBOX"
    assert resp["is_enterprise_install"] is False


@pytest.mark.parametrize(
    ("headers", "error"), [({}, "not_authed"), ({"Authorization": "Bearer xoxb-no"}, "invalid_auth")]
)
async def test_bad_token_is_rejected(emulator: SlackEmulator, headers: dict[str, str], error: str) -> None:
    status, body, _ = await raw_call(
        emulator, "chat.postMessage", json={"channel": "C0SUPPORT", "text": "x"}, headers=headers
    )
    assert (status, body) == (200, {"ok": False, "error": error})
    assert emulator.channel_messages() == []


async def test_accepts_json_form_and_query_params(emulator: SlackEmulator) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    await raw_call(emulator, "chat.postMessage", json={"channel": "C0SUPPORT", "text": "json"}, headers=auth)
    form = {"channel": "C0SUPPORT", "text": "form", "blocks": json.dumps(ROOT_BLOCKS)}
    await raw_call(emulator, "chat.postMessage", data=form, headers=auth)
    await raw_call(emulator, "chat.postMessage", params={"channel": "C0SUPPORT", "text": "query"}, headers=auth)
    status, body, headers = await raw_call(emulator, "nope.nothing", headers=auth, verb="GET")
    assert [m["text"] for m in emulator.channel_messages()] == ["json", "form", "query"]
    assert emulator.calls_to("chat.postMessage")[1].params["blocks"] == json.dumps(ROOT_BLOCKS)
    assert emulator.channel_messages()[1]["blocks"] == ROOT_BLOCKS
    assert (status, body) == (200, {"ok": False, "error": "unknown_method"})
    assert headers["Content-Type"].startswith("application/json")


async def test_thread_round_trip(emulator: SlackEmulator, client: AsyncWebClient) -> None:
    root = await client.chat_postMessage(channel="C0SUPPORT", text="New conversation", blocks=ROOT_BLOCKS)
    reply = await client.chat_postMessage(channel="C0SUPPORT", text="hello <b>", thread_ts=root["ts"])
    assert float(reply["ts"]) > float(root["ts"])
    assert reply["message"]["user"] == "U0BOT" and reply["message"]["bot_id"] == "B0BOT"
    replies = await client.conversations_replies(channel="C0SUPPORT", ts=root["ts"])
    assert [m["ts"] for m in replies["messages"]] == [root["ts"], reply["ts"]]
    assert replies["messages"][0]["reply_count"] == 1 and replies["has_more"] is False
    assert replies["messages"][1]["thread_ts"] == root["ts"]
    assert emulator.channel_messages()[0]["blocks"] == ROOT_BLOCKS
    assert [m["text"] for m in emulator.thread(root["ts"])] == ["hello <b>"]
    assert emulator.calls_to("chat.postMessage")[0].params["blocks"] == ROOT_BLOCKS


async def test_channel_name_resolves_to_id(client: AsyncWebClient) -> None:
    resp = await client.chat_postMessage(channel="#support", text="by name")
    assert resp["channel"] == "C0SUPPORT"


async def test_unknown_channel_and_thread(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="C0NOPE", text="x")
    assert exc.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="C0SUPPORT", text="x", thread_ts="1.000001")
    assert exc.value.response["error"] == "thread_not_found"


async def test_invalid_blocks_are_refused(client: AsyncWebClient) -> None:
    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="C0SUPPORT", text="x", blocks=too_long)
    assert exc.value.response["error"] == "invalid_blocks"


async def test_rate_limit_surfaces_as_429_with_retry_after(emulator: SlackEmulator, client: AsyncWebClient) -> None:
    emulator.fail_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="C0SUPPORT", text="x")
    assert exc.value.response.status_code == 429
    assert exc.value.response.headers["Retry-After"] == "7"
    assert exc.value.response["error"] == "ratelimited"
    assert (await client.chat_postMessage(channel="C0SUPPORT", text="x"))["ok"]
    assert len(emulator.channel_messages()) == 1


async def test_fail_next_with_error(emulator: SlackEmulator, client: AsyncWebClient) -> None:
    emulator.fail_next("chat.update", count=2, error="cant_update_message")
    for _ in range(2):
        with pytest.raises(SlackApiError) as exc:
            await client.chat_update(channel="C0SUPPORT", ts="1.1", text="x")
        assert (exc.value.response.status_code, exc.value.response["error"]) == (200, "cant_update_message")
    with pytest.raises(SlackApiError) as exc:
        await client.chat_update(channel="C0SUPPORT", ts="1.1", text="x")
    assert exc.value.response["error"] == "message_not_found"


async def test_chat_update_keeps_blocks_unless_given(emulator: SlackEmulator, client: AsyncWebClient) -> None:
    root = await client.chat_postMessage(channel="C0SUPPORT", text="v1", blocks=ROOT_BLOCKS)
    updated = await client.chat_update(channel="C0SUPPORT", ts=root["ts"], text="v2")
    assert updated["ts"] == root["ts"] and updated["text"] == "v2"
    [message] = emulator.channel_messages()
    assert message["text"] == "v2" and message["blocks"] == ROOT_BLOCKS and "edited" in message
    await client.chat_delete(channel="C0SUPPORT", ts=root["ts"])
    assert emulator.channel_messages() == []


async def test_files_upload_v2_end_to_end(emulator: SlackEmulator, client: AsyncWebClient) -> None:
    root = await client.chat_postMessage(channel="C0SUPPORT", text="root")
    resp = await client.files_upload_v2(
        channel="C0SUPPORT", thread_ts=root["ts"], filename="note.txt", content=b"hello file", initial_comment="see"
    )
    assert resp["file"]["name"] == "note.txt" and resp["file"]["size"] == 10
    [shared] = emulator.thread(root["ts"])
    assert shared["subtype"] == "file_share" and shared["text"] == "see"
    url = shared["files"][0]["url_private_download"]
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as ok:
            assert await ok.read() == b"hello file"
        async with session.get(url) as anonymous:
            assert anonymous.content_type == "text/html"


async def test_users_info_and_reactions(emulator: SlackEmulator, client: AsyncWebClient) -> None:
    user = (await client.users_info(user="U0AGENT2"))["user"]
    assert user["real_name"] == "Sam Agent" and user["profile"]["display_name"] == "Sam"
    root = await client.chat_postMessage(channel="C0SUPPORT", text="root")
    await client.reactions_add(channel="C0SUPPORT", name="eyes", timestamp=root["ts"])
    with pytest.raises(SlackApiError) as exc:
        await client.reactions_add(channel="C0SUPPORT", name="eyes", timestamp=root["ts"])
    assert exc.value.response["error"] == "already_reacted"
    assert emulator.channel_messages()[0]["reactions"] == [{"name": "eyes", "users": ["U0BOT"], "count": 1}]


def test_sign_verifies_with_slack_sdk() -> None:
    emu = SlackEmulator(signing_secret=SECRET)
    body = b'{"a":"\xc3\xa9"}'
    headers = emu.sign(body)
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid(
        body=body, timestamp=headers["X-Slack-Request-Timestamp"], signature=headers["X-Slack-Signature"]
    )
    assert not SignatureVerifier("other").is_valid(
        body=body, timestamp=headers["X-Slack-Request-Timestamp"], signature=headers["X-Slack-Signature"]
    )


# ---------------------------------------------------------------- events into a real bolt app


def collector(app: AsyncApp) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    @app.event("message")
    async def on_message(event: dict[str, Any], request: Any) -> None:
        seen.append({**event, "_retry": request.headers.get("x-slack-retry-num", [None])[0]})

    return seen


async def test_agent_reply_reaches_bolt(emulator: SlackEmulator, client: AsyncWebClient, bolt: AsyncApp) -> None:
    seen = collector(bolt)
    root = await client.chat_postMessage(channel="C0SUPPORT", text="root")
    event = await emulator.agent_says("Hi & <b>see https://x.example/a?b=1.</b>", thread_ts=root["ts"], user="U0AGENT2")
    await emulator.wait_for(lambda: len(seen) == 1)
    got = seen[0]
    assert got["text"] == "Hi &amp; &lt;b&gt;see <https://x.example/a?b=1>.&lt;/b&gt;"
    assert got["blocks"][0]["elements"][0]["elements"][0]["text"] == "Hi & <b>see https://x.example/a?b=1.</b>"
    assert got["user"] == "U0AGENT2"
    assert got["thread_ts"] == root["ts"] and got["parent_user_id"] == "U0BOT"
    assert got["ts"] == event["ts"] and got["client_msg_id"] and got["channel_type"] == "channel"
    assert [m["ts"] for m in emulator.thread(root["ts"])] == [event["ts"]]


async def test_own_bot_messages_are_echoed_but_ignored(
    emulator: SlackEmulator, client: AsyncWebClient, bolt: AsyncApp
) -> None:
    seen = collector(bolt)
    root = await client.chat_postMessage(channel="C0SUPPORT", text="from the bot")
    await emulator.wait_for(lambda: any(d.status == 200 for d in emulator.deliveries))
    await emulator.drain()
    await emulator.agent_says("agent", thread_ts=root["ts"])
    await emulator.wait_for(lambda: len(seen) == 1)
    assert seen[0]["text"] == "agent"
    assert len(emulator.calls_to("auth.test")) == 1


async def test_slack_style_duplicate_deliveries(
    emulator: SlackEmulator, client: AsyncWebClient, bolt: AsyncApp
) -> None:
    seen = collector(bolt)
    root = await client.chat_postMessage(channel="C0SUPPORT", text="root")
    await emulator.drain()
    await emulator.agent_says("twice", thread_ts=root["ts"], copies=3)
    await emulator.wait_for(lambda: len(seen) == 3)
    assert sorted(s["_retry"] or "0" for s in seen) == ["0", "1", "2"]
    assert len({s["ts"] for s in seen}) == 1
    last_id = emulator.deliveries[-1].event_id
    attempts = sorted((d for d in emulator.deliveries if d.event_id == last_id), key=lambda d: d.at)
    assert sorted(d.retry_num for d in attempts) == [0, 1, 2]
    assert attempts[1].at - attempts[0].at < 0.010


async def test_wrong_signing_secret_gets_401(emulator: SlackEmulator, bolt: AsyncApp) -> None:
    emulator.signing_secret = "not-the-secret"
    status, body = await emulator.post_event(
        {"type": "message", "channel": "C0SUPPORT", "user": "U0AGENT1", "text": "x"}
    )
    assert status == 401 and "invalid request" in body


async def test_non_2xx_is_retried_like_slack(emulator: SlackEmulator, client: AsyncWebClient) -> None:
    statuses = [500, 503, 200]
    received: list[tuple[str | None, str | None]] = []

    async def flaky(request: web.Request) -> web.Response:
        received.append((request.headers.get("X-Slack-Retry-Num"), request.headers.get("X-Slack-Retry-Reason")))
        return web.Response(status=statuses[len(received) - 1])

    server = await serve_route(flaky)
    emulator.events_url = str(server.make_url("/events"))
    emulator.echo_bot_messages = False
    root = await client.chat_postMessage(channel="C0SUPPORT", text="root")
    await emulator.agent_says("x", thread_ts=root["ts"])
    assert received == [(None, None), ("1", "http_error"), ("2", "http_error")]
    await server.close()


async def test_slow_ack_gets_http_timeout_retry_while_in_flight(emulator: SlackEmulator) -> None:
    arrivals: list[tuple[float, str | None, str | None]] = []

    async def slow_first(request: web.Request) -> web.Response:
        arrivals.append(
            (time.monotonic(), request.headers.get("X-Slack-Retry-Num"), request.headers.get("X-Slack-Retry-Reason"))
        )
        if len(arrivals) == 1:
            await asyncio.sleep(0.3)
        return web.Response(status=200)

    server = await serve_route(slow_first)
    emulator.events_url = str(server.make_url("/events"))
    emulator.ack_timeout = 0.05
    root = await client_post_root(emulator)
    await emulator.agent_says("slow", thread_ts=root)
    assert [a[1:] for a in arrivals] == [(None, None), ("1", "http_timeout")]
    assert arrivals[1][0] - arrivals[0][0] < 0.25
    await emulator.drain()
    await server.close()


async def client_post_root(emulator: SlackEmulator) -> str:
    emulator.echo_bot_messages = False
    client = AsyncWebClient(token=TOKEN, base_url=emulator.api_url)
    return str((await client.chat_postMessage(channel="C0SUPPORT", text="root"))["ts"])


@pytest.mark.parametrize(
    ("typed", "wire"),
    [
        ("a & b", "a &amp; b"),
        ("<@U0BOT> 1 < 2 > 0", "&lt;@U0BOT&gt; 1 &lt; 2 &gt; 0"),
        ("see https://ex.example/p?q=1, ok", "see <https://ex.example/p?q=1>, ok"),
    ],
)
def test_typed_text_is_escaped_like_slack(typed: str, wire: str) -> None:
    assert typed_to_wire(typed) == wire


async def serve_route(handler: Callable[[web.Request], Awaitable[web.Response]]) -> TestServer:
    app = web.Application()
    app.router.add_post("/events", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


async def test_event_envelope_and_wire_bytes(emulator: SlackEmulator) -> None:
    bodies: list[bytes] = []

    async def capture(request: web.Request) -> web.Response:
        bodies.append(await request.read())
        assert SignatureVerifier(SECRET).is_valid_request(bodies[-1], dict(request.headers))
        return web.Response(status=200)

    server = await serve_route(capture)
    emulator.events_url = str(server.make_url("/events"))
    status, _ = await emulator.post_event({"type": "message", "text": "a/b é"}, event_id="Ev1")
    await server.close()
    assert status == 200
    assert b'"text":"a\\/b \xc3\xa9"' in bodies[0]
    envelope = json.loads(bodies[0])
    assert envelope["type"] == "event_callback" and envelope["event_id"] == "Ev1"
    assert len(envelope["authorizations"]) == 1 and envelope["authorizations"][0]["user_id"] == "U0BOT"
    assert {"token", "team_id", "api_app_id", "event_time", "event_context", "is_ext_shared_channel"} <= set(envelope)


MODAL = {
    "type": "modal",
    "callback_id": "note",
    "title": {"type": "plain_text", "text": "Add note"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "n",
            "label": {"type": "plain_text", "text": "Note"},
            "element": {"type": "plain_text_input", "action_id": "text"},
        }
    ],
}


async def test_button_click_opens_modal_and_submit(
    emulator: SlackEmulator, client: AsyncWebClient, bolt: AsyncApp
) -> None:
    clicked: list[dict[str, Any]] = []
    submitted: list[dict[str, Any]] = []

    @bolt.action("claim")
    async def on_claim(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        clicked.append(body)
        await client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    @bolt.view("note")
    async def on_note(ack: Any, view: dict[str, Any]) -> None:
        submitted.append(view["state"]["values"])
        await ack()

    root = await client.chat_postMessage(channel="C0SUPPORT", text="root", blocks=ROOT_BLOCKS)
    status, _ = await emulator.click_button(root["ts"], "claim", user="U0AGENT2")
    assert status == 200
    await emulator.wait_for(lambda: bool(emulator.views))
    action = clicked[0]["actions"][0]
    assert (action["action_id"], action["block_id"], action["value"]) == ("claim", "conv", "c1")
    assert clicked[0]["user"]["id"] == "U0AGENT2" and clicked[0]["container"]["message_ts"] == root["ts"]
    [view_id] = emulator.views
    assert emulator.ui_state()["modals"][0]["user"] == "U0AGENT2"
    status, _ = await emulator.submit_view(view_id, {"n": {"text": "VIP customer"}}, user="U0AGENT2")
    assert status == 200
    assert submitted == [{"n": {"text": {"type": "plain_text_input", "value": "VIP customer"}}}]
    assert emulator.ui_state()["modals"] == []


async def test_views_open_needs_a_fresh_trigger(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        await client.views_open(trigger_id="123.456.abc", view=MODAL)
    assert exc.value.response["error"] == "invalid_trigger_id"


async def test_slash_command_and_respond(emulator: SlackEmulator, bolt: AsyncApp) -> None:
    @bolt.command("/canned")
    async def canned(ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack()
        await respond(f"canned {command['text']} for {command['user_name']}")

    status, _ = await emulator.post_command("/canned", "greeting", user="U0AGENT1")
    assert status == 200
    await emulator.wait_for(lambda: bool(emulator.ephemerals))
    assert emulator.ephemerals[0]["text"] == "canned greeting for alex"
    assert emulator.ephemerals[0]["user"] == "U0AGENT1"


async def test_slash_command_is_plain_form_like_slack(emulator: SlackEmulator, bolt: AsyncApp) -> None:
    """Bolt's parse_body takes any form body containing "payload" for interactivity (protocol-facts S6)."""
    bolt.command("/canned")(noop_command)
    status, _ = await emulator.post_command("/canned", "send the payload", user="U0AGENT1")
    assert status == 404


async def noop_command(ack: Any) -> None:
    await ack()


# ---------------------------------------------------------------- agent page endpoints


async def test_ui_page_and_reply(emulator: SlackEmulator, client: AsyncWebClient, bolt: AsyncApp) -> None:
    seen = collector(bolt)
    root = await client.chat_postMessage(channel="C0SUPPORT", text="root")
    base = URL(emulator.base_url)
    async with aiohttp.ClientSession() as session:
        async with session.get(base) as page:
            assert page.status == 200 and "Switchboard Sandbox" in await page.text()
            assert "script-src" not in page.headers["Content-Security-Policy"]
        reply = {"thread_ts": root["ts"], "user": "U0AGENT1", "text": "<script>x</script>"}  # as typed
        async with session.post(base.with_path("/ui/reply"), json=reply) as resp:
            assert (await resp.json())["ok"] is True
        async with session.get(base.with_path("/ui/state"), params={"since": "-1"}) as resp:
            state = await resp.json()
    await emulator.wait_for(lambda: len(seen) == 1)
    assert seen[0]["text"] == "&lt;script&gt;x&lt;/script&gt;"
    assert state["threads"][root["ts"]][0]["text"] == "&lt;script&gt;x&lt;/script&gt;"
    assert state["version"] == emulator.version and state["users"]["U0AGENT1"]["name"] == "Alex Agent"


async def test_ui_state_long_poll_wakes_on_change(emulator: SlackEmulator, client: AsyncWebClient) -> None:
    url = emulator.base_url + "/ui/state"
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        poll = session.get(url, params={"since": str(emulator.version)})
        task = asyncio.ensure_future(poll.__aenter__())
        await asyncio.sleep(0.05)
        assert not task.done()
        await client.chat_postMessage(channel="C0SUPPORT", text="wake")
        resp = await task
        state = await resp.json()
        resp.release()
    assert time.monotonic() - started < 2
    assert [m["text"] for m in state["messages"]] == ["wake"]
