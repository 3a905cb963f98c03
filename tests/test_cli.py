"""The ``switchboard`` command as an operator meets it: one clear line on errors, a demo that stops and resumes."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from tests.support.databases import database_url

SERVE_ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_SUPPORT_CHANNEL": "C0123ABCD"}


async def _switchboard(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SWITCHBOARD_", "TELEGRAM_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge.cli", *args, env={**clean, **env}, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_serve_without_secrets_refuses_with_one_line_per_setting(tmp_path: Path) -> None:
    code, out, err = await _switchboard("serve", env={}, cwd=tmp_path)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("switchboard: config error: SLACK_") for line in lines)
    assert "Traceback" not in err


async def test_serve_on_an_unmigrated_database_says_to_migrate(tmp_path: Path) -> None:
    env = {**SERVE_ENV, "SWITCHBOARD_DATA_DIR": str(tmp_path)}
    code, _, err = await _switchboard("serve", env=env, cwd=tmp_path)
    assert code == 2 and "run `switchboard migrate` first" in err and "Traceback" not in err


async def test_migrate_then_serve_reaches_slack_check(tmp_path: Path) -> None:
    """After migrate, serve gets past the schema check and fails only on the unreachable Slack API (one line)."""
    async with database_url("sqlite", tmp_path) as url:
        env = {**SERVE_ENV, "SWITCHBOARD_DATABASE_URL": url, "SLACK_API_URL": "http://127.0.0.1:9/api/"}
        code, out, err = await _switchboard("migrate", env=env, cwd=tmp_path)
        assert code == 0 and "database is up to date" in out
        code, _, err = await _switchboard("serve", env={**env, "SWITCHBOARD_PORT": str(_free_port())}, cwd=tmp_path)
        assert code == 1 and "cannot reach Slack" in err and "Traceback" not in err


def _free_port(span: int = 1) -> int:
    """A port P with P .. P+span-1 all free (the demo uses P for the bridge and the next ones for emulators)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + span < 65536 and all(_is_free(port + n) for n in range(1, span)):
            return port
    raise AssertionError("no run of free ports found")


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def _run_demo(data_dir: Path, port: int, *, tab_open: bool = False) -> tuple[str, list[str]]:
    """Start ``switchboard demo``, talk to it as a widget visitor, then Ctrl-C it (``tab_open``: with the widget's
    socket still open, as when a browser tab is left open)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SWITCHBOARD_", "TELEGRAM_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge.cli", "demo", "--port", str(port), "--data-dir", str(data_dir),
        env=clean, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    banner = ""
    async with asyncio.timeout(60):
        while "Agent:" not in banner:
            line = (await process.stdout.readline()).decode()
            assert line, "demo exited before printing its URLs"
            banner += line
    assert re.search(rf"http://127\.0\.0\.1:{port}/", banner)
    origin = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{origin}/") as page:
            assert page.status == 200 and "/widget.js" in await page.text()
        ws = await session.ws_connect(f"{origin}/widget/ws", headers={"Origin": origin})
        session_file = data_dir / "visitor-session"
        token = session_file.read_text() if session_file.exists() else None
        await ws.send_json({"type": "hello", "session": token, "last_seen": 0, "name": "Demo"})
        welcome = await ws.receive_json()
        session_file.write_text(welcome["session"])
        await ws.send_json({"type": "message", "client_id": f"m{len(welcome['messages'])}", "text": "hello demo"})
        async with asyncio.timeout(10):
            while (await ws.receive_json())["type"] != "ack":  # the greeting may come first
                pass
        if tab_open:  # the server closes the socket ("going away": the widget reconnects) and stops at once
            process.send_signal(signal.SIGINT)
            async with asyncio.timeout(10):
                while not ws.closed:
                    await ws.receive()
            assert ws.close_code == aiohttp.WSCloseCode.GOING_AWAY
        await ws.close()
    if not tab_open:
        process.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, err.decode()[-2000:]
    return banner, [m["text"] for m in welcome["messages"] if m["author"] == "customer"]


async def test_demo_starts_stops_on_ctrl_c_and_keeps_history(tmp_path: Path) -> None:
    port = _free_port(span=3)
    _, first = await _run_demo(tmp_path, port)
    _, second = await _run_demo(tmp_path, port, tab_open=True)
    assert (first, second) == ([], ["hello demo"]), "the second start must show the first run's message"
