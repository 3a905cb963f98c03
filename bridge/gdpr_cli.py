"""This module contains the `switchboard contact export` and `switchboard contact erase` commands (GDPR).

``export`` may run while the bridge serves. ``erase`` runs with every ``switchboard serve`` stopped: a running bridge
keeps each customer's open conversation and each thread in memory (``Engine``'s routes), and a message routed to an
erased conversation would fail to store. ``erase`` refuses while a bridge serves the database (it holds the database's
serve lock, ``bridge.serve_lock``), wherever that bridge runs.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge import cli
from bridge.config import Settings, database_url
from bridge.gdpr import (
    CopiesErased,
    Leftover,
    Matched,
    Selector,
    UnknownContact,
    erase_rows,
    export,
    find_contacts,
    platform_copies,
    summary_line,
    upload_visitors,
)
from bridge.model import utcnow
from bridge.schema import ensure_current
from bridge.serve_lock import AnotherBridgeRuns, ServeLock
from bridge.store import create_engine
from bridge.upload_files import UploadFiles

__all__ = ["register"]

T = TypeVar("T")
Handler = Callable[[argparse.Namespace], int]
CONFIRM_WORD = "erase"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `contact` command with `export` and `erase`; each sets `handler(args) -> exit code`."""
    contact = subparsers.add_parser("contact", help="export or erase everything stored about a person (GDPR)")
    commands = contact.add_subparsers(dest="contact_command", required=True, metavar="COMMAND")
    export_ = commands.add_parser("export", help="write the person's data as one JSON document")
    _common(export_)
    export_.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    export_.set_defaults(handler=_one_line_errors(_export))
    erase = commands.add_parser(
        "erase", help="delete the person's data and the bot's copies in Slack and Telegram (bridge stopped)"
    )
    _common(erase)
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation (needed without a terminal)")
    erase.set_defaults(handler=_one_line_errors(_erase))


def _one_line_errors(handler: Handler) -> Handler:
    """``cli.main`` prints a ``CliError`` in one line, but run as ``python -m bridge.cli`` its module is
    ``__main__``, whose ``CliError`` is another class than the ``bridge.cli`` one raised here: print it here."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        for noisy in ("alembic", "slack_sdk", "httpx"):  # their INFO lines (schema check, retries) are not the answer
            logging.getLogger(noisy).setLevel(logging.WARNING)
        try:
            return handler(args)
        except cli.CliError as exc:
            print(f"switchboard: error: {exc}", file=sys.stderr)
            return exc.code

    return run


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML file with settings (lower-case keys)")
    who = parser.add_argument_group("the person (repeatable; all the contacts they match together)")
    who.add_argument("--contact-id", type=int, action="append", default=[], metavar="N", help="a contact's id")
    who.add_argument(
        "--conversation", type=int, action="append", default=[], metavar="N", help="the contact of Conversation #N"
    )
    who.add_argument("--email", action="append", default=[], metavar="ADDR", help="every contact that gave ADDR")
    who.add_argument("--telegram-chat", action="append", default=[], metavar="ID", help="a Telegram chat id")
    who.add_argument(
        "--widget-visitor", action="append", default=[], metavar="ID", help="a widget visitor id (identity)"
    )


def _selector(args: argparse.Namespace) -> Selector:
    selector = Selector(
        contact_ids=tuple(args.contact_id),
        conversation_ids=tuple(args.conversation),
        emails=tuple(args.email),
        telegram_chats=tuple(args.telegram_chat),
        widget_visitors=tuple(args.widget_visitor),
    )
    if not selector:
        raise cli.CliError(
            "name the person: --contact-id, --conversation, --email, --telegram-chat or --widget-visitor", code=2
        )
    return selector


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


# ---------------------------------------------------------------------------------------------------------- export


def _export(args: argparse.Namespace) -> int:
    url = database_url(os.environ, args.config)
    selector = _selector(args)

    async def run() -> tuple[list[Matched], dict[str, Any]]:
        await cli._guard_db(ensure_current(url), url)
        return await cli._guard_db(_read_export(url, selector), url)

    matched, document = _run(run())
    body = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    output: Path | None = args.output
    if output is None:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    else:
        _write_private(output, body)
    where = "standard output" if output is None else str(output)
    print(f"switchboard: exported {_who(matched)}: {document['message_count']} messages, to {where}", file=sys.stderr)
    return 0


async def _read_export(url: str, selector: Selector) -> tuple[list[Matched], dict[str, Any]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            if conn.dialect.name == "postgresql":  # one snapshot: a bridge serving meanwhile cannot tear it
                await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                matched = await _find(conn, selector)
                document = await export(conn, [m.contact_id for m in matched], now=utcnow())
    finally:
        await engine.dispose()
    return matched, document


async def _find(conn: AsyncConnection, selector: Selector) -> list[Matched]:
    try:
        return await find_contacts(conn, selector)
    except UnknownContact as exc:
        raise cli.CliError(f"{exc}; nothing was exported or changed") from None


def _write_private(path: Path, body: bytes) -> None:
    """Write ``body`` readable by its owner only (it is personal data), replacing ``path`` in one step."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(body)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise cli.CliError(f"cannot write {path}: {exc.strerror}") from None


def _who(matched: Sequence[Matched]) -> str:
    return ", ".join(f"contact #{m.contact_id}" for m in matched)


# ----------------------------------------------------------------------------------------------------------- erase


@dataclass(slots=True)
class _Report:
    deleted: dict[str, int]
    slack: CopiesErased = field(default_factory=CopiesErased)
    telegram: CopiesErased = field(default_factory=CopiesErased)
    uploads: int = 0  # files the person uploaded from the widget, deleted from the data folder

    @property
    def leftovers(self) -> list[Leftover]:
        return [*self.slack.leftovers, *self.telegram.leftovers]


def _erase(args: argparse.Namespace) -> int:
    settings = Settings.load(os.environ, args.config)
    selector = _selector(args)
    url = settings.database_url

    async def prepare() -> list[Matched]:
        await cli._guard_db(ensure_current(url), url)
        if await _bridge_serving(url):
            raise cli.CliError(
                "a bridge is serving this database: stop `switchboard serve` first "
                "(it keeps conversations in memory); nothing was erased"
            )
        return await cli._guard_db(_matched(url, selector), url)

    matched = _run(prepare())
    _confirm(matched, yes=args.yes)
    report = _run(_erase_everywhere(settings, [m.contact_id for m in matched]))
    _print_report(matched, report)
    return 0


async def _matched(url: str, selector: Selector) -> list[Matched]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            try:
                return await find_contacts(conn, selector)
            except UnknownContact as exc:
                raise cli.CliError(f"{exc}; nothing was erased") from None
    finally:
        await engine.dispose()


async def _bridge_serving(url: str) -> bool:
    """Whether a bridge serves the database at ``url`` now (it holds the serve lock)."""
    engine = create_engine(url)
    try:
        async with ServeLock(engine, wait=0.0):
            return False
    except AnotherBridgeRuns:
        return True
    finally:
        await engine.dispose()


def _confirm(matched: Sequence[Matched], *, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise cli.CliError("refusing to erase without --yes: standard input is not a terminal; nothing was erased")
    print("This erases, for good:", file=sys.stderr)
    for m in matched:
        print(f"  {_describe(m)}", file=sys.stderr)
    print("and deletes the bot's copies of their messages in Slack and Telegram.", file=sys.stderr)
    try:
        answer = input(f"Type '{CONFIRM_WORD}' to go on: ")
    except EOFError:
        answer = ""
    if answer.strip().lower() != CONFIRM_WORD:
        raise cli.CliError("not confirmed; nothing was erased")


def _describe(m: Matched) -> str:
    name = m.display_name or "no name"
    email = f", {m.email}" if m.email else ""
    identities = "; ".join(m.identities) or "no identities"
    held = f"{m.conversations} conversations, {m.messages} messages"
    return f"contact #{m.contact_id} ({name}{email}; {identities}): {held}"


async def _erase_everywhere(settings: Settings, contact_ids: list[int]) -> _Report:
    """Platform copies and uploaded files first, then the rows in one transaction: should anything stop midway, the
    rows still say what to delete, and running the command again finishes the job (copies already gone count as
    deleted)."""
    slack_erase = importlib.import_module("channels.slack.erase")
    telegram_erase = importlib.import_module("channels.telegram.erase")
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            copies = await cli._guard_db(platform_copies(conn, contact_ids), settings.database_url)
            visitors = await cli._guard_db(upload_visitors(conn, contact_ids), settings.database_url)
        replies = any(copy.by_bot for copy in copies.telegram)  # a platform with nothing to delete is not asked
        bot = telegram_erase.eraser_bot(settings.telegram) if settings.telegram is not None and replies else None
        try:
            if bot is not None:
                await _checked("Telegram", bot.initialize())  # getMe: a bad token stops us before anything changes
            slack = CopiesErased()
            if copies.slack_threads or copies.slack_orphans:
                client = slack_erase.eraser_client(settings.slack)
                slack = await _checked(
                    "Slack",
                    slack_erase.erase_slack_copies(client, copies, support_channel=settings.slack.support_channel),
                )
            telegram = await telegram_erase.erase_telegram_copies(bot, copies.telegram)
        finally:
            if bot is not None:
                await bot.shutdown()
        uploads = await UploadFiles.in_data_folder(settings.data_dir).delete_visitors(visitors)
        async with engine.begin() as conn:
            deleted = await cli._guard_db(erase_rows(conn, contact_ids), settings.database_url)
    finally:
        await engine.dispose()
    return _Report(deleted=deleted, slack=slack, telegram=telegram, uploads=uploads)


async def _checked(platform: str, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro``; a platform that cannot be reached or refuses the token is one line (nothing erased yet)."""
    try:
        return await coro
    except Exception as exc:
        if type(exc).__module__.startswith(("slack_sdk", "telegram", "aiohttp", "httpx")):
            raise cli.CliError(f"cannot reach {platform} ({exc}); nothing was erased") from None
        raise


def _print_report(matched: Sequence[Matched], report: _Report) -> None:
    print(f"switchboard: erased {_who(matched)}")
    print(f"  database rows deleted: {summary_line(report.deleted)}")
    slack, telegram = report.slack, report.telegram
    print(f"  slack: {_count(slack.deleted, 'message')} and {_count(slack.files_deleted, 'file')} deleted")
    print(f"  telegram: {_count(telegram.deleted, 'message')} deleted")
    print(f"  uploads: {_count(report.uploads, 'file')} the person sent from the widget deleted")
    leftovers = report.leftovers
    if not leftovers:
        print("  nothing left behind")
        return
    print(f"  not deleted ({len(leftovers)}):")
    for leftover in leftovers:
        print(f"    {leftover.platform} {leftover.where}: {leftover.reason}")


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"
