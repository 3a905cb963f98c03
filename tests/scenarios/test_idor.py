"""Visitors cannot read each other's conversations (reliability target E18, IDOR).

Visitor B has a conversation whose texts carry a marker, a file B uploaded, a reply from an agent and an unanswered
survey (a message with choices). Visitor A's session then tries 10,000 ids and tokens on every visitor-facing surface:

- WebSocket ``hello``: ``session`` (the bearer token: B's with one character changed, B's stored hash, random
  128-bit and 192-bit tokens) and ``last_seen`` (a message id: B's, their neighbours, random ones);
- WebSocket ``transcript``: ``conversation`` (B's, neighbours, random, 0, negatives, 2**31-1, 2**31);
- WebSocket ``choose``: ``message_id`` (B's survey and other messages, neighbours, random, out of range);
- WebSocket ``message`` with ``attachments``: upload ids (B's, its one-character neighbours, random, malformed);
- ``POST /widget/upload``: ``X-Switchboard-Session`` (B's token changed, B's hash, random tokens);
- ``POST /widget/file``: ``message_id`` and ``index`` (B's messages, the one with B's file, neighbours, random; kept
  under the 30 downloads a minute one visitor may ask for);
- HTTP: no visitor route takes an id or a token (``test_no_route_takes_an_id_or_a_token`` pins the route table);
  guessed id URLs and ids in the query of every route a visitor can reach.

What must hold: B's marker (and any message id of B's) never reaches A; on each surface, B's real ids get the very
bytes a missing id gets (``not_found``, ``bad_choice``, ``bad_session``, ``bad_frame``, 401, 404); the attack writes
no row and no file; B's survey is still B's to answer. An unverified visitor whose hello carries B's email (and one
whose token travels in a URL, a cookie or an Authorization header) gets 0 of B's messages.

Throttling: ``transcript``, ``choose`` and refused ``attachments`` count toward ``MESSAGES_PER_MINUTE`` per socket,
``hello`` toward ``HELLOS_PER_MINUTE`` (A's own hello opening each socket included), and the server caps the sockets
open at once per address. The attack runs against the product as shipped: throttled frames are spread over
fresh sockets opened one after another, each sending at most the per-minute limit (and a ``rate_limited`` reply
fails the test, so every attempt really reaches the check behind it).
"""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import sqlalchemy as sa
from sqlmodel import SQLModel

from bridge import texts
from bridge.engine import CONTACT, CONVERSATION, DELIVERY, IDENTITY, MESSAGE
from bridge.model import DeliveryStatus
from channels.web.channel import HELLOS_PER_MINUTE, MESSAGES_PER_MINUTE
from channels.web.sessions import visitor_id
from tests.support.harness import Harness, Widget
from tests.support.uploads import PNG, upload, uploads_on_disk

ALEX = "U0AGENT1"
MARKER = "zq-private-of-bea-5e1d"  # in every text of B's; A must never receive it
B_EMAIL = "bea@example.com"
MAX_ID = 2**31 - 1  # the largest conversation or message number (INTEGER columns)
MISSING = MAX_ID  # a number no conversation or message has in a test
SURVEY = [f"csat:{n}" for n in range(1, 6)]
ATTEMPTS = {
    "hello.session": 2_600,
    "hello.last_seen": 500,
    "transcript": 2_971,
    "choose": 3_000,
    "http": 500,
    "upload.session": 200,
    "attachments": 200,
    "file": 29,  # POST /widget/file: under DOWNLOADS_PER_MINUTE, A's downloads in one minute
}
MISSING_UPLOAD = "A" * 24  # an upload id (24 URL-safe characters) no visitor has
HTTP_TEMPLATES = (
    "/widget/transcript/{id}",
    "/transcript/{id}",
    "/widget/files/{id}",
    "/uploads/{id}",
    "/widget/conversations/{id}",
    "/widget/ws?conversation={id}",
    "/widget/i18n?lang=en&conversation={id}",
    "/metrics?conversation={id}",
    "/healthz?conversation={id}",
    "/charts/daily.png?conversation={id}",
)
VISITOR_ROUTES = {  # every route a visitor's browser can reach; a new one needs its ids added to this file's attack
    ("GET", "/widget.js"),
    ("GET", "/widget.css"),
    ("GET", "/widget/ws"),
    ("GET", "/widget/i18n"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/charts/daily.png"),  # a signed link (exp, sig) for Slack: no visitor id or token
    ("POST", "/widget/upload"),  # the session in a header (attacked below); the ids it gives, as attachments
    ("OPTIONS", "/widget/upload"),  # the CORS preflight: no id, no token
    ("POST", "/widget/file"),  # message ids and file indexes in the body, the session in a header (attacked below)
    ("OPTIONS", "/widget/file"),  # the CORS preflight: no id, no token
    ("POST", "/slack/events"),  # signed by Slack
}


@dataclass(frozen=True, slots=True)
class Party:
    """A visitor as the database knows them: token, conversations and every message (notes included)."""

    token: str
    conversations: frozenset[int]
    messages: frozenset[int]


@dataclass(frozen=True, slots=True)
class Visitors:
    ann: Widget  # visitor A, the attacker
    bea: Widget  # visitor B, the victim
    a: Party
    b: Party
    survey_id: int  # B's unanswered survey (a message with choices)
    b_upload: str  # the id of the file B uploaded and sent


async def _party(h: Harness, token: str) -> Party:
    rows = await h.bridge.store.fetch_all(
        sa.select(CONVERSATION.c.id, MESSAGE.c.id.label("message_id"))
        .join(IDENTITY, IDENTITY.c.id == CONVERSATION.c.identity_id)
        .outerjoin(MESSAGE, MESSAGE.c.conversation_id == CONVERSATION.c.id)
        .where(IDENTITY.c.channel == "web", IDENTITY.c.external_id == visitor_id(token))
    )
    return Party(
        token=token,
        conversations=frozenset(int(r.id) for r in rows),
        messages=frozenset(int(r.message_id) for r in rows if r.message_id is not None),
    )


async def _row_counts(h: Harness) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in SQLModel.metadata.sorted_tables:
        row = await h.bridge.store.fetch_one(sa.select(sa.func.count()).select_from(table))
        assert row is not None
        counts[table.name] = int(row[0])
    return counts


async def _settled(h: Harness) -> None:
    """Wait until every delivery is out (no row changes behind the test's back)."""
    for _ in range(1000):
        row = await h.bridge.store.fetch_one(
            sa.select(sa.func.count()).where(DELIVERY.c.status == DeliveryStatus.PENDING)
        )
        if row is not None and row[0] == 0:
            await h.slack.drain()
            return
        await asyncio.sleep(0.01)
    raise AssertionError("deliveries still pending after 10 s")


async def _message_with(widget: Widget, found: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    while not (hits := [f["message"] for f in widget.seen if f["type"] == "message" and found(f["message"])]):
        await widget.expect("message")
    return hits[-1]


async def _thread_of(h: Harness, text: str) -> str:
    """The ts of the card whose thread holds ``text``."""

    def find() -> str | None:
        for root in h.slack.channel_messages():
            if any(text in (m.get("text") or "") for m in h.slack.thread(str(root["ts"]))):
                return str(root["ts"])
        return None

    await h.slack.wait_for(lambda: find() is not None)
    ts = find()
    assert ts is not None
    return ts


@asynccontextmanager
async def _two_visitors(h: Harness) -> AsyncIterator[Visitors]:
    """B writes (marker), an agent answers and closes (survey); A writes and is answered. Deliveries settled."""
    async with (
        h.widget(name="Bea", email=B_EMAIL, locale="en") as bea,
        h.widget(name="Ann", locale="en") as ann,
    ):
        await bea.say(f"{MARKER}: my order 77 has not arrived", "b1")
        b_thread = await _thread_of(h, MARKER)
        sent = await upload(h, bea.welcome["session"], PNG, name=f"{MARKER}.png")
        assert sent.status == 201, sent.body
        await bea.send({"type": "message", "client_id": "b2", "text": "", "attachments": [sent.body["upload"]]})
        await bea.expect("ack")
        await h.slack.agent_says(f"{MARKER}: it ships tomorrow", thread_ts=b_thread, user=ALEX)
        await _message_with(bea, lambda m: m["text"] == f"{MARKER}: it ships tomorrow")
        await h.slack.click_button(b_thread, "desk_close", user=ALEX)
        survey = await _message_with(bea, lambda m: bool(m.get("choices")))
        assert [c["id"] for c in survey["choices"]] == SURVEY

        await ann.say("hello, I am Ann", "a1")
        a_thread = await _thread_of(h, "hello, I am Ann")
        await h.slack.agent_says("Hi Ann", thread_ts=a_thread, user=ALEX)
        await _message_with(ann, lambda m: m["text"] == "Hi Ann")
        await _settled(h)

        a, b = await _party(h, ann.welcome["session"]), await _party(h, bea.welcome["session"])
        assert len(a.conversations) == len(b.conversations) == 1 and not a.messages & b.messages
        yield Visitors(ann=ann, bea=bea, a=a, b=b, survey_id=int(survey["id"]), b_upload=sent.body["upload"])


class Attacker:
    """A's sockets, each opened with A's own session; every frame A receives is kept in ``received``."""

    def __init__(self, h: Harness, http: aiohttp.ClientSession, token: str) -> None:
        self._h = h
        self._http = http
        self.hello = {"type": "hello", "session": token, "last_seen": MAX_ID, "name": "Ann", "locale": "en"}
        self.received: list[str] = []

    async def ask(self, frames: Sequence[dict[str, Any]]) -> list[str]:
        """Send ``frames`` pipelined on one fresh socket (after A's hello); one reply each, in order."""
        ws = await self._http.ws_connect(self._h.url("/widget/ws"), headers={"Origin": self._h.origin})
        try:
            await ws.send_str(orjson.dumps(self.hello).decode())
            welcome = orjson.loads(await self._next(ws))
            assert welcome["type"] == "welcome" and welcome["messages"] == [], welcome
            for frame in frames:
                await ws.send_str(orjson.dumps(frame).decode())
            return [await self._next(ws) for _ in frames]
        finally:
            await ws.close()

    async def ask_throttled(self, frames: Sequence[dict[str, Any]], per_socket: int = MESSAGES_PER_MINUTE) -> list[str]:
        """``ask`` for frames the socket throttles: at most ``per_socket`` per socket, sockets one at a time."""
        replies: list[str] = []
        for start in range(0, len(frames), per_socket):
            replies += await self.ask(frames[start : start + per_socket])
        assert not [r for r in replies if '"rate_limited"' in r], "the attack hit the throttle: attempts untested"
        return replies

    async def _next(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        async with asyncio.timeout(30):
            msg = await ws.receive()
        assert msg.type is aiohttp.WSMsgType.TEXT, (msg.type, msg.data)
        self.received.append(str(msg.data))
        return str(msg.data)


def _ids(rng: random.Random, count: int, real: Sequence[int], top: int) -> list[int]:
    """``count`` numbers to try: each of ``real`` (twice), its neighbours (+-1..+-50), edge values, then random
    ones, half of them small enough to hit real rows (up to ``top``), half anywhere up to 2**31-1."""
    ids = [*real, *real]
    ids += sorted({n + d for n in real for d in range(-50, 51) if d} - set(real))
    ids += [0, -1, -2, -max(real), -(2**31), MAX_ID, 2**31, 2**63]
    assert len(ids) <= count, "more fixed ids than attempts"
    while len(ids) < count:
        ids.append(rng.randint(1, top) if len(ids) % 2 else rng.randint(1, MAX_ID))
    return ids


def _neighbour_tokens(token: str) -> list[str]:
    """``token`` with one character changed, at every position, to every other URL-safe base64 character."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return [token[:i] + c + token[i + 1 :] for i in range(len(token)) for c in alphabet if c != token[i]]


def _tokens(rng: random.Random, count: int, b: Party, a: Party) -> list[str]:
    """B's token cut, lengthened, upper-cased and hashed, 1,500 of its one-character neighbours, then random tokens
    of 128 and 192 bits (seeded, so a failure replays)."""
    tokens = [b.token[:-1], b.token + "A", visitor_id(b.token), b.token.upper()]
    tokens += rng.sample(_neighbour_tokens(b.token), 1500)
    while len(tokens) < count:
        raw = rng.randbytes(16 if len(tokens) % 2 else 24)
        tokens.append(base64.urlsafe_b64encode(raw).rstrip(b"=").decode())
    rng.shuffle(tokens)
    assert b.token not in tokens and a.token not in tokens and len(tokens) == count
    return tokens


def _mismatches(tried: Sequence[object], replies: Sequence[str], expected: Callable[[object], str]) -> list[Any]:
    return [(x, r) for x, r in zip(tried, replies, strict=True) if r != expected(x)][:5]


async def test_visitor_a_reads_nothing_of_b_over_10000_ids_and_tokens(harness: Harness) -> None:
    h = harness
    rng = random.Random(18)
    async with _two_visitors(h) as v, aiohttp.ClientSession() as http:
        a, b = v.a, v.b
        (b_conversation,) = b.conversations
        top = max(a.messages | b.messages | a.conversations | b.conversations) + 100
        attacker = Attacker(h, http, a.token)
        before, files_before = await _row_counts(h), uploads_on_disk(h)

        # hello.session: B's token changed by one character, B's hash, random tokens -> bad_session, A stays A
        tokens = _tokens(rng, ATTEMPTS["hello.session"], b, a)
        hello = {"type": "hello", "last_seen": 0, "name": "Bea", "email": B_EMAIL, "locale": "en"}
        hellos = [*({**hello, "session": t} for t in tokens), {**attacker.hello, "last_seen": 0}]
        replies = await attacker.ask_throttled(hellos, per_socket=HELLOS_PER_MINUTE - 1)
        own = orjson.loads(replies.pop())
        assert own["type"] == "welcome" and {m["id"] for m in own["messages"]} <= a.messages
        assert not _mismatches(tokens, replies, lambda _t: replies[0]), "a token got a different reply"
        assert orjson.loads(replies[0])["code"] == "bad_session"

        # hello.last_seen: the welcome holds A's messages after it, never B's
        seen = _ids(rng, ATTEMPTS["hello.last_seen"] - 1, sorted(b.messages), top)
        hellos = [{**attacker.hello, "last_seen": n} for n in [0, *seen]]
        replies = await attacker.ask_throttled(hellos, per_socket=HELLOS_PER_MINUTE - 1)
        full, malformed = orjson.loads(replies[0]), replies[seen.index(-1) + 1]
        assert full["type"] == "welcome" and full["messages"] and {m["id"] for m in full["messages"]} <= a.messages

        def welcome_after(n: object) -> str:
            assert isinstance(n, int)
            if not 0 <= n <= MAX_ID:
                return malformed
            return orjson.dumps({**full, "messages": [m for m in full["messages"] if m["id"] > n]}).decode()

        assert not _mismatches(seen, [_canonical(r) for r in replies[1:]], welcome_after)
        assert orjson.loads(malformed)["code"] == "bad_frame"

        # transcript.conversation: B's number gets the bytes a missing number gets; A's own is A's transcript
        numbers = _ids(rng, ATTEMPTS["transcript"] - 3, [b_conversation], top)
        asked = [None, MISSING, 0, *numbers]
        replies = await attacker.ask_throttled(
            [{"type": "transcript", **({} if n is None else {"conversation": n})} for n in asked]
        )
        mine, missing, malformed = replies[:3]
        assert orjson.loads(mine)["conversation"] in a.conversations
        assert orjson.loads(missing)["code"] == "not_found" and orjson.loads(malformed)["code"] == "bad_frame"
        assert replies[asked.index(b_conversation)] == missing, "B's conversation is told apart from a missing one"

        def transcript_reply(n: object) -> str:
            if n is None or n in a.conversations:
                return mine
            assert isinstance(n, int)
            return missing if 1 <= n <= MAX_ID else malformed

        assert not _mismatches(asked, replies, transcript_reply)

        # choose.message_id: B's survey (each of its choices) and messages, neighbours, random -> bad_choice
        targets = [v.survey_id] * 4 + sorted(b.messages)
        message_ids = _ids(rng, ATTEMPTS["choose"] - 2, targets, top)
        pressed = [(MISSING, "csat:5"), (0, "csat:5")] + [(n, SURVEY[i % 5]) for i, n in enumerate(message_ids)]
        replies = await attacker.ask_throttled([{"type": "choose", "message_id": n, "choice": c} for n, c in pressed])
        missing, malformed = replies[:2]
        assert orjson.loads(missing)["code"] == orjson.loads(malformed)["code"] == "bad_choice"
        assert {replies[i] for i, (n, _c) in enumerate(pressed) if n == v.survey_id} == {missing}

        def choose_reply(press: object) -> str:
            assert isinstance(press, tuple)
            return missing if 1 <= press[0] <= MAX_ID else malformed

        assert not _mismatches(pressed, replies, choose_reply)

        # HTTP: guessed id URLs and ids in the query of every route: B's ids answer as a missing id does
        per_template = ATTEMPTS["http"] // len(HTTP_TEMPLATES)  # MISSING first: the baseline
        http_ids = sorted({b_conversation, v.survey_id, *b.messages})
        http_ids += [n + d for n in (b_conversation, v.survey_id) for d in (-2, -1, 1, 2)] + [0, -1, MAX_ID - 1]
        while len(http_ids) < per_template - 1:
            http_ids.append(rng.randint(1, top) if len(http_ids) % 2 else rng.randint(1, MAX_ID))
        bodies = await _http_attack(h, http, [MISSING, *http_ids])
        attempts_http = 0
        for template in HTTP_TEMPLATES:
            got = bodies[template]
            attempts_http += len(got)
            baseline = got[0][1]
            assert not [(n, r) for n, r in got if r != baseline][:5], f"{template} tells ids apart"
            assert not [r for _n, r in got if MARKER in r[2]]

        # POST /widget/upload with B's token changed, B's hash, random tokens: the same 401, and no file stored
        upload_tokens = tokens[: ATTEMPTS["upload.session"]]
        answers = [await upload(h, token, PNG) for token in upload_tokens]
        assert {(answer.status, orjson.dumps(answer.body)) for answer in answers} == {
            (401, orjson.dumps(answers[0].body))
        }

        # message.attachments: B's upload id, its neighbours, random and malformed ids -> what a missing id gets
        upload_ids = [v.b_upload, v.b_upload, v.b_upload.upper(), f"../{v.b_upload}", v.b_upload + "A"]
        upload_ids += rng.sample(_neighbour_tokens(v.b_upload), 100)
        while len(upload_ids) < ATTEMPTS["attachments"] - 1:
            upload_ids.append(base64.urlsafe_b64encode(rng.randbytes(18)).decode())
        sent = [MISSING_UPLOAD, *upload_ids]
        replies = await attacker.ask_throttled(
            [{"type": "message", "client_id": "x", "text": "mine", "attachments": [u]} for u in sent]
        )
        assert orjson.loads(replies[0])["code"] == "bad_frame"
        assert not _mismatches(sent, replies, lambda _u: replies[0]), "an upload id got a different reply"

        # POST /widget/file: B's messages (the one with B's file too), neighbours, bad indexes -> the missing id's 404
        files = [(MISSING, 0), *((n, 0) for n in sorted(b.messages)), *((n, 1) for n in sorted(b.messages))]
        files += [(n + d, 0) for n in (min(b.messages), max(b.messages)) for d in (-2, -1, 1, 2)]
        files += [(0, 0), (-1, 0), (min(b.messages), -1)]
        while len(files) < ATTEMPTS["file"]:
            files.append((rng.randint(1, top), 0))
        downloads = [await _download(h, http, a.token, n, index) for n, index in files]
        assert downloads[0].startswith('404 {"error":"not_found"'), downloads[0]
        assert not _mismatches(files, downloads, lambda _f: downloads[0]), "a file id got a different reply"

        # nothing of B's reached A, and nothing was written
        assert sum(ATTEMPTS.values()) == 10_000
        assert (
            len(tokens),
            len(seen) + 1,
            len(asked),
            len(pressed),
            attempts_http,
            len(upload_tokens),
            len(sent),
            len(files),
        ) == tuple(ATTEMPTS.values())
        assert not [f for f in attacker.received if MARKER in f]
        assert _message_ids(attacker.received) <= a.messages
        assert await _row_counts(h) == before and uploads_on_disk(h) == files_before

        # B's survey is still B's to answer, and B's next texts reach B's sockets only
        await v.bea.send({"type": "choose", "message_id": v.survey_id, "choice": "csat:5"})
        chosen = await v.bea.expect("chosen")
        assert chosen["message_id"] == v.survey_id
        thanks = h.bridge.catalogs.gettext("en", texts.SURVEY_COMMENT)
        await _message_with(v.bea, lambda m: m["text"] == thanks)
        a_thread = await _thread_of(h, "hello, I am Ann")
        await h.slack.agent_says("Anything else, Ann?", thread_ts=a_thread, user=ALEX)
        await _message_with(v.ann, lambda m: m["text"] == "Anything else, Ann?")
        # A resends under B's client_id: a message of A's own (the dedupe key is per visitor), not B's "b1"
        ack = await v.ann.say("no, thanks", "b1")
        a = await _party(h, a.token)
        assert ack["id"] in a.messages and ack["id"] not in b.messages
        ann_frames = [orjson.dumps(f).decode() for f in v.ann.seen]
        assert not [f for f in ann_frames if MARKER in f or thanks in f]
        assert _message_ids(ann_frames) <= a.messages


async def test_an_unverified_visitor_giving_bs_email_gets_none_of_bs_history(harness: Harness) -> None:
    """An impostor types B's email (and name) in their hello: a new visitor with an empty history, not B; nor does
    B's token work from a URL, a cookie or an Authorization header (only a hello's ``session`` carries it)."""
    h = harness
    async with _two_visitors(h) as v, aiohttp.ClientSession() as http:
        (b_conversation,) = v.b.conversations
        before = await _row_counts(h)
        received: list[str] = []
        carriers: list[tuple[str, dict[str, str]]] = [
            ("/widget/ws", {}),
            (f"/widget/ws?session={v.b.token}", {}),
            (f"/widget/ws?token={v.b.token}", {}),
            ("/widget/ws", {"Authorization": f"Bearer {v.b.token}"}),
            ("/widget/ws", {"Cookie": f"session={v.b.token}; switchboard_session={v.b.token}"}),
        ]
        impostors: list[str] = []
        for path, headers in carriers:
            ws = await http.ws_connect(h.url(path), headers={"Origin": h.origin, **headers})
            try:
                hello = {"type": "hello", "session": None, "last_seen": 0, "name": "Bea", "email": B_EMAIL}
                frames: list[dict[str, Any]] = [
                    hello,
                    {"type": "transcript"},
                    {"type": "transcript", "conversation": b_conversation},
                    {"type": "transcript", "conversation": MISSING},
                    {"type": "choose", "message_id": v.survey_id, "choice": "csat:5"},
                    {"type": "choose", "message_id": MISSING, "choice": "csat:5"},
                ]
                for frame in frames:
                    await ws.send_str(orjson.dumps(frame).decode())
                replies = []
                for _ in frames:
                    async with asyncio.timeout(10):
                        msg = await ws.receive()
                    assert msg.type is aiohttp.WSMsgType.TEXT, (msg.type, msg.data)
                    replies.append(str(msg.data))
                received += replies
                welcome, latest, bs, missing, press_bs, press_missing = (orjson.loads(r) for r in replies)
                assert welcome["type"] == "welcome" and welcome["messages"] == [], (path, welcome)
                assert welcome["session"] != v.b.token
                impostors.append(welcome["session"])
                # and with the session just issued, asking for everything since 0 again: still nothing of B's
                await ws.send_str(orjson.dumps({**hello, "session": welcome["session"]}).decode())
                async with asyncio.timeout(10):
                    again = orjson.loads((await ws.receive()).data)
                assert again["type"] == "welcome" and again["messages"] == []
                assert latest["code"] == "no_conversation"
                assert (bs, press_bs) == (missing, press_missing), "B's ids are told apart from missing ones"
                assert (missing["code"], press_missing["code"]) == ("not_found", "bad_choice")
            finally:
                await ws.close()

        assert not [r for r in received if MARKER in r]
        after = await _row_counts(h)
        # each impostor is a new identity and contact; no message, conversation or delivery was written
        assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {
            "contact": len(carriers),
            "identity": len(carriers),
        }
        contacts = await h.bridge.store.fetch_all(
            sa.select(IDENTITY.c.external_id, IDENTITY.c.contact_id, CONTACT.c.display_name).join(
                CONTACT, CONTACT.c.id == IDENTITY.c.contact_id
            )
        )
        contact_of = {row.external_id: row.contact_id for row in contacts}
        assert len({contact_of[visitor_id(t)] for t in impostors} | {contact_of[visitor_id(v.b.token)]}) == 6


async def test_no_route_takes_an_id_or_a_token(harness: Harness) -> None:
    """Every route a visitor can reach is known to this file's attack: a new one (an upload, a download link)
    fails here until its ids are added to the attack."""
    routes = {
        (route.method, route.resource.canonical)
        for route in harness.server.app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    assert routes == VISITOR_ROUTES, "a new route: add the ids and tokens it takes to tests/scenarios/test_idor.py"
    assert not [path for _method, path in routes if "{" in path]


async def _http_attack(
    h: Harness, http: aiohttp.ClientSession, ids: Sequence[int]
) -> dict[str, list[tuple[int, tuple[int, str, str]]]]:
    """GET each template with each id (B's cookie-less, token-less browser with A's origin): per template,
    (id, (status, content type, body)); no route echoes the id, so the bodies compare as they are."""
    gate = asyncio.Semaphore(8)

    async def get(template: str, n: int) -> tuple[int, str, str]:
        async with gate, http.get(h.url(template.format(id=n)), headers={"Origin": h.origin}) as response:
            return response.status, response.content_type, await response.text()

    results: dict[str, list[tuple[int, tuple[int, str, str]]]] = {}
    for template in HTTP_TEMPLATES:
        replies = await asyncio.gather(*(get(template, n) for n in ids))
        results[template] = list(zip(ids, replies, strict=True))
    return results


async def _download(h: Harness, http: aiohttp.ClientSession, token: str, message_id: int, index: int) -> str:
    """``POST /widget/file`` as the widget asks it, with ``token``'s session: "STATUS BODY"."""
    headers = {"Origin": h.origin, "X-Switchboard-Session": token}
    body = {"message_id": message_id, "index": index}
    async with http.post(h.url("/widget/file"), json=body, headers=headers) as response:
        return f"{response.status} {await response.text(errors='replace')}"


def _canonical(reply: str) -> str:
    """A reply re-encoded the way the expectations are (key order kept, no whitespace)."""
    return orjson.dumps(orjson.loads(reply)).decode()


def _message_ids(frames: Sequence[str]) -> set[int]:
    """Every message id in ``message``, ``welcome``, ``ack`` and ``chosen`` frames."""
    ids: set[int] = set()
    for raw in frames:
        frame = orjson.loads(raw)
        if frame["type"] == "message":
            ids.add(frame["message"]["id"])
        elif frame["type"] == "welcome":
            ids |= {m["id"] for m in frame["messages"]}
        elif frame["type"] in ("ack", "chosen"):
            ids.add(frame["id"])
    return ids
