"""Slack request fuzzing (reliability target F24): 1,000 bodies signed like Slack's, with fuzzed contents.

Every body is signed with the test signing secret exactly as Slack signs (``v0:<timestamp>:<raw body>``, HMAC-SHA256,
through the emulator's ``sign``), so it passes verification and reaches parsing and the listeners. Every answer
must be below 500 with no ERROR logged; only well-formed thread replies become message rows, each with its
delivery to the customer (no half-parsed event leaves a row); a well-formed reply sent afterwards still reaches
the customer's widget.

The run is seeded (``SWITCHBOARD_FUZZ_SEED=<seed>`` replays it). Both databases run it: PostgreSQL refuses
text SQLite stores (NUL characters), so it finds bugs SQLite cannot.
"""

from __future__ import annotations

import asyncio
import io
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import sqlalchemy as sa

from bridge.engine import DELIVERY, MESSAGE
from bridge.sandbox.slack import SlackEmulator
from tests.fuzz.corpus import BAD_TOKENS, ODD_NUMBERS, ODD_STRINGS, dumps, junk, nested, replay_hint, run_seed
from tests.support.harness import SUPPORT, Harness, Widget

BODIES = 1_000
CONCURRENCY = 4
ANSWER_TIMEOUT = 10.0  # seconds a request may take before it counts as a hang
MAX_REPORTED = 25
AGENTS = ("U0AGENT1", "U0AGENT2")


@dataclass(frozen=True, slots=True)
class Live:
    """The conversation the fuzz aims at: its Slack thread, and the emulator's ids."""

    thread_ts: str
    team_id: str
    bot_user_id: str
    bot_id: str
    response_url: str  # the emulator's, for slash commands and actions


def often(rng: random.Random, good: Any, bad: Any) -> Any:
    """``good`` seven times in ten, else ``bad``: most payloads get past the first checks to the handlers."""
    return good if rng.random() < 0.7 else bad


@dataclass(frozen=True, slots=True)
class Body:
    """One signed request and what the bridge may do with it."""

    label: str
    data: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    ts: str | None = None  # the event's ts: a reply stored from this body has the source id "<channel>:<ts>"
    must_store: bool = False  # a well-formed reply in the live thread: it must be stored (and delivered)


# --- bodies ------------------------------------------------------------------------------------------------------


def reply_event(live: Live, rng: random.Random, n: int) -> dict[str, Any]:
    """A human agent's reply in the live thread, shaped like Slack's ``message`` event."""
    ts = f"{1_764_000_000 + n}.{rng.randrange(10**6):06d}"
    text = rng.choice(
        (
            "Thanks, looking into it now",
            "Olá! Já verifiquei o seu pedido 🙂",
            "See <https://example.com/help|our help page> &amp; reply here",
            "// internal: customer seems upset",
            "<@U0AGENT2> can you take this one?",
            "שלום, איך אפשר לעזור?",
            "line one\nline two",
        )
    )
    return {
        "user": rng.choice(AGENTS),
        "type": "message",
        "ts": ts,
        "client_msg_id": f"{rng.getrandbits(128):032x}",
        "text": text,
        "team": live.team_id,
        "blocks": [
            {
                "type": "rich_text",
                "block_id": "b1",
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
            }
        ],
        "thread_ts": live.thread_ts,
        "parent_user_id": live.bot_user_id,
        "channel": SUPPORT,
        "event_ts": ts,
        "channel_type": "channel",
    }


def envelope(live: Live, event: Any, n: int) -> dict[str, Any]:
    """The ``event_callback`` envelope Slack wraps an event in (as the emulator builds it)."""
    return {
        "token": "sandbox-verification-token",
        "team_id": live.team_id,
        "context_team_id": live.team_id,
        "context_enterprise_id": None,
        "api_app_id": "A0SANDBOX",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{n:09d}",
        "event_time": 1_764_000_000 + n,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": live.team_id,
                "user_id": live.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-ctx{n}",
    }


def garbage_ts(rng: random.Random, live: Live) -> Any:
    return rng.choice(
        (
            "",
            "abc",
            "1.2.3",
            "-1.5",
            live.thread_ts + "0",
            live.thread_ts[::-1],
            " " + live.thread_ts,
            "9" * 40,
            "1e999",
            1.5,
            float(live.thread_ts),
            junk(rng),
        )
    )


def huge_text(rng: random.Random) -> str:
    return rng.choice(("x", "🙂", "a b ", "<!channel> ", "&lt;")) * rng.choice((40_001, 100_000, 200_000))


def garbage_blocks(rng: random.Random) -> Any:
    return rng.choice(
        (
            junk(rng),
            [junk(rng) for _ in range(3)],
            [{"type": "rich_text", "elements": junk(rng)}],
            [{"type": junk(rng), "text": {"type": "mrkdwn", "text": junk(rng)}}],
            [{"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [junk(rng)]}]}],
            nested(rng, rng.choice((50, 200, 900))),
            [{"type": "section"}] * 500,
        )
    )


def garbage_files(rng: random.Random) -> Any:
    file = {"id": "F1", "name": junk(rng), "mimetype": junk(rng), "size": junk(rng), "url_private_download": junk(rng)}
    return rng.choice((junk(rng), [junk(rng)], [file], [{"size": "12kB"}], [{"name": nested(rng, 900)}], [None, 3]))


EventMutation = Callable[[random.Random, Live, dict[str, Any]], None]


def _spoof_bot(rng: random.Random, live: Live, event: dict[str, Any]) -> None:
    choice = rng.randrange(5)
    if choice == 0:
        event["bot_id"] = rng.choice((live.bot_id, "B0OTHER", junk(rng)))
    elif choice == 1:
        event["user"] = live.bot_user_id
    elif choice == 2:
        event.update(subtype="bot_message", bot_id=live.bot_id, username="Customer")
    elif choice == 3:
        event.update(app_id="A0SANDBOX", bot_profile={"id": live.bot_id, "name": "switchboard"})
    else:
        event.update(user=live.bot_user_id, bot_id=live.bot_id, parent_user_id=live.bot_user_id)


def _retype(rng: random.Random, _live: Live, event: dict[str, Any]) -> None:
    key = rng.choice([*event, "type", "channel", "user", "ts", "thread_ts", "text"])
    event[key] = junk(rng)


EVENT_MUTATIONS: dict[str, EventMutation] = {
    "thread_ts": lambda rng, live, e: e.update(thread_ts=garbage_ts(rng, live)),
    "ts": lambda rng, live, e: e.update(ts=garbage_ts(rng, live)),
    "same_ts": lambda rng, live, e: e.update(ts=live.thread_ts),  # the root itself
    "huge_text": lambda rng, _live, e: e.update(text=huge_text(rng)),
    "odd_text": lambda rng, _live, e: e.update(text=rng.choice((*ODD_STRINGS, *BAD_TOKENS, "!canned x", "/canned"))),
    "blocks": lambda rng, _live, e: e.update(blocks=garbage_blocks(rng)),
    "bot": _spoof_bot,
    "subtype": lambda rng, _live, e: e.update(
        subtype=rng.choice(("message_changed", "message_deleted", "file_share", "channel_join", "ekm", junk(rng)))
    ),
    "changed": lambda rng, _live, e: e.update(
        subtype="message_changed", message=rng.choice((junk(rng), {**e, "text": junk(rng)})), previous_message=junk(rng)
    ),
    "files": lambda rng, _live, e: e.update(subtype="file_share", files=garbage_files(rng)),
    "channel": lambda rng, _live, e: e.update(channel=rng.choice(("C0OTHER", {"id": SUPPORT}, [SUPPORT], junk(rng)))),
    "user": lambda rng, _live, e: e.update(user=rng.choice(("", {"id": "U0AGENT1"}, junk(rng)))),
    "parent": lambda rng, live, e: e.update(parent_user_id=rng.choice((live.bot_user_id, "U0AGENT1", junk(rng)))),
    "type": lambda rng, _live, e: e.update(type=rng.choice(("pin_added", "Message", "message ", "", junk(rng)))),
    "drop": lambda rng, _live, e: e.pop(rng.choice(list(e)), None),
    "retype": _retype,
    "extra": lambda rng, _live, e: e.update({rng.choice(ODD_STRINGS): junk(rng)}),
}


def envelope_mutation(rng: random.Random, live: Live, body: dict[str, Any]) -> None:
    choice = rng.randrange(9)
    if choice == 0:
        body.pop("event")
    elif choice == 1:
        body["event"] = rng.choice((junk(rng), "message", [body["event"]], None, {}))
    elif choice == 2:
        for key in rng.sample(["team_id", "event_id", "api_app_id", "token", "context_team_id"], rng.randrange(1, 4)):
            body.pop(key)
    elif choice == 3:
        body[rng.choice(["team_id", "event_id", "api_app_id", "event_time"])] = junk(rng)
    elif choice == 4:
        body["authorizations"] = rng.choice((junk(rng), [junk(rng)], [], "x", [{"user_id": junk(rng)}]))
    elif choice == 5:
        body["type"] = rng.choice(("app_rate_limited", "block_actions", "Event_Callback", "", junk(rng)))
    elif choice == 6:
        body.update(enterprise=junk(rng), is_enterprise_install=junk(rng), enterprise_id=junk(rng))
    elif choice == 7:
        body.update(team=junk(rng), user=junk(rng), channel=junk(rng), view=junk(rng))
    else:
        body.update(is_ext_shared_channel=True, context_enterprise_id=junk(rng))


def other_event(rng: random.Random, live: Live) -> dict[str, Any]:
    """Events the bridge does not answer, or answers elsewhere (App Home), with garbage in them."""
    kind = rng.choice(("app_home_opened", "app_mention", "reaction_added", "member_joined_channel", "team_join"))
    event: dict[str, Any] = {"type": kind, "event_ts": "1764000000.000100"}
    fields = {
        "user": often(rng, rng.choice(("U0AGENT1", live.bot_user_id)), junk(rng)),
        "channel": often(rng, SUPPORT, junk(rng)),
        "tab": rng.choice(("home", "messages", junk(rng))),
        "view": often(rng, {"type": "home", "id": "V1", "blocks": junk(rng)}, junk(rng)),
        "item": often(rng, {"type": "message", "channel": SUPPORT, "ts": live.thread_ts}, junk(rng)),
        "text": junk(rng),
    }
    event.update(rng.sample(sorted(fields.items()), rng.randrange(len(fields) + 1)))
    return event


def url_verification(rng: random.Random) -> dict[str, Any]:
    body: dict[str, Any] = {"token": "sandbox-verification-token", "type": "url_verification"}
    challenge = rng.choice((None, "", 5, {"a": 1}, [1], "x" * 200_000, "\x00", "<script>", junk(rng), "ok-challenge"))
    if challenge is not None or rng.random() < 0.5:
        body["challenge"] = challenge
    return body


def raw_json(rng: random.Random, live: Live, n: int, reply: dict[str, Any]) -> tuple[str, bytes]:
    """Bodies no JSON encoder writes: not an object, broken, deep, NaN, duplicate keys, lone surrogates, huge.

    The ones that still carry a reply carry ``reply`` (its ts tells a stored row's body).
    """
    good = dumps(envelope(live, reply, n))
    choice = rng.randrange(10)
    if choice == 0:
        return "not_object", rng.choice((b"[]", b"[1,2]", b'"event_callback"', b"5", b"null", b"true", b"[{}]"))
    if choice == 1:
        return "broken", rng.choice((b"", b"{", b"}", b"{'a':1}", good[: rng.randrange(1, len(good))].encode()))
    if choice == 2:
        return "nested", nested(rng, rng.choice((500, 1000, 5000, 10_000))).token.encode()
    if choice == 3:
        event = {**reply, "blocks": nested(rng, rng.choice((900, 2000, 10_000)))}
        return "nested_event", dumps(envelope(live, event, n)).encode()
    if choice == 4:
        token = rng.choice((*ODD_NUMBERS, *BAD_TOKENS))
        event = {**reply, rng.choice(("text", "ts", "user", "thread_ts")): token}
        return "token", dumps(envelope(live, event, n)).encode()
    if choice == 5:
        # duplicate keys (the last one counts): a second "event" that is not an object, or a second thread_ts
        dup = rng.choice(('"event":"x"', '"type":"url_verification"', '"event":null'))
        return "duplicate", (good[:-1] + "," + dup + "}").encode()
    if choice == 6:
        text = good.replace(f'"thread_ts":"{live.thread_ts}"', '"thread_ts":"\\ud800"', 1)
        return "surrogate", text.encode()
    if choice == 7:
        event = {**reply, "blocks": [{"type": "section", "text": "x" * 1000}] * 900}
        return "huge", dumps(envelope(live, event, n)).encode()  # just under the 1 MB cap
    if choice == 8:
        return "too_big", b'{"type":"event_callback","pad":"' + b"x" * 1_100_000 + b'"}'
    return "whitespace", b"  \n" + good.encode() + b"\n\t "


def form_body(rng: random.Random, live: Live) -> tuple[str, bytes]:
    """Interactivity and slash command bodies (the same endpoint) with garbage in them."""
    choice = rng.randrange(6)
    if choice == 0:
        payload = rng.choice(("xx", "[1]", "null", "{", '"s"', nested(rng, 2000).token))
        return "form_payload", urlencode({"payload": payload}).encode()
    if choice == 1:
        # not desk_export: a transcript over 1 MiB (the fuzz stores replies of 200,000 characters) makes aiohttp
        # warn about a large raw-bytes body, and pytest turns that warning into an error (see the report)
        action = {"action_id": rng.choice(("desk_claim", "desk_close", "desk_reopen", "desk_priority", "desk_assign"))}
        action.update({k: junk(rng) for k in rng.sample(["value", "selected_option", "selected_user", "block_id"], 2)})
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": often(rng, {"id": rng.choice(AGENTS), "username": "agent"}, junk(rng)),
            "team": {"id": live.team_id},
            "channel": often(rng, {"id": SUPPORT}, junk(rng)),
            "message": often(rng, {"ts": live.thread_ts, "type": "message", "blocks": junk(rng)}, junk(rng)),
            "container": often(
                rng, {"type": "message", "message_ts": live.thread_ts, "channel_id": SUPPORT}, junk(rng)
            ),
            "actions": often(rng, [action], rng.choice((junk(rng), [junk(rng)], []))),
            "response_url": live.response_url,
            "trigger_id": "1.2.x",
        }
        return "form_action", urlencode({"payload": dumps(payload)}).encode()
    if choice == 2:
        view = {"type": "modal", "callback_id": rng.choice(("announce", "send_canned")), "state": {"values": junk(rng)}}
        view.update({k: junk(rng) for k in rng.sample(["private_metadata", "blocks", "id", "hash"], 2)})
        payload = {"type": "view_submission", "user": {"id": "U0AGENT1"}, "view": often(rng, view, junk(rng))}
        return "form_view", urlencode({"payload": dumps(payload)}).encode()
    if choice == 3:
        command = rng.choice(("/available", "/away", "/stats", "/canned", "/announce", "/unknown", ""))
        text = rng.choice(("²", "٣", "0", "51", "3 4", " 7 ", str(junk(rng))[:3000]))
        params = {"command": command, "text": text, "user_id": rng.choice(("U0AGENT1", "", "x"))}
        params.update(channel_id=rng.choice((SUPPORT, "")), team_id=live.team_id, trigger_id="1.2.x")
        if rng.random() < 0.8:
            params["response_url"] = live.response_url
        return "form_command", urlencode(params).encode()
    if choice == 4:
        return "form_garbage", rng.choice((b"a=1&&&=&payload", b"%zz%00=%ff", b"payload=" + b"%5B" * 3000))
    return "form_shortcut", urlencode({"payload": dumps({"type": "message_action", "callback_id": junk(rng)})}).encode()


def retry_headers(rng: random.Random) -> dict[str, str]:
    num = rng.choice(("1", "abc", "-1", "1e9", "99999999999999999999", "", " 2 ", "0x1", "١"))
    return {"X-Slack-Retry-Num": num, "X-Slack-Retry-Reason": rng.choice(("http_timeout", "", "?" * 500, "x y"))}


BODY_KINDS = {"reply": 100, "event": 380, "envelope": 170, "other": 100, "url_verification": 50, "raw": 130, "form": 70}


def next_body(rng: random.Random, live: Live, n: int) -> Body:
    kind = rng.choices(list(BODY_KINDS), weights=list(BODY_KINDS.values()))[0]
    headers = retry_headers(rng) if rng.random() < 0.2 else {}
    event = reply_event(live, rng, n)
    if kind == "reply":
        data = dumps(envelope(live, event, n)).encode()
        return Body(kind, data, headers=headers, ts=event["ts"], must_store=True)
    if kind == "event":
        names = rng.sample(sorted(EVENT_MUTATIONS), rng.choice((1, 1, 2, 3)))
        for name in names:
            EVENT_MUTATIONS[name](rng, live, event)
        ts = event.get("ts") if isinstance(event.get("ts"), str) else None
        return Body(f"event:{'+'.join(names)}", dumps(envelope(live, event, n)).encode(), headers=headers, ts=ts)
    if kind == "envelope":
        body = envelope(live, event, n)
        envelope_mutation(rng, live, body)
        return Body(kind, dumps(body).encode(), headers=headers, ts=event["ts"])
    if kind == "other":
        return Body(kind, dumps(envelope(live, other_event(rng, live), n)).encode(), headers=headers)
    if kind == "url_verification":
        return Body(kind, dumps(url_verification(rng)).encode(), headers=headers)
    if kind == "raw":
        label, data = raw_json(rng, live, n, event)
        return Body(f"raw:{label}", data, headers=headers, ts=event["ts"])
    label, data = form_body(rng, live)
    return Body(label, data, content_type="application/x-www-form-urlencoded", headers=headers)


# --- running it --------------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the fuzz saw: failures, statuses, and which event timestamps were acknowledged."""

    seed: int
    failures: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    answered: dict[str, set[int]] = field(default_factory=dict)  # event ts -> statuses of the bodies carrying it
    must_store: set[str] = field(default_factory=set)


async def post(
    session: aiohttp.ClientSession, slack: SlackEmulator, url: str, body: Body, tally: Tally, n: int
) -> None:
    headers = {"Content-Type": body.content_type, **slack.sign(body.data), **body.headers}
    try:
        async with (
            asyncio.timeout(ANSWER_TIMEOUT),
            session.post(url, data=io.BytesIO(body.data), headers=headers) as response,
        ):
            status, text = response.status, await response.text()
    except TimeoutError:
        tally.failures.append(f"body {n} ({body.label}): no answer within {ANSWER_TIMEOUT} s; {body.data[:300]!r}")
        return
    tally.statuses[f"{body.label.split(':')[0]} {status}"] += 1
    if status >= 500:
        tally.failures.append(f"body {n} ({body.label}): {status} {text[:100]!r}; {body.data[:300]!r}")
    if body.ts is not None:
        tally.answered.setdefault(body.ts, set()).add(status)
    if body.must_store:
        if status != 200:
            tally.failures.append(f"body {n} ({body.label}): a well-formed reply answered {status} {text[:100]!r}")
        tally.must_store.add(body.ts or "")


async def latest_reply(widget: Widget, text: str) -> dict[str, Any]:
    """The widget's ``message`` frame carrying ``text`` (fuzzed replies reach it first)."""
    async with asyncio.timeout(15.0):
        while True:
            frame = await widget.expect("message")
            if frame["message"]["text"] == text:
                return frame


async def test_a_thousand_signed_fuzzed_slack_bodies_store_only_well_formed_replies(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    seed = run_seed()
    tally = Tally(seed)
    replay = replay_hint(seed, __file__)
    caplog.set_level(logging.WARNING)
    slack = harness.slack
    async with harness.widget(name="Ivy") as widget:
        await widget.say("My order never arrived", "c1")
        await widget.expect("status")  # the thread exists in Slack
        root = str(slack.channel_messages()[0]["ts"])
        response_url = slack.new_response_url(SUPPORT, "U0AGENT1", None, None)
        live = Live(root, slack.team_id, slack.bot_user_id, slack.bot_id, response_url)
        before = max(row.id for row in await harness.bridge.store.fetch_all(sa.select(MESSAGE.c.id)))

        rng = random.Random(seed)
        bodies = [next_body(rng, live, n) for n in range(BODIES)]
        url = harness.url("/slack/events")
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(n: int, body: Body) -> None:
            async with gate:
                await post(session, slack, url, body, tally, n)

        started = time.monotonic()
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(one(n, body) for n, body in enumerate(bodies)))
        elapsed = time.monotonic() - started

        answer = await slack.agent_says("Found it: your parcel ships today", thread_ts=root)
        frame = await latest_reply(widget, "Found it: your parcel ships today")
        assert frame["message"]["author"] == "agent", replay
    print(f"\nslack fuzz: {replay}: {len(bodies)} bodies in {elapsed:.1f} s; {dict(sorted(tally.statuses.items()))}")

    assert not tally.failures, f"{replay}: {len(tally.failures)} failures:\n" + "\n".join(tally.failures[:MAX_REPORTED])
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, f"{replay}: logged:\n" + "\n".join(f"{r.name}: {r.getMessage()[:300]}" for r in errors[:25])

    rows = await harness.bridge.store.fetch_all(
        sa.select(
            MESSAGE.c.id, MESSAGE.c.source_id, MESSAGE.c.author_kind, MESSAGE.c.text, MESSAGE.c.attachments
        ).where(MESSAGE.c.id > before)
    )
    prefix, final = f"{SUPPORT}:", f"{SUPPORT}:{answer['ts']}"  # a Slack message's source id: "<channel>:<ts>"
    # Clicks on the card may store the desk's own texts (a closing message, the survey): never agents' words.
    desk = [row for row in rows if not row.source_id.startswith(prefix)]
    assert all(row.author_kind in ("system", "bot") for row in desk), f"{replay}: {desk[:5]}"
    stored = {row.source_id: row for row in rows if row.source_id.startswith(prefix) and row.source_id != final}
    ok = {ts for ts, statuses in tally.answered.items() if any(200 <= status < 300 for status in statuses)}
    stray = [source for source in stored if source.removeprefix(prefix) not in ok]
    assert not stray, f"{replay}: rows from bodies that were refused or never sent: {stray[:10]}"
    missing = {ts for ts in tally.must_store if f"{prefix}{ts}" not in stored}
    assert not missing, f"{replay}: well-formed replies not stored: {sorted(missing)[:10]}"
    for row in stored.values():
        assert row.author_kind in ("agent", "note"), f"{replay}: {row}"
        assert (row.text.strip() or row.attachments) and "\x00" not in row.text, f"{replay}: stored {row.text[:80]!r}"
    deliveries = Counter(
        row.message_id
        for row in await harness.bridge.store.fetch_all(
            sa.select(DELIVERY.c.message_id).where(DELIVERY.c.message_id > before, DELIVERY.c.target_channel == "web")
        )
    )
    for row in stored.values():  # a reply reaches the customer once; a note never
        assert deliveries[row.id] == (1 if row.author_kind == "agent" else 0), f"{replay}: deliveries of {row}"
    assert len(stored) >= len(tally.must_store) > 0, replay


# --- what the fuzz found: one test per input -------------------------------------------------------------------


async def _post(harness: Harness, body: bytes, content_type: str = "application/json", signed: bool = True) -> int:
    headers = {"Content-Type": content_type, **(harness.slack.sign(body) if signed else {})}
    if not signed:
        headers.update({"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=" + "0" * 64})
    async with (
        aiohttp.ClientSession() as session,
        session.post(harness.url("/slack/events"), data=body, headers=headers) as response,
    ):
        return response.status


async def _live_thread(harness: Harness, widget: Widget) -> Live:
    await widget.say("My order never arrived", "c1")
    await widget.expect("status")
    slack = harness.slack
    root = str(slack.channel_messages()[0]["ts"])
    return Live(
        root, slack.team_id, slack.bot_user_id, slack.bot_id, slack.new_response_url(SUPPORT, "U0AGENT1", None, None)
    )


async def _texts(harness: Harness) -> list[str]:
    rows = await harness.bridge.store.fetch_all(sa.select(MESSAGE.c.text).where(MESSAGE.c.author_kind == "agent"))
    return [row.text for row in rows]


def _no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    logged = [f"{r.name}: {r.getMessage()[:200]}" for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not logged, logged


def _event_body(event: Any, **envelope: Any) -> bytes:
    body = {"token": "t", "team_id": "T0SANDBOX", "api_app_id": "A0SANDBOX", "type": "event_callback"}
    return dumps({**body, "event_id": "Ev1", "event_time": 1764000000, "event": event, **envelope}).encode()


def _form(payload: Any) -> bytes:
    return urlencode({"payload": payload if isinstance(payload, str) else dumps(payload)}).encode()


FORM = "application/x-www-form-urlencoded"
SHAPELESS: dict[str, tuple[bytes, str]] = {  # one signed body per shape bolt or a listener raised on (500)
    "array": (b"[1,2]", "application/json"),
    "string": (b'"event_callback"', "application/json"),
    "null": (b"null", "application/json"),
    "broken-json": (b"{", "application/json"),
    "nested-10000": (b"[" * 10_000 + b"]" * 10_000, "application/json"),
    "event-is-a-string": (_event_body("message"), "application/json"),
    "event-is-null": (_event_body(None), "application/json"),
    "authorizations-string": (_event_body({"type": "message"}, authorizations="x"), "application/json"),
    "user-int": (_event_body({"type": "app_home_opened", "user": 5, "tab": "home"}), "application/json"),
    # a user id goes into users.info's URL: 10,000 characters overflowed the URL line limit (an ERROR logged)
    "user-10000-chars": (
        _event_body(
            {
                "type": "message",
                "channel": SUPPORT,
                "user": "x" * 10_000,
                "text": "!canned",
                "ts": "1.2",
                "thread_ts": "1.1",
            }
        ),
        "application/json",
    ),
    "user-surrogate": (
        _event_body({"type": "message", "user": "PLACEHOLDER"}).replace(b"PLACEHOLDER", b"U0\\ud800"),
        "application/json",
    ),
    "payload-not-json": (_form("xx"), FORM),
    "payload-array": (_form([1]), FORM),
    "view-true": (_form({"type": "view_submission", "user": {"id": "U0AGENT1"}, "view": True}), FORM),
    "action-user-string": (
        _form({"type": "block_actions", "user": "U0AGENT1", "actions": [{"action_id": "desk_claim"}]}),
        FORM,
    ),
    "action-without-action_id": (
        _form({"type": "block_actions", "user": {"id": "U0AGENT1"}, "actions": [{"value": "x"}]}),
        FORM,
    ),
    "modal-values-string": (
        _form(
            {
                "type": "view_submission",
                "user": {"id": "U0AGENT1"},
                "view": {"type": "modal", "callback_id": "send_canned", "state": {"values": "x"}},
            }
        ),
        FORM,
    ),
    "command-without-response_url": (
        urlencode({"command": "/away", "text": "", "user_id": "U0AGENT1", "channel_id": SUPPORT}).encode(),
        FORM,
    ),
}


async def test_signed_payloads_of_shapes_slack_never_sends_get_400(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """bolt parses and reads Slack's shapes without checking them, and so do the listeners: each of these raised
    (a 500 with a traceback, which Slack would have redelivered three times). Unsigned, each is a 401: the route
    verifies the signature before parsing anything (an unsigned ``[1,2]`` was a 500 too)."""
    answers = {
        name: (await _post(harness, body, kind), await _post(harness, body, kind, signed=False))
        for name, (body, kind) in SHAPELESS.items()
    }
    assert {name: got for name, got in answers.items() if got != (400, 401)} == {}
    assert await harness.bridge.store.fetch_all(sa.select(MESSAGE.c.id)) == []
    _no_errors_logged(caplog)


async def test_replies_with_text_a_database_refuses_are_stored_cleaned(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """A NUL (PostgreSQL refuses it) or a lone surrogate (no database encodes it) in a reply's text failed the
    insert: a 500, and Slack redelivered it, failing again each time."""
    async with harness.widget(name="Ivy") as widget:
        live = await _live_thread(harness, widget)
        event = {**reply_event(live, random.Random(1), 1), "text": "a\x00b"}
        assert await _post(harness, _event_body(event)) == 200
        body = _event_body({**reply_event(live, random.Random(2), 2), "text": "PLACEHOLDER"})
        assert await _post(harness, body.replace(b"PLACEHOLDER", b"c\\ud800d")) == 200
        assert (await latest_reply(widget, "c?d"))["message"]["author"] == "agent"
    assert await _texts(harness) == ["ab", "c?d"]
    _no_errors_logged(caplog)


NOT_SLACKS: dict[str, dict[str, Any]] = {  # a reply in the live thread with one field Slack never sends so
    "ts-object": {"ts": {"a": 1}},
    "ts-garbage": {"ts": "-1.5"},
    "user-object": {"user": {"id": "U0AGENT1"}},  # (an int or a lone surrogate is refused earlier: 400)
    "thread_ts-surrogate": {"thread_ts": "\ud800"},
    "thread_ts-garbage-in-a-bot-thread": {"thread_ts": "abc"},
    "text-object": {"text": {"a": 1}},
}


async def test_replies_with_fields_slack_never_sends_are_acknowledged_and_not_stored(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: an object ``ts``, ``user`` or ``text`` was stored as its Python repr (a half-parsed reply reached
    the customer); a lone surrogate failed the thread lookup (500); a garbage ``thread_ts`` under our bot's root
    raised ThreadNotReady (500) on every redelivery, though it can never become ready."""
    async with harness.widget(name="Ivy") as widget:
        live = await _live_thread(harness, widget)
        answers: dict[str, int] = {}
        for n, (name, change) in enumerate(NOT_SLACKS.items()):
            event = {**reply_event(live, random.Random(n), n), **change}
            assert event["parent_user_id"] == live.bot_user_id
            body = _event_body({**event, **{k: "PLACEHOLDER" for k, v in change.items() if isinstance(v, str)}})
            for value in (v for v in change.values() if isinstance(v, str)):  # json writes no lone surrogate: by hand
                body = body.replace(b"PLACEHOLDER", value.encode("ascii", "backslashreplace"))
            answers[name] = await _post(harness, body)
    assert {name: status for name, status in answers.items() if status != 200} == {}
    assert await _texts(harness) == []
    _no_errors_logged(caplog)


async def test_a_shared_file_with_fields_slack_never_sends_is_kept_with_safe_values(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """``int("12kB")`` raised (500), and a file name with a lone surrogate failed the insert (500)."""
    async with harness.widget(name="Ivy") as widget:
        live = await _live_thread(harness, widget)
        files = [{"id": "F1", "name": "PLACEHOLDER", "mimetype": 5, "size": "12kB", "url_private_download": None}]
        event = {**reply_event(live, random.Random(1), 1), "subtype": "file_share", "files": files, "text": "see file"}
        body = _event_body(event).replace(b"PLACEHOLDER", b"r\\ud800port.pdf")
        assert await _post(harness, body) == 200
    rows = await harness.bridge.store.fetch_all(
        sa.select(MESSAGE.c.attachments).where(MESSAGE.c.author_kind == "agent")
    )
    assert [row.attachments[0]["name"] for row in rows] == ["r?port.pdf"]
    _no_errors_logged(caplog)


async def test_available_with_a_superscript_digit_gets_its_usage(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """``"²".isdigit()`` is true but ``int("²")`` raises: ``/available ²`` answered 500 ("failed with the error")."""
    assert (await harness.slack.post_command("/available", "²"))[0] == 200
    assert (await harness.slack.post_command("/available", "٣"))[0] == 200  # an Arabic-Indic 3: a number
    _no_errors_logged(caplog)
