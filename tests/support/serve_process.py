"""A real ``switchboard serve`` in a subprocess, the Slack emulator in the test process, and widget visitors.

The crash and stop tests (``tests/crash``) start the bridge the way an operator does, stop it with SIGTERM or
SIGKILL, start it again on the same database and read what reached the emulator. Every process started here is
killed and reaped when its ``async with`` block ends, whatever happened inside it.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from bridge.sandbox.slack import SlackEmulator

SIGNING_SECRET = "crash-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-crash-token"
SUPPORT = "C0SUPPORT"
ROOT = Path(__file__).resolve().parents[2]
TEXT = re.compile(r"r(\d+)-s(\d+)-m(\d+)")
PRIVATE = ("SLACK_", "SWITCHBOARD_", "TELEGRAM_")  # the test's environment must not configure the bridge
PROXIES = ("https_proxy", "http_proxy", "all_proxy")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def slack_emulator() -> AsyncIterator[SlackEmulator]:
    """The emulator on a free loopback port. Bot messages are not echoed back as events: the bridge ignores its
    own messages anyway, and thousands of echoes would only slow the 2-core CI machine down."""
    slack = SlackEmulator(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, support_channel=SUPPORT)
    slack.echo_bot_messages = False
    await slack.start("127.0.0.1", 0)
    try:
        yield slack
    finally:
        await slack.stop()


@dataclass
class Served:
    """One ``switchboard serve`` process."""

    process: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    async def stop(self, sig: signal.Signals, timeout: float = 30.0) -> tuple[int, float]:  # noqa: ASYNC109
        """Send ``sig`` and wait for the exit: (exit code, seconds it took)."""
        started = time.monotonic()
        self.process.send_signal(sig)
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"serve did not exit {timeout} s after {sig.name}:\n{self.log_tail()}") from None
        return code, time.monotonic() - started


def serve_env(database_url: str, slack: SlackEmulator, workdir: Path, port: int) -> dict[str, str]:
    """The environment of a ``switchboard serve`` on ``port``, as an operator would set it."""
    # slack_sdk sends even loopback calls through HTTPS_PROXY & co. (it ignores NO_PROXY): drop them.
    clean = {k: v for k, v in os.environ.items() if not k.startswith(PRIVATE) and k.lower() not in PROXIES}
    return {
        **clean,
        "SWITCHBOARD_DATABASE_URL": database_url,
        "SWITCHBOARD_DATA_DIR": str(workdir),
        "SWITCHBOARD_PORT": str(port),
        "SWITCHBOARD_ALLOWED_ORIGINS": f"http://127.0.0.1:{port}",
        "SWITCHBOARD_GREETING": "off",
        "SWITCHBOARD_FAQ": "off",
        "SWITCHBOARD_NEW_CONVERSATIONS_PER_IP": "0",  # every visitor here comes from 127.0.0.1
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_SUPPORT_CHANNEL": SUPPORT,
        "SLACK_API_URL": slack.api_url,
    }


@asynccontextmanager
async def serve(database_url: str, slack: SlackEmulator, workdir: Path, *, name: str) -> AsyncIterator[Served]:
    """``python -m bridge.cli serve`` on a free port, configured through the environment like in production.

    The greeting and the FAQ bot are off so that the only Slack posts are the customers' messages and the cards.
    The log goes to ``workdir/<name>.log`` (a pipe nobody reads could fill up and stall the bridge).
    """
    port = free_port()
    env = serve_env(database_url, slack, workdir, port)
    log = workdir / f"{name}.log"
    with log.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bridge.cli", "serve", env=env, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=err,
        )  # fmt: skip
    served = Served(process, port, log)
    t0 = time.monotonic()
    try:
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), 60)
        except TimeoutError:
            raise AssertionError(f"serve did not start within 60 s:\n{served.log_tail()}") from None
        assert b"listening on" in line, f"serve exited at start ({line!r}):\n{served.log_tail()}"
        print(f"start {name}: {time.monotonic() - t0:.2f} s")
        yield served
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


@dataclass
class Visitor:
    """What one widget socket sent and which of its messages the bridge acknowledged (stored)."""

    sent: list[str] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)


def message_text(run: int, socket_no: int, n: int) -> str:
    return f"r{run}-s{socket_no}-m{n}"


async def push(served: Served, *, run: int, sockets: int, per_socket: int) -> list[Visitor]:
    """``sockets`` new widget visitors each send ``per_socket`` messages without waiting, then wait for the acks.

    A visitor whose socket dies (the bridge was killed) keeps what was acknowledged until then.
    """
    visitors = [Visitor() for _ in range(sockets)]
    t0 = time.monotonic()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(_visit(session, served, run, n, per_socket, v) for n, v in enumerate(visitors)))
    print(f"push: {time.monotonic() - t0:.2f} s")
    return visitors


async def _visit(
    session: aiohttp.ClientSession, served: Served, run: int, socket_no: int, count: int, visitor: Visitor
) -> None:
    try:
        ws = await session.ws_connect(f"{served.origin}/widget/ws", headers={"Origin": served.origin})
    except (aiohttp.ClientError, OSError):
        return
    async with ws:
        try:
            hello = {"type": "hello", "session": None, "last_seen": 0, "name": f"Visitor {socket_no}"}
            await ws.send_str(orjson.dumps({**hello, "ack_batches": True}).decode())
            for n in range(count):
                text = message_text(run, socket_no, n)
                await ws.send_str(orjson.dumps({"type": "message", "client_id": f"c{n}", "text": text}).decode())
                visitor.sent.append(text)
            by_client = {f"c{n}": text for n, text in enumerate(visitor.sent)}
            async with asyncio.timeout(60):
                while len(visitor.acked) < count:
                    msg = await ws.receive()
                    if msg.type is not aiohttp.WSMsgType.TEXT:
                        return
                    frame: dict[str, Any] = orjson.loads(msg.data)
                    acks = frame["acks"] if frame["type"] == "acks" else [frame] if frame["type"] == "ack" else []
                    visitor.acked.extend(by_client[ack["client_id"]] for ack in acks)
        except (aiohttp.ClientError, ConnectionError):
            return


@dataclass
class Posted:
    """What the emulator holds in the support channel's threads, read back by message text."""

    threads: dict[str, list[str]]  # thread ts -> texts of the replies, in posting order
    keys: list[str]  # "<idempotency key>#<part>" of every reply carrying one (Slack message metadata)
    cards: list[int]  # the conversation id of every root card carrying one

    def count(self, text: str) -> int:
        return sum(texts.count(text) for texts in self.threads.values())


def posted(slack: SlackEmulator) -> Posted:
    """Every reply the emulator accepted in the support channel (the roots are the cards)."""
    threads: dict[str, list[str]] = {}
    keys: list[str] = []
    cards: list[int] = []
    for root in slack.channel_messages():
        card = (root.get("metadata") or {}).get("event_payload") or {}
        if "conversation" in card:
            cards.append(int(card["conversation"]))
        replies = slack.thread(root["ts"])
        threads[root["ts"]] = [str(m.get("text", "")) for m in replies]
        for m in replies:
            payload = (m.get("metadata") or {}).get("event_payload") or {}
            if "key" in payload:
                keys.append(f"{payload['key']}#{payload.get('part', 0)}")
    return Posted(threads, keys, cards)


def all_posted(visitors: dict[tuple[int, int], Visitor], found: Posted) -> bool:
    """Every acknowledged message is in Slack at least once (duplicates are ``check_delivered``'s business)."""
    texts = {text for ts_texts in found.threads.values() for text in ts_texts}
    return all(text in texts for visitor in visitors.values() for text in visitor.acked)


def check_delivered(visitors: dict[tuple[int, int], Visitor], found: Posted) -> list[str]:
    """Problems with what reached Slack: a lost or duplicated acknowledged message, a thread mixing visitors, a
    visitor's messages out of order. Empty when every acknowledged message is in its thread once, in order."""
    problems: list[str] = []
    for visitor in visitors.values():
        for text in visitor.acked:
            copies = found.count(text)
            if copies != 1:
                problems.append(f"{text}: posted {copies} times")
    for ts, texts in found.threads.items():
        matches = [m for t in texts if (m := TEXT.fullmatch(t))]
        owners = {m.groups()[:2] for m in matches}
        if len(owners) > 1:
            problems.append(f"thread {ts} mixes visitors: {sorted(owners)[:5]}")
        numbers = [int(m.group(3)) for m in matches]
        if numbers != sorted(numbers):
            problems.append(f"thread {ts} is out of order: {numbers[:20]}...")
    return problems


async def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of one read-only SQL query on the bridge's database (between runs, or beside a running bridge)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return [tuple(row) for row in (await conn.execute(sa.text(sql))).all()]
    finally:
        await engine.dispose()


async def wait_until(predicate: Any, timeout: float, what: str, every: float = 0.05) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(every)
    print(f"{what}: {time.monotonic() - started:.2f} s")
