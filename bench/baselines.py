"""DESIGN.md's baselines, re-measured on this machine with widget_load's own client.

DESIGN.md's "Baselines" were measured on a faster machine. This runs the same ceilings here and now, each
as a minimal server process (``bench.baseline_server``) driven by ``bench.widget_load``'s client (same
sockets, same 127.0.0.N source addresses, same frames, same window), so the product's figure can be read
as a ratio against a same-day ceiling:

* ``echo``: aiohttp WebSocket on uvloop + orjson, each message acked at once, nothing stored;
* ``sqlite``: each message queued, ONE writer thread does group commit (SQLite WAL, synchronous=FULL,
  one connection), acks after the commit;
* ``postgresql``: the same group commit with asyncpg on one connection, in a fresh database
  ``switchboard_baseline_<pid>`` created next to ``--pg`` and dropped afterwards;
* ``--with-bridge``: the real bridge (``bench.bench_server``, ``--outbox off``, SQLite) in the same run,
  and its ratio to the SQLite baseline.

    .venv/bin/python -m bench.baselines                         # echo, sqlite, postgresql: 10 s after 2 s each
    .venv/bin/python -m bench.baselines --modes echo,sqlite -d 5
    .venv/bin/python -m bench.baselines --with-bridge           # + the bridge, and bridge / sqlite baseline

Loopback only; it stops by itself and removes its processes, temporary files and database (also on
Ctrl-C or an error).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop
from sqlalchemy.engine import make_url

from bench.widget_load import (
    SOCKETS_PER_ADDRESS,
    Database,
    Server,
    ServerProcess,
    Stats,
    _drive,
    _free_port,
    _percentile,
    add_client_arguments,
)

MODES = ("echo", "sqlite", "postgresql")
DESIGN = {  # DESIGN.md "Baselines": loopback, 1 server process, ~200 B frames, 100 connections x 16 in flight
    "echo": ("raw aiohttp WebSocket echo, uvloop + orjson", 106_000),
    "sqlite": ("persisted, SQLite group commit, FULL", 33_000),
    "postgresql": ("persisted, PostgreSQL group commit", 30_700),
}
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
CLIENT_BOUND = 0.9  # the generator's own CPU (100% = one core) above which a figure says more about the client


@dataclass
class Result:
    name: str
    rate: float
    p50: float
    p99: float
    server_cpu: float
    client_cpu: float
    acks: int
    rows: int | None  # persisted rows counted after the run; None: nothing is stored (echo)
    errors: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors and (self.rows is None or self.rows == self.acks)

    @property
    def persisted(self) -> str:
        if self.rows is None:
            return "-" if not self.errors else f"errors: {sorted(set(self.errors))}"
        verdict = "OK" if self.ok else "MISMATCH"
        extra = f"; errors: {sorted(set(self.errors))}" if self.errors else ""
        return f"{verdict} ({self.rows:,} rows, {self.acks:,} acks){extra}"


def _result(name: str, stats: Stats, elapsed: float, server_cpu: float, client_cpu: float, rows: int | None) -> Result:
    lat = sorted(stats.latencies)
    return Result(
        name=name,
        rate=stats.acked_in_window / elapsed if elapsed > 0 else 0.0,
        p50=_percentile(lat, 0.5),
        p99=_percentile(lat, 0.99),
        server_cpu=server_cpu,
        client_cpu=client_cpu,
        acks=stats.acked_total,
        rows=rows,
        errors=list(stats.errors),
    )


# --- the servers -------------------------------------------------------------------------


class BaselineServer(ServerProcess):
    """``bench.baseline_server`` in one mode, as a separate process."""

    def __init__(self, mode: str, db: str | None, tmp: Path) -> None:
        port = _free_port()
        cmd = [sys.executable, "-m", "bench.baseline_server", "--mode", mode, "--port", str(port)]
        if db is not None:
            cmd += ["--db", db]
        super().__init__(cmd, port, tmp)


class PgDatabase:
    """A fresh PostgreSQL database next to the admin URL's, dropped afterwards."""

    def __init__(self, admin_url: str) -> None:
        base = make_url(admin_url).set(drivername="postgresql")
        self.name = f"switchboard_baseline_{os.getpid()}"
        self.admin_dsn = base.render_as_string(hide_password=False)
        self.dsn = base.set(database=self.name).render_as_string(hide_password=False)
        self.created = False

    async def _connect(self, dsn: str) -> Any:
        import asyncpg

        return await asyncpg.connect(dsn, timeout=5)

    async def unreachable(self) -> str | None:
        """Why PostgreSQL cannot be used (one line), or None."""
        try:
            conn = await self._connect(self.admin_dsn)
        except Exception as exc:  # noqa: BLE001 - any failure means "skip", with its reason
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return f"{type(exc).__name__}: {reason}".rstrip(": ")
        await conn.close()
        return None

    async def create(self) -> None:
        conn = await self._connect(self.admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')  # a crashed run's leftover
            await conn.execute(f'CREATE DATABASE "{self.name}"')
            self.created = True
        finally:
            await conn.close()

    async def count(self) -> int:
        conn = await self._connect(self.dsn)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM message"))
        finally:
            await conn.close()

    async def drop(self) -> None:
        if not self.created:
            return
        conn = await self._connect(self.admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.created = False
        finally:
            await conn.close()


def _check_exit(server: ServerProcess, tmp: Path) -> None:
    """After ``stop()``: a server that failed (its writer raised) makes the run an error."""
    if server.proc.returncode not in (0, None):
        log = (tmp / "server.log").read_text(errors="replace")[-4000:]
        raise RuntimeError(f"server exited with {server.proc.returncode}:\n{log}")


# --- the runs ----------------------------------------------------------------------------


async def _baseline(mode: str, args: argparse.Namespace, tmp: Path) -> Result:
    tmp = tmp / mode
    tmp.mkdir()
    pg: PgDatabase | None = None
    server: BaselineServer | None = None
    try:
        db: str | None = None
        if mode == "sqlite":
            db = str(tmp / "baseline.db")
        elif mode == "postgresql":
            pg = PgDatabase(args.pg)
            await pg.create()
            db = pg.dsn
        server = BaselineServer(mode, db, tmp)
        await server.wait_healthy()
        stats, elapsed, server_cpu, client_cpu = await _drive(args, server)
        server.stop()
        _check_exit(server, tmp)
        rows: int | None = None
        if mode == "sqlite":
            with contextlib.closing(sqlite3.connect(tmp / "baseline.db")) as conn:
                rows = int(conn.execute("SELECT count(*) FROM message").fetchone()[0])
        elif pg is not None:
            rows = await pg.count()
        return _result(mode, stats, elapsed, server_cpu, client_cpu, rows)
    finally:
        if server is not None:
            server.stop()
        if pg is not None:
            await pg.drop()


async def _bridge(args: argparse.Namespace, tmp: Path) -> Result:
    """widget_load's real bridge, ``--outbox off``, SQLite in a temp dir."""
    tmp = tmp / "bridge"
    tmp.mkdir()
    db = Database("sqlite", tmp)
    server: Server | None = None
    try:
        await db.create()
        server = Server(db.url, tmp, "off", None)
        await server.wait_healthy()
        stats, elapsed, server_cpu, client_cpu = await _drive(args, server)
        server.stop()
        messages, _deliveries = await db.counts()
        return _result("bridge", stats, elapsed, server_cpu, client_cpu, messages)
    finally:
        if server is not None:
            server.stop()
        await db.drop()


def _line(r: Result) -> str:
    ms = 1000.0
    design = DESIGN.get(r.name, ("", None))[1]
    if r.name == "bridge":
        design = DESIGN["sqlite"][1]
    ratio = f"{r.rate / design:.2f}x" if design else "-"
    note = "  (client-bound)" if r.client_cpu >= CLIENT_BOUND else ""
    return (
        f"  {r.name:11s}{r.rate:>9,.0f} {r.p50 * ms:>8.1f} {r.p99 * ms:>8.1f} {r.server_cpu * 100:>9.0f}% "
        f"{r.client_cpu * 100:>9.0f}% {design or 0:>9,} {ratio:>9}   {r.persisted}{note}"
    )


HEADER = (
    f"  {'mode':11s}{'msgs/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'server cpu':>10} {'client cpu':>10} "
    f"{'design':>9} {'vs design':>9}   persisted"
)


async def run(args: argparse.Namespace) -> int:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)  # clean up as on Ctrl-C
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-baselines-"))
    results: dict[str, Result] = {}
    try:
        print(
            f"switchboard baselines on this machine: widget_load's client, {args.connections} sockets x "
            f"{args.inflight} in flight, {args.text_bytes} B texts, {args.duration:g} s after {args.warmup:g} s "
            f"warm-up, acks {args.acks}; {os.cpu_count()} cores, cpu 100% = one core"
        )
        print(HEADER, flush=True)
        for mode in args.modes:
            if mode == "postgresql":
                reason = await PgDatabase(args.pg).unreachable()
                if reason is not None:
                    print(f"  {mode:11s}skipped: PostgreSQL at {args.pg} not reachable ({reason})", flush=True)
                    continue
            results[mode] = await _baseline(mode, args, tmp)
            print(_line(results[mode]), flush=True)
        if args.with_bridge:
            results["bridge"] = await _bridge(args, tmp)
            print(_line(results["bridge"]), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("  design: DESIGN.md's figure for that path (bridge: the SQLite ceiling); PostgreSQL's own CPU not counted")
    for mode in MODES:
        if mode in results:
            name, design = DESIGN[mode]
            print(f"  this machine, {name}: {results[mode].rate / design:.2f}x the design machine's {design:,}/s")
    if "bridge" in results:
        bridge = results["bridge"].rate
        if "sqlite" in results and results["sqlite"].rate > 0:
            sqlite = results["sqlite"].rate
            print(
                f"  bridge / sqlite baseline: {bridge / sqlite:.2f}x "
                f"({bridge:,.0f} vs {sqlite:,.0f} msgs/s, same machine, same client)"
            )
        else:
            print("  bridge / sqlite baseline: not measured (add sqlite to --modes)")
    return 0 if all(r.ok for r in results.values()) else 1


def _modes(value: str) -> list[str]:
    modes = [m.strip() for m in value.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise argparse.ArgumentTypeError(f"modes are a comma-separated subset of {','.join(MODES)}")
    return list(dict.fromkeys(modes))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.baselines", description=__doc__.splitlines()[0])
    parser.add_argument("--modes", type=_modes, default=list(MODES), help="comma-separated: echo,sqlite,postgresql")
    add_client_arguments(parser)
    parser.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL admin URL; the run's database is made next to it")
    parser.add_argument("--with-bridge", action="store_true", help="also run the bridge (--outbox off, SQLite)")
    parser.set_defaults(count=None)  # widget_load's client: a timed window, not a message count
    args = parser.parse_args(argv)
    if args.connections > SOCKETS_PER_ADDRESS * 250:
        parser.error("too many connections for the loopback addresses")
    try:
        return uvloop.run(run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: servers stopped, temp files and database removed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
