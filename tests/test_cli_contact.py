"""``switchboard contact export|erase`` and ``SWITCHBOARD_RETENTION_DAYS`` as an operator meets them from a shell:
one line per error, an exit code that says what happened, nothing written (the flows themselves are in
tests/scenarios/test_gdpr_erase_and_export.py and test_retention_deletes_old_conversations.py)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

from tests.support.databases import database_url

SLACK_ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_SUPPORT_CHANNEL": "C0123ABCD"}


async def _switchboard(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SWITCHBOARD_", "TELEGRAM_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge.cli", *args, env={**clean, **env}, cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_contact_commands_answer_in_one_line(tmp_path: Path) -> None:
    async with database_url("sqlite", tmp_path) as url:
        env = {"SWITCHBOARD_DATABASE_URL": url, "SWITCHBOARD_PORT": str(_free_port())}  # no bridge answers there
        code, _, err = await _switchboard("contact", "export", "--email", "ana@example.com", env=env, cwd=tmp_path)
        assert code == 2 and "run `switchboard migrate` first" in err and "Traceback" not in err

        assert (await _switchboard("migrate", env=env, cwd=tmp_path))[0] == 0
        out_file = tmp_path / "ana.json"
        code, out, err = await _switchboard(
            "contact", "export", "--email", "ana@example.com", "-o", str(out_file), env=env, cwd=tmp_path
        )
        assert (code, out) == (1, "")
        assert (
            err == "switchboard: error: no contact found for email ana@example.com; nothing was exported or changed\n"
        )
        assert not out_file.exists()

        code, _, err = await _switchboard("contact", "erase", "--yes", env={**env, **SLACK_ENV}, cwd=tmp_path)
        assert (
            code == 2
            and err.startswith("switchboard: error: name the person: --contact-id")
            and len(err.splitlines()) == 1
        )

        code, _, err = await _switchboard("contact", "erase", "--contact-id", "1", "--yes", env=env, cwd=tmp_path)
        assert code == 2 and all(line.startswith("switchboard: config error: SLACK_") for line in err.splitlines())

        code, _, err = await _switchboard(
            "contact", "erase", "--contact-id", "7", env={**env, **SLACK_ENV}, cwd=tmp_path
        )
        assert code == 1 and "no contact found for contact 7; nothing was erased" in err and "Traceback" not in err


async def test_serve_refuses_a_bad_retention_setting(tmp_path: Path) -> None:
    env = {**SLACK_ENV, "SWITCHBOARD_RETENTION_DAYS": "a month"}
    code, out, err = await _switchboard("serve", env=env, cwd=tmp_path)
    assert (code, out) == (2, "")
    assert err == (
        "switchboard: config error: SWITCHBOARD_RETENTION_DAYS must be a whole number of days (1-36500), "
        "got 'a month'\n"
    )
