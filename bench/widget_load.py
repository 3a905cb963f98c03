"""Load generator: N widget sockets through the real WebSocket endpoint, persistence on.

Starts the bridge as a separate process (``bench.bench_server``: real app, loopback Slack
emulator, migrated database), opens ``--connections`` widget sockets, sends ``hello`` on each,
then keeps ``--inflight`` ``message`` frames in flight per socket for ``--duration`` seconds
after ``--warmup`` seconds (or until ``--count`` acks). It prints msgs/s, ack latency
percentiles, server and client CPU, the ratios against DESIGN.md's baselines, and checks that
the database holds exactly one message row per ack. Loopback only; it stops by itself and
removes its processes and temporary files.

    .venv/bin/python -m bench.widget_load                      # SQLite (WAL, synchronous=FULL)
    .venv/bin/python -m bench.widget_load --db postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m bench.widget_load --outbox off          # deliveries enqueued, not sent
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import uvloop
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
BASELINES = (  # DESIGN.md "Baselines": loopback, 100 connections x 16 in flight, ~200 B frames
    ("SQLite group commit, FULL (durable ceiling)", 33_000),
    ("PostgreSQL group commit", 30_700),
    ("SQLite commit per message, FULL", 4_000),
    ("sqlmodel AsyncSession per message", 620),
)
TARGET = 25_000
SOCKETS_PER_ADDRESS = 20  # the widget's per-IP socket cap (channels/web/middleware.py)
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Stats:
    """What the sockets measured; latencies only for messages sent and acked inside the window."""

    window: tuple[float, float] = (0.0, 0.0)
    acked_total: int = 0
    acked_in_window: int = 0
    latencies: list[float] = field(default_factory=list)
    other_frames: int = 0
    errors: list[str] = field(default_factory=list)
    greeted: int = 0
    all_greeted: asyncio.Event = field(default_factory=asyncio.Event)
    sockets: int = 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc/<pid>/stat, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


# --- the database ------------------------------------------------------------------------


class Database:
    """A fresh database for one run: a SQLite file in the temp dir, or a new PostgreSQL database."""

    def __init__(self, spec: str, tmp: Path) -> None:
        self.kind = "sqlite" if spec == "sqlite" or spec.startswith("sqlite") else "postgresql"
        if self.kind == "sqlite":
            self.path = tmp / "bench.db"
            self.url = f"sqlite:///{self.path}"
            self._admin = None
        else:
            base = make_url(spec)
            self.name = f"switchboard_bench_{os.getpid()}_{int(time.time())}"
            self._admin = base.set(drivername="postgresql", database="postgres")
            self.url = base.set(drivername="postgresql", database=self.name).render_as_string(hide_password=False)

    async def _pg(self, database: str) -> Any:
        import asyncpg

        assert self._admin is not None
        a = self._admin
        return await asyncpg.connect(
            host=a.host, port=a.port or 5432, user=a.username, password=a.password, database=database
        )

    async def create(self) -> None:
        if self.kind == "postgresql":
            conn = await self._pg("postgres")
            try:
                await conn.execute(f'CREATE DATABASE "{self.name}"')
            finally:
                await conn.close()

    async def counts(self) -> tuple[int, int]:
        """(customer message rows from the widget, delivery rows)."""
        q_messages = "SELECT count(*) FROM message WHERE source_channel = 'web' AND direction = 'in'"
        q_deliveries = "SELECT count(*) FROM delivery"
        if self.kind == "sqlite":
            with contextlib.closing(sqlite3.connect(self.path)) as db:
                return db.execute(q_messages).fetchone()[0], db.execute(q_deliveries).fetchone()[0]
        conn = await self._pg(self.name)
        try:
            return await conn.fetchval(q_messages), await conn.fetchval(q_deliveries)
        finally:
            await conn.close()

    async def drop(self) -> None:
        if self.kind == "postgresql":
            conn = await self._pg("postgres")
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            finally:
                await conn.close()


# --- the server process ------------------------------------------------------------------


class ServerProcess:
    """A benchmark server as a child process listening on ``port``, logging to ``tmp/server.log``."""

    def __init__(self, cmd: list[str], port: int, tmp: Path) -> None:
        self.port = port
        self.log = open(tmp / "server.log", "w+b")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    async def wait_healthy(self, limit: float = 60.0) -> None:
        deadline = time.monotonic() + limit
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"http://127.0.0.1:{self.port}/healthz") as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"server not healthy after {limit:.0f} s:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Server(ServerProcess):
    """The bridge (``bench.bench_server``): real app, loopback Slack emulator, migrated database."""

    def __init__(self, db_url: str, tmp: Path, outbox: str, profile: Path | None) -> None:
        port, self.slack_port = _free_port(), _free_port()
        cmd = [
            sys.executable,
            "-m",
            "bench.bench_server",
            "--port",
            str(port),
            "--slack-port",
            str(self.slack_port),
            "--db",
            db_url,
            "--data-dir",
            str(tmp),
            "--outbox",
            outbox,
        ]
        if profile is not None:
            cmd += ["--profile", str(profile)]
        super().__init__(cmd, port, tmp)


# --- the sockets -------------------------------------------------------------------------


async def _socket(
    index: int,
    session: aiohttp.ClientSession,
    url: str,
    origin: str,
    inflight: int,
    text: str,
    stats: Stats,
    sending: asyncio.Event,
    stop_at: list[float],
    budget: itertools.count,
    count: int | None,
    ack_batches: bool,
) -> None:
    ws = await session.ws_connect(url, headers={"Origin": origin}, max_msg_size=0, autoping=True)
    try:
        batches = "true" if ack_batches else "false"  # the widget says true: acks of one commit share a frame
        await ws.send_str(
            f'{{"type":"hello","session":null,"last_seen":0,"name":"bench {index}","ack_batches":{batches}}}'
        )
        while True:
            msg = await ws.receive()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"socket {index} closed before welcome: {msg.type} {msg.data!r}")
            if orjson.loads(msg.data)["type"] == "welcome":
                break
        stats.greeted += 1
        if stats.greeted == stats.sockets:
            stats.all_greeted.set()
        await sending.wait()
        sent_at: dict[str, float] = {}
        slots = asyncio.Semaphore(inflight)
        done = asyncio.Event()
        stopped = False

        async def receive() -> None:
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                frame = orjson.loads(msg.data)
                kind = frame["type"]
                if kind in ("ack", "acks"):
                    now = time.perf_counter()
                    for ack in frame["acks"] if kind == "acks" else (frame,):
                        t0 = sent_at.pop(ack["client_id"])
                        stats.acked_total += 1
                        w = stats.window
                        if w[0] <= t0 and now <= w[1]:
                            stats.acked_in_window += 1
                            stats.latencies.append(now - t0)
                        slots.release()
                    if stopped and not sent_at:
                        break
                elif kind == "error":
                    stats.errors.append(frame.get("code", "?"))
                    break
                else:
                    stats.other_frames += 1
            done.set()

        receiver = asyncio.create_task(receive())
        seq = 0
        prefix = f'{{"type":"message","text":"{text}","client_id":"c{index}-'
        try:
            while not done.is_set():
                await slots.acquire()
                if time.perf_counter() >= stop_at[0] or done.is_set():
                    break
                if count is not None and next(budget) >= count:
                    stop_at[0] = time.perf_counter()
                    break
                client_id = f"c{index}-{seq}"
                seq += 1
                sent_at[client_id] = time.perf_counter()
                await ws.send_str(f'{prefix}{seq - 1}"}}')
            stopped = True
            if sent_at and not done.is_set():  # collect the acks still in flight
                await asyncio.wait_for(asyncio.shield(receiver), timeout=30)
        finally:
            receiver.cancel()
    finally:
        await ws.close()


async def _drive(args: argparse.Namespace, server: ServerProcess) -> tuple[Stats, float, float, float]:
    stats = Stats(sockets=args.connections)
    url = f"http://127.0.0.1:{server.port}/widget/ws"
    origin = f"http://127.0.0.1:{server.port}"
    text = ("Hello, I have a question about my order " * 4)[: args.text_bytes]
    sending = asyncio.Event()
    far = time.perf_counter() + 10**6
    stop_at = [far]
    budget = itertools.count()
    sessions: list[aiohttp.ClientSession] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        for i in range(args.connections):  # spread over 127.0.0.N: the cap is per client address
            if i % SOCKETS_PER_ADDRESS == 0:
                address = f"127.0.0.{2 + i // SOCKETS_PER_ADDRESS}"
                connector = aiohttp.TCPConnector(limit=0, local_addr=(address, 0))
                sessions.append(aiohttp.ClientSession(connector=connector))
            tasks.append(
                asyncio.create_task(
                    _socket(
                        i,
                        sessions[-1],
                        url,
                        origin,
                        args.inflight,
                        text,
                        stats,
                        sending,
                        stop_at,
                        budget,
                        args.count,
                        args.acks == "batched",
                    )
                )
            )
        greeted = asyncio.create_task(stats.all_greeted.wait())
        await asyncio.wait([greeted, *tasks], timeout=60, return_when=asyncio.FIRST_COMPLETED)
        greeted.cancel()
        for t in tasks:
            if t.done():
                t.result()  # a socket that ended before sending: raise its error
        if not stats.all_greeted.is_set():
            raise RuntimeError(f"only {stats.greeted} of {args.connections} sockets were greeted in 60 s")
        start = time.perf_counter()
        warm_end = start + args.warmup
        stats.window = (warm_end, far if args.count is not None else warm_end + args.duration)
        if args.count is None:
            stop_at[0] = warm_end + args.duration
        sending.set()
        await asyncio.sleep(args.warmup)
        cpu0_server, cpu0_client, t0 = _cpu_seconds(server.proc.pid), _own_cpu_seconds(), time.perf_counter()
        if args.count is None:
            await asyncio.sleep(max(0.0, stats.window[1] - time.perf_counter()))
            cpu1_server, cpu1_client, t1 = _cpu_seconds(server.proc.pid), _own_cpu_seconds(), time.perf_counter()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
        else:
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=600)
            cpu1_server, cpu1_client, t1 = _cpu_seconds(server.proc.pid), _own_cpu_seconds(), time.perf_counter()
            stats.window = (warm_end, t1)
        elapsed = t1 - t0
        return stats, elapsed, (cpu1_server - cpu0_server) / elapsed, (cpu1_client - cpu0_client) / elapsed
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for s in sessions:
            await s.close()


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(p * (len(values) - 1))))
    return values[k]


async def run(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    db = Database(args.db, tmp)
    server: Server | None = None
    try:
        await db.create()
        server = Server(db.url, tmp, args.outbox, args.profile)
        await server.wait_healthy()
        stats, elapsed, server_cpu, client_cpu = await _drive(args, server)
        messages, deliveries = await db.counts()
    finally:
        if server is not None:
            server.stop()
        await db.drop()
        shutil.rmtree(tmp, ignore_errors=True)

    lat = sorted(stats.latencies)
    rate = stats.acked_in_window / elapsed if elapsed > 0 else 0.0
    ms = 1000.0
    print(
        f"switchboard widget load: {args.connections} sockets x {args.inflight} in flight, "
        f"{args.text_bytes} B texts, db={db.kind}, outbox={args.outbox}"
    )
    print(f"  window     {elapsed:.2f} s after {args.warmup:g} s warm-up")
    print(f"  throughput {rate:,.0f} persisted msgs/s ({stats.acked_in_window:,} acks in window)")
    print(
        f"  latency    p50 {_percentile(lat, 0.5) * ms:.2f} ms   p99 {_percentile(lat, 0.99) * ms:.2f} ms   "
        f"max {(lat[-1] if lat else float('nan')) * ms:.2f} ms"
    )
    print(
        f"  cpu        server {server_cpu * 100:.0f}% (bridge + in-process Slack emulator)   "
        f"client {client_cpu * 100:.0f}%   (100% = one core; {os.cpu_count()} cores)"
    )
    print(f"  target     {rate / TARGET:.2f}x of {TARGET:,} msgs/s")
    for name, value in BASELINES:
        print(f"  vs {name:44s} {value:>6,}/s: {rate / value:6.2f}x")
    ok = messages == stats.acked_total and not stats.errors
    print(
        f"  persisted  {messages:,} message rows, {deliveries:,} delivery rows, {stats.acked_total:,} acks "
        f"-> {'OK' if ok else 'MISMATCH'}" + (f"; errors: {sorted(set(stats.errors))}" if stats.errors else "")
    )
    if stats.other_frames:
        print(f"  other      {stats.other_frames:,} non-ack frames received (delivered statuses)")
    return 0 if ok else 1


def add_client_arguments(parser: argparse.ArgumentParser) -> None:
    """The load generator's own options (``_drive`` reads them), shared with ``bench.baselines``."""
    parser.add_argument("--connections", "-c", type=int, default=100)
    parser.add_argument("--inflight", "-i", type=int, default=16, help="messages in flight per socket")
    parser.add_argument("--duration", "-d", type=float, default=10.0, help="measured seconds after warm-up")
    parser.add_argument("--warmup", "-w", type=float, default=2.0)
    parser.add_argument(
        "--acks",
        choices=("batched", "single"),
        default="batched",
        help="batched (like the widget): the hello says ack_batches, acks of one commit share a frame",
    )
    parser.add_argument("--text-bytes", type=int, default=120, help="message text size (frame is ~80 B more)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.widget_load", description=__doc__.splitlines()[0])
    add_client_arguments(parser)
    parser.add_argument("--count", "-n", type=int, help="stop after this many messages instead of a duration")
    parser.add_argument("--db", default="sqlite", help="sqlite (default: a temp file) or postgresql://user@host/db")
    parser.add_argument("--outbox", choices=("on", "off"), default="on")
    parser.add_argument("--profile", type=Path, help="cProfile the server into this file")
    args = parser.parse_args(argv)
    if args.connections > SOCKETS_PER_ADDRESS * 250:
        parser.error("too many connections for the loopback addresses")
    return uvloop.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
