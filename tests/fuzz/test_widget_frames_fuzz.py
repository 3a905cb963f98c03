"""Widget WebSocket fuzzing (reliability target F22): 10,000 hostile frames per run change nothing they must not.

Every fuzzed text frame gets one clear answer (an ``error`` frame with a documented code, or the frame's normal
answer) and its socket keeps working; a frame that breaks the protocol closes its socket with the documented code
(1003 binary, 1007 invalid UTF-8, 1009 over 64 KB; 1002 for WebSocket-level violations, which aiohttp refuses
before the bridge sees them). No ERROR log record, no 5xx, no 1011; only acknowledged messages are stored, and
byte for byte; a well-behaved visitor keeps getting its acks during the fuzz; the process's RSS grows < 50 MB.

The run is seeded: a failure names its seed, and ``SWITCHBOARD_FUZZ_SEED=<seed>`` replays the same frames on the
same sockets (the interleaving between sockets may differ). Both databases run it: PostgreSQL refuses text that
SQLite stores (NUL characters, integers beyond INTEGER), so it finds bugs SQLite cannot.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import sqlalchemy as sa
from aiohttp import WSCloseCode, WSMsgType

from bridge.engine import CONTACT, MESSAGE
from bridge.redaction import mask_cards
from bridge.sanitize import customer_text
from channels.web.protocol import MAX_FRAME_BYTES, MAX_TEXT_CHARS
from tests.fuzz.corpus import BAD_TOKENS, ODD_NUMBERS, dumps, junk, nested, replay_hint, run_seed
from tests.support.harness import Harness, Widget

FRAMES = 10_000
WORKERS = 8  # sockets fuzzed at once (the bridge allows 20 per address; the control socket is one more)
ANSWER_TIMEOUT = 10.0  # seconds a frame may wait for its answer before it counts as a hang
RSS_LIMIT = 50 * 1024 * 1024
MAX_REPORTED = 25  # failures listed in the assertion message (all are counted)
WS_RESERVED_OPCODE = 0x3  # RFC 6455 5.2: reserved non-control opcode, "MUST _Fail the WebSocket Connection_"

ERROR_CODES = frozenset(
    {
        "bad_json",
        "bad_frame",
        "unknown_type",
        "not_authenticated",
        "bad_session",
        "too_long",
        "rate_limited",
        "bad_choice",
        "stale_choice",
        "no_conversation",
        "not_found",
        "bad_time_zone",
    }
)  # docs/widget-protocol.md "Error codes"
ANSWERS = {
    "hello": {"welcome", "error"},
    "message": {"ack", "acks", "error"},
    "ping": {"pong", "error"},
    "transcript": {"transcript", "error"},
    "choose": {"chosen", "error"},
}
PUSHES = frozenset({"status", "message"})  # frames the bridge sends on its own (delivery receipts, replies)


# --- frames ---------------------------------------------------------------------------------------------------


Pairs = list[tuple[str, Any]]  # a frame's members in order; a key may repeat (duplicate keys)


def encode_pairs(pairs: Pairs) -> str:
    return "{" + ",".join(orjson.dumps(k).decode() + ":" + dumps(v) for k, v in pairs) + "}"


@dataclass(frozen=True, slots=True)
class Shot:
    """One fuzzed frame and what the bridge must do with it."""

    label: str  # the generator that made it, for the failure report
    data: str | bytes
    opcode: int = WSMsgType.TEXT
    close: int | None = None  # the close code the socket must end with; None: answered, and the socket stays open
    must_refuse: bool = False  # the answer must be an error frame
    kind: str | None = None  # the frame's ``type`` as the bridge will read it, when it is a known one

    def message_text(self) -> str | None:
        """The text the bridge stores if it acknowledges this frame as a message."""
        if self.kind != "message" or not isinstance(self.data, str):
            return None
        text = orjson.loads(self.data).get("text")
        return text if isinstance(text, str) else None


def shot_from_text(label: str, text: str) -> Shot:
    """A text frame and the bridge's duty, read from the frame the way any JSON parser reads it."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FRAME_BYTES:
        return Shot(label, text, close=WSCloseCode.MESSAGE_TOO_BIG)
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return Shot(label, text, must_refuse=True)
    kind = data.get("type") if isinstance(data, dict) else None
    if not isinstance(kind, str) or kind not in ANSWERS:
        return Shot(label, text, must_refuse=True)
    return Shot(label, text, kind=kind)


def shot_from_bytes(label: str, payload: bytes) -> Shot:
    """A text frame whose payload may not be UTF-8 (the socket must close with 1007 then)."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        if len(payload) > MAX_FRAME_BYTES:
            return Shot(label, payload, close=WSCloseCode.MESSAGE_TOO_BIG)
        return Shot(label, payload, close=WSCloseCode.INVALID_TEXT)
    shot = shot_from_text(label, text)
    return Shot(label, payload, close=shot.close, must_refuse=shot.must_refuse, kind=shot.kind)


@dataclass
class Visitor:
    """What one fuzzing worker knows: its sessions (to resume) and how many frames it sent."""

    worker: int
    rng: random.Random
    sessions: list[str] = field(default_factory=list)
    sent: int = 0

    def client_id(self) -> str:
        return f"w{self.worker}-{self.sent}"


def valid_hello(v: Visitor) -> Pairs:
    rng = v.rng
    pairs: Pairs = [
        ("type", "hello"),
        ("session", rng.choice(v.sessions) if v.sessions and rng.random() < 0.95 else None),
    ]
    pairs.append(("last_seen", rng.choice((0, 0, 1, 5, 10_000, 2**31 - 1))))
    if rng.random() < 0.7:
        pairs.append(("name", rng.choice(("Mallory", "Zoë", "李雷", "  padded  ", "<b>bold</b>"))))
    if rng.random() < 0.3:
        pairs.append(("email", "mallory@example.com"))
    if rng.random() < 0.5:
        pairs.append(("locale", rng.choice(("en", "pt-BR", "zh_Hant_TW", "ar", "xx-YY", "en-US-u-ca-buddhist"))))
    if rng.random() < 0.3:
        pairs.append(("languages", rng.sample(["de", "fr-CA", "ja", "en", "he"], rng.randrange(1, 4))))
    if rng.random() < 0.3:
        pairs.append(("page_url", rng.choice(("https://example.com/pricing?x=1", "javascript:alert(1)", "/relative"))))
    if rng.random() < 0.3:
        pairs.append(("attributes", {"account_id": "42", "plan": rng.choice(("pro", 3, True, None))}))
    if rng.random() < 0.3:
        pairs.append(("ack_batches", rng.random() < 0.5))
    return pairs


def valid_message(v: Visitor) -> Pairs:
    rng = v.rng
    text = rng.choice(
        (
            "Hello, I need help with my order",
            "¿Dónde está mi pedido? 🙂",
            "שלום, יש לי שאלה",
            "  leading and trailing spaces  ",
            "line one\nline two\n\ttabbed",
            "<img src=x onerror=alert(1)> <!here>",
            "a" * MAX_TEXT_CHARS,
            "🙂" * 2000,
        )
    )
    # now and then the client_id of an earlier message: a resend, acknowledged with the first message's id
    client_id = v.client_id() if rng.random() < 0.9 else rng.choice(("dup", "x" * 64))
    return [("type", "message"), ("client_id", client_id), ("text", text)]


def valid_transcript(v: Visitor) -> Pairs:
    rng = v.rng
    pairs: Pairs = [("type", "transcript")]
    if rng.random() < 0.5:
        pairs.append(("conversation", rng.choice((1, 2, 7, 2**31 - 1))))
    if rng.random() < 0.5:
        pairs.append(("time_zone", rng.choice(("Europe/Lisbon", "America/Sao_Paulo", "UTC", "Mars/Olympus"))))
    return pairs


def valid_frame(v: Visitor) -> Pairs:
    kind = v.rng.choices(("hello", "message", "ping", "transcript", "choose"), weights=(1, 2, 5, 1, 1))[0]
    if kind == "hello":
        return valid_hello(v)
    if kind == "message":
        return valid_message(v)
    if kind == "transcript":
        return valid_transcript(v)
    if kind == "choose":
        return [("type", "choose"), ("message_id", v.rng.randrange(1, 50)), ("choice", v.rng.choice(("1", "5", "yes")))]
    return [("type", "ping")]


def mutate(v: Visitor, pairs: Pairs) -> Pairs:
    """One structural change: a member dropped, retyped, duplicated or added, or the ``type`` changed."""
    rng, pairs = v.rng, list(pairs)
    op = rng.randrange(8)
    index = rng.randrange(len(pairs))
    if op == 0 and len(pairs) > 1:
        del pairs[rng.randrange(1, len(pairs))]
    elif op in (1, 2):
        key, _ = pairs[index]
        pairs[index] = (key, junk(rng))
    elif op == 3:
        key, _ = pairs[index]
        pairs.insert(rng.randrange(len(pairs) + 1), (key, junk(rng)))  # duplicate key: the last one counts
    elif op == 4:
        extra = rng.choice(("pad", "__proto__", "constructor", "", "type ", "TYPE", "x" * 300, "session", "kind"))
        pairs.append((extra, junk(rng)))
    elif op == 5:
        unknown = ("HELLO", " message", "message\x00", "pong", "welcome", "error", "ack", "", "🙂", "a" * 500)
        pairs[0] = ("type", rng.choice((*unknown, *ANSWERS, junk(rng))))
    elif op == 6:
        rng.shuffle(pairs)
    else:
        key, _ = pairs[index]
        pairs[index] = (key, rng.choice(ODD_NUMBERS + BAD_TOKENS))
    return pairs


def garbage_text(rng: random.Random) -> str:
    pick = rng.randrange(7)
    if pick == 0:
        return "".join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(0, 200)))
    if pick == 1:
        return "".join(chr(rng.randrange(1, 0xD800)) for _ in range(rng.randrange(1, 200)))
    if pick == 2:
        tokens = ("{", "}", "[", "]", ",", ":", '"type"', '"message"', "null", "1e999", "NaN", '"', "\\", " ")
        return "".join(rng.choice(tokens) for _ in range(rng.randrange(1, 60)))
    if pick == 3:
        return rng.choice(("", " ", "\n", "null", "true", "0", '""', "[]", "{}", '"hello"', "[{}]", "{}{}", "\x00"))
    if pick == 4:
        text = encode_pairs(valid_message(Visitor(0, rng)))
        return text[: rng.randrange(len(text))]  # a frame cut short
    if pick == 5:
        return orjson.dumps([encode_pairs(valid_hello(Visitor(0, rng)))]).decode()  # a frame inside an array
    return nested(rng).token


def boundary_text(rng: random.Random) -> str:
    """A ping padded to just under 64 KB, one byte over, or far over.

    Exactly 65,536 bytes is left out: aiohttp 3.14 refuses a frame of ``max_msg_size`` bytes (``>=`` in its
    reader), one byte short of docs/widget-protocol.md's "at most 64 KB"; no widget frame comes near it.
    """
    size = rng.choice((MAX_FRAME_BYTES - 1, MAX_FRAME_BYTES + 1, 4 * MAX_FRAME_BYTES))
    head = '{"type":"ping","pad":"'
    return head + "x" * (size - len(head) - 2) + '"}'


SHOTS = {  # frames per 1,000; the last four close their socket, so about one frame in 40 opens a new socket
    "valid": 60,
    "mutated": 420,
    "garbage": 370,
    "nested": 127,
    "boundary": 4,
    "binary": 8,
    "bytes": 10,
    "protocol": 1,
}


def next_shot(v: Visitor) -> Shot:
    rng = v.rng
    label = rng.choices(list(SHOTS), weights=list(SHOTS.values()))[0]
    if label == "valid":
        return shot_from_text(label, encode_pairs(valid_frame(v)))
    if label == "mutated":
        pairs = valid_frame(v)
        for _ in range(rng.choice((1, 2, 3))):
            pairs = mutate(v, pairs)
        return shot_from_text(label, encode_pairs(pairs))
    if label == "garbage":
        return shot_from_text(label, garbage_text(rng))
    if label == "nested":
        alone = nested(rng).token
        in_hello = encode_pairs([*valid_hello(v), ("attributes", nested(rng))])
        in_message = encode_pairs([*valid_message(v)[:2], ("text", nested(rng))])
        return shot_from_text(label, rng.choice((alone, in_hello, in_message)))
    if label == "boundary":
        return shot_from_text(label, boundary_text(rng))
    if label == "binary":
        payload = rng.choice((rng.randbytes(rng.randrange(1, 300)), b"", orjson.dumps({"type": "ping"})))
        return Shot(label, payload, opcode=WSMsgType.BINARY, close=WSCloseCode.UNSUPPORTED_DATA)
    if label == "bytes":
        payload = rng.choice(
            (
                rng.randbytes(rng.randrange(1, 300)),
                b'{"type":"message","client_id":"u","text":"\xff\xfe"}',
                b'{"type":"ping","x":"\xed\xa0\x80"}',  # an encoded surrogate: not UTF-8
                b'{"type":"ping","x":"\xc3"}',  # a sequence cut short
                b"\xc0\xaf",  # an overlong encoding of "/"
            )
        )
        return shot_from_bytes(label, payload)
    return Shot(label, rng.randbytes(8), opcode=WS_RESERVED_OPCODE, close=WSCloseCode.PROTOCOL_ERROR)


# --- running it -------------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the fuzz saw: failures, and the acks that say what must be stored."""

    seed: int
    failures: list[str] = field(default_factory=list)
    stored: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))  # message id -> texts acked as it
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    sockets: int = 0

    def fail(self, v: Visitor, shot: Shot, what: str) -> None:
        data = shot.data if len(shot.data) <= 300 else shot.data[:300]
        self.failures.append(f"worker {v.worker} frame {v.sent} ({shot.label}): {what}; frame {data!r}")


def rss_bytes() -> int:
    """This process's resident set size after a full collection.

    The bridge runs in-process, so this counts the server, the Slack emulator and the fuzzing clients together
    (an upper bound for the server). The collection first: the bridge tunes the collector to run rarely
    (``bridge.app._tune_gc``), so uncollected garbage cycles would otherwise count as growth.
    """
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


async def send(ws: aiohttp.ClientWebSocketResponse, shot: Shot) -> None:
    if isinstance(shot.data, str):
        await ws.send_str(shot.data)
    else:
        await ws.send_frame(shot.data, shot.opcode)  # type: ignore[arg-type]  # an int: the reserved opcode too


async def answer(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any] | aiohttp.WSMessage:
    """The next frame that is not a push (receipt, reply), or the message that ended the socket."""
    async with asyncio.timeout(ANSWER_TIMEOUT):
        while True:
            msg = await ws.receive()
            if msg.type is not WSMsgType.TEXT:
                return msg
            frame = orjson.loads(msg.data)
            if frame.get("type") not in PUSHES:
                return dict(frame)


def judge(tally: Tally, v: Visitor, shot: Shot, got: dict[str, Any] | aiohttp.WSMessage, ws: Any) -> bool:
    """Check one outcome against the shot's duty; True while the socket is still usable."""
    if not isinstance(got, dict):
        tally.outcomes[f"closed {ws.close_code}"] += 1
        if shot.close is None:
            tally.fail(v, shot, f"socket ended ({got.type.name}, close code {ws.close_code}) instead of answering")
        elif ws.close_code != shot.close:
            tally.fail(v, shot, f"closed with {ws.close_code}, expected {shot.close}")
        return False
    kind = got.get("type")
    tally.outcomes[f"{kind} {got.get('code', '')}".strip()] += 1
    if shot.close is not None:
        tally.fail(v, shot, f"answered {got!r:.200} instead of closing with {shot.close}")
        return True
    if kind == "error":
        if got.get("code") not in ERROR_CODES or not isinstance(got.get("reason"), str) or not got["reason"]:
            tally.fail(v, shot, f"unclear error frame {got!r:.300}")
        return True
    if shot.must_refuse or kind not in ANSWERS.get(shot.kind or "", ()):
        tally.fail(v, shot, f"answered {got!r:.300}, expected an error frame")
        return True
    if kind == "welcome":
        v.sessions.append(str(got["session"]))
    acks = got.get("acks", [got]) if kind in ("ack", "acks") else []
    text = shot.message_text()
    for ack in acks:
        if not isinstance(ack.get("id"), int) or text is None:
            tally.fail(v, shot, f"ack without an id or for no message text: {got!r:.200}")
        else:
            tally.stored[ack["id"]].add(text)
    return True


async def fuzz_worker(harness: Harness, v: Visitor, frames: int, tally: Tally) -> None:
    """Send ``frames`` shots one at a time, each judged by its answer; a closed socket is replaced by a new one."""
    async with aiohttp.ClientSession() as session:
        ws: aiohttp.ClientWebSocketResponse | None = None
        try:
            while v.sent < frames:
                if ws is None or ws.closed:
                    try:
                        ws = await session.ws_connect(harness.url("/widget/ws"), headers={"Origin": harness.origin})
                    except aiohttp.WSServerHandshakeError as exc:
                        tally.failures.append(f"worker {v.worker}: handshake refused with {exc.status}")
                        return
                    tally.sockets += 1
                    # most sockets start with a hello; the others are fuzzed before any
                    greet = v.rng.random() < 0.75
                    shot = shot_from_text("hello", encode_pairs(valid_hello(v))) if greet else next_shot(v)
                else:
                    shot = next_shot(v)
                v.sent += 1
                try:
                    await send(ws, shot)
                    got = await answer(ws)
                except TimeoutError:
                    tally.fail(v, shot, f"no answer within {ANSWER_TIMEOUT} s (a hang)")
                    await ws.close()
                    continue
                except ConnectionResetError as exc:  # the server closed while we were still writing
                    got = aiohttp.WSMessage(WSMsgType.CLOSED, None, str(exc))
                if not judge(tally, v, shot, got, ws):
                    await ws.close()
            if ws is not None and not ws.closed:  # the last socket still works
                await ws.send_str('{"type":"ping"}')
                got = await answer(ws)
                if not isinstance(got, dict) or got.get("type") != "pong":
                    tally.failures.append(f"worker {v.worker}: last socket no longer answers a ping: {got!r:.200}")
        except TimeoutError:
            tally.failures.append(f"worker {v.worker}: last socket no longer answers a ping (timeout)")
        finally:
            if ws is not None:
                await ws.close()


async def control_visitor(widget: Widget, done: asyncio.Event, latencies: list[float]) -> None:
    """A well-behaved visitor writing every 0.7 s while the fuzz runs (under the 100 a minute rate limit): each
    message is acknowledged."""
    n = 0
    while not done.is_set():
        n += 1
        started = time.monotonic()
        ack = await widget.say(f"control message {n}", f"control-{n}")
        assert ack["status"] == "sent", ack
        latencies.append(time.monotonic() - started)
        try:
            await asyncio.wait_for(done.wait(), 0.7)
        except TimeoutError:
            pass


async def _messages(harness: Harness) -> dict[int, str]:
    rows = await harness.bridge.store.fetch_all(sa.select(MESSAGE.c.id, MESSAGE.c.text))
    return {row.id: row.text for row in rows}


async def test_ten_thousand_fuzzed_frames_change_nothing_they_must_not(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    seed = run_seed()
    tally = Tally(seed)
    replay = replay_hint(seed, __file__)
    caplog.set_level(logging.WARNING)
    async with harness.widget(name="Control") as control:
        await control.say("before the fuzz", "control-0")
        before = await _messages(harness)
        rss_before = rss_bytes()
        done, latencies = asyncio.Event(), list[float]()
        steady = asyncio.create_task(control_visitor(control, done, latencies))
        started = time.monotonic()
        per_worker = FRAMES // WORKERS
        visitors = [Visitor(w, random.Random(f"{seed}:{w}")) for w in range(WORKERS)]
        try:
            await asyncio.gather(*(fuzz_worker(harness, v, per_worker, tally) for v in visitors))
        finally:
            elapsed = time.monotonic() - started
            done.set()
            await steady
        last = await control.say("after the fuzz", "control-last")
        assert last["status"] == "sent", replay
    rss_growth = rss_bytes() - rss_before
    after = await _messages(harness)
    frames = sum(v.sent for v in visitors)
    print(
        f"\nwidget fuzz: {replay}: {frames} frames on {tally.sockets} sockets in {elapsed:.1f} s; "
        f"RSS +{rss_growth / 2**20:.1f} MB; control acks max {max(latencies, default=0) * 1000:.0f} ms; "
        f"outcomes {dict(sorted(tally.outcomes.items(), key=lambda kv: -kv[1]))}"
    )

    assert frames >= FRAMES - WORKERS, replay
    assert not tally.failures, f"{replay}: {len(tally.failures)} failures:\n" + "\n".join(tally.failures[:MAX_REPORTED])
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, f"{replay}: logged:\n" + "\n".join(
        f"{r.name}: {r.getMessage()[:300]}" for r in errors[:MAX_REPORTED]
    )

    # Exactly the acknowledged messages were stored, each as sent (less HTML tags), and nothing else.
    new = {id_: text for id_, text in after.items() if id_ not in before}
    controls = {id_ for id_, text in new.items() if text.startswith("control message ") or text == "after the fuzz"}
    fuzzed = {id_: text for id_, text in new.items() if id_ not in controls}
    assert set(fuzzed) == set(tally.stored), f"{replay}: stored without an ack: {set(fuzzed) - set(tally.stored)}"
    for id_, text in fuzzed.items():
        sent = {mask_cards(customer_text(typed)) for typed in tally.stored[id_]}  # as stored: no HTML, no cards
        assert text in sent, f"{replay}: message {id_} stored as {text[:80]!r}, not as sent"
        assert text.strip() and len(text) <= MAX_TEXT_CHARS and "\x00" not in text, f"{replay}: stored {text[:80]!r}"
    assert len(controls) == len(latencies) + 1, replay
    contacts = await harness.bridge.store.fetch_all(
        sa.select(CONTACT.c.display_name, CONTACT.c.email, CONTACT.c.locale)
    )
    assert not [c for c in contacts if "\x00" in "".join(filter(None, c))], f"{replay}: a NUL stored in a contact"
    assert tally.stored, f"{replay}: no fuzzed message was stored: the fuzz never reached the store"
    assert rss_growth < RSS_LIMIT, f"{replay}: RSS grew {rss_growth / 2**20:.1f} MB"


# --- what the fuzz found: one test per input -------------------------------------------------------------------


async def _exchange(harness: Harness, *frames: str) -> list[dict[str, Any]]:
    """Send ``frames`` on a fresh socket, one answer each, then check the socket still answers a ping."""
    answers: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(harness.url("/widget/ws"), headers={"Origin": harness.origin})
        try:
            for frame in (*frames, '{"type":"ping"}'):
                await ws.send_str(frame)
                got = await answer(ws)
                assert isinstance(got, dict), f"socket ended ({got.type.name}, {ws.close_code}) after {frame[:80]!r}"
                answers.append(got)
        finally:
            await ws.close()
    assert answers.pop() == {"type": "pong"}
    return answers


def _no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    logged = [f"{r.name}: {r.getMessage()[:200]}" for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not logged, logged


async def test_hello_with_a_last_seen_beyond_any_message_id_is_refused(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the bound, the history query raised (OverflowError in SQLite past 2**63, asyncpg's int4 past
    2**31): the handler died, the bridge logged a traceback and wrote an HTTP 500 into the upgraded socket."""
    hellos = [f'{{"type":"hello","session":null,"last_seen":{n}}}' for n in (2**31, 2**63 - 1, 2**64 - 1)]
    refused = await _exchange(harness, *hellos)
    assert [(frame["type"], frame.get("code")) for frame in refused] == [("error", "bad_frame")] * 3
    (welcome,) = await _exchange(harness, '{"type":"hello","session":null,"last_seen":2147483647}')
    assert welcome["type"] == "welcome" and welcome["messages"] == []
    _no_errors_logged(caplog)


async def test_a_deeply_nested_frame_type_or_attribute_gets_an_error_frame(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """orjson reads 1,024 levels, but ``str()`` of ~1,000 nested lists raises RecursionError: a nested ``type``
    (in the unknown_type reason) or hello attribute killed the socket's handler with a traceback."""
    frames = []
    for depth in (900, 1000):
        deep = "[" * depth + "]" * depth
        frames += [f'{{"type":{deep}}}', f'{{"type":"hello","session":null,"last_seen":0,"attributes":{{"a":{deep}}}}}']
    answers = await _exchange(harness, *frames)
    assert [(frame["type"], frame.get("code")) for frame in answers] == [
        ("error", "unknown_type"),
        ("error", "bad_frame"),
    ] * 2
    assert "list" in answers[0]["reason"]
    _no_errors_logged(caplog)


async def test_a_shallow_nested_attribute_is_kept_as_json(harness: Harness) -> None:
    (welcome,) = await _exchange(
        harness, '{"type":"hello","session":null,"last_seen":0,"attributes":{"plan":{"tier":"pro","seats":[1,2]}}}'
    )
    assert welcome["type"] == "welcome"
    rows = await harness.bridge.store.fetch_all(sa.select(CONTACT.c.attributes))
    assert {"plan": '{"tier":"pro","seats":[1,2]}'} in [row.attributes for row in rows]


async def test_nul_characters_are_refused_in_text_and_dropped_from_the_profile(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL cannot store NUL: a message with one failed its whole group commit (other visitors' messages in
    the same batch too: their sockets closed with 1011) and a hello with one failed the contact upsert."""
    profile = '"name":"Ma\\u0000llory","locale":"pt\\u0000","email":"m@x\\u0000.io"'
    hello = '{"type":"hello","session":null,"last_seen":0,' + profile + "}"
    welcome, refused, ack = await _exchange(
        harness,
        hello,
        '{"type":"message","client_id":"n1","text":"a\\u0000b"}',
        '{"type":"message","client_id":"n2","text":"ab"}',
    )
    assert welcome["type"] == "welcome" and welcome["visitor"] == {"name": "Mallory"}
    assert refused["type"] == "error" and refused["code"] == "bad_frame" and "NUL" in refused["reason"]
    assert ack["type"] == "ack" and ack["client_id"] == "n2"
    assert [text for text in (await _messages(harness)).values()] == ["ab"]
    contacts = await harness.bridge.store.fetch_all(sa.select(CONTACT.c.display_name, CONTACT.c.locale))
    assert [(c.display_name, c.locale) for c in contacts] == [("Mallory", "pt")]
    _no_errors_logged(caplog)
