"""This module contains ``/stats [period]`` and the Block Kit of the support figures.

``/stats`` answers ephemerally (only the agent who asked sees it) with a compact Block Kit summary, and only to
those who may act on conversations (``Permissions``). The App Home tab itself lives in ``channels/slack/home.py``;
from here it takes ``home_blocks`` (the same figures with a chart of new conversations per day) and
``chart_section`` (the text chart).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bridge.stats import PERIODS, Figures, Report, Stats, UnknownPeriod, format_duration, format_share
from channels.slack.permissions import Permissions
from channels.slack.translate import escape_mrkdwn

COMMAND = "/stats"
USAGE = f"Usage: `/stats [{' | '.join(PERIODS)}]` (default `7d`), e.g. `/stats 30d`."
PERIOD_TITLES = {"today": "today", "7d": "the last 7 days", "30d": "the last 30 days", "month": "this month"}
CHANNEL_NAMES = {"web": "Website", "telegram": "Telegram", "slack": "Slack"}
MAX_ROWS = 15  # agents or channels listed; the rest are summed up in one line
BARS = " ▁▂▃▄▅▆▇█"


def register(bolt: AsyncApp, stats: Stats, *, permissions: Permissions) -> None:
    """Add ``/stats`` to ``bolt``; only those who may act on conversations see the figures."""
    bolt.command(COMMAND)(_Handlers(stats, permissions).command)


class _Handlers:
    def __init__(self, stats: Stats, permissions: Permissions) -> None:
        self._stats = stats
        self._permissions = permissions

    async def command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        if not await self._permissions.allowed(str(command.get("user_id") or "")):
            await ack(response_type="ephemeral", text=f"Only {self._permissions.who} can see the support stats.")
            return
        words = str(command.get("text") or "").split()
        if len(words) > 1:
            await ack(response_type="ephemeral", text=USAGE)
            return
        try:
            chosen = self._stats.period(words[0] if words else "7d")
        except UnknownPeriod:
            await ack(response_type="ephemeral", text=USAGE)
            return
        report = await self._stats.report(chosen)
        await ack(response_type="ephemeral", text=summary_text(report), blocks=summary_blocks(report))


def _count(value: int) -> str:
    return f"{value:,}"


def _csat(figures: Figures) -> str:
    if figures.csat_average is None:
        return "—"
    return f"{figures.csat_average:.1f}/5 ({_count(figures.csat_count)})"


def _span(report: Report) -> str:
    since, until = report.period.since, report.period.until
    return f"{since:%b %d %H:%M} – {until:%b %d %H:%M} UTC"


def summary_text(report: Report) -> str:
    """The plain-text fallback (notifications, screen readers)."""
    t = report.total
    return (
        f"Support stats for {PERIOD_TITLES[report.period.name]}: {_count(t.conversations)} conversations, "
        f"first response median {format_duration(t.first_response.median)}, "
        f"resolution rate {format_share(t.resolution_rate)}, CSAT {_csat(t)}."
    )


def figure_fields(t: Figures) -> list[dict[str, str]]:
    """The headline figures as section fields (at most 10)."""
    rows = [
        ("Conversations", _count(t.conversations)),
        ("Messages in / out", f"{_count(t.messages_in)} / {_count(t.messages_out)}"),
        (
            "First response (median / p90)",
            f"{format_duration(t.first_response.median)} / {format_duration(t.first_response.p90)}",
        ),
        ("Resolution (median / p90)", f"{format_duration(t.resolution.median)} / {format_duration(t.resolution.p90)}"),
        ("Resolution rate", f"{format_share(t.resolution_rate)} ({_count(t.resolved)} resolved)"),
        ("CSAT", _csat(t)),
        ("Resolved by the bot alone", format_share(t.bot_resolved_share)),
    ]
    return [{"type": "mrkdwn", "text": f"*{label}*\n{value}"} for label, value in rows]


def _line(name: str, f: Figures) -> str:
    return (
        f"• {name}: {_count(f.conversations)} conv · first response {format_duration(f.first_response.median)}"
        f" (p90 {format_duration(f.first_response.p90)}) · resolution {format_duration(f.resolution.median)}"
        f" · resolved {format_share(f.resolution_rate)} · CSAT {_csat(f)}"
    )


def _breakdown(title: str, rows: dict[str, Figures], name: Any) -> dict[str, Any]:
    lines = [_line(name(key), figures) for key, figures in list(rows.items())[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        lines.append(f"…and {len(rows) - MAX_ROWS} more")
    body = "\n".join(lines) if lines else "_none in this period_"
    return {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{body}"[:3000]}}


def _channel_name(key: str) -> str:
    return CHANNEL_NAMES.get(key, escape_mrkdwn(key.title()))


def _agent_name(key: str) -> str:
    return f"<@{key}>" if key.isalnum() else escape_mrkdwn(key)


def summary_blocks(report: Report) -> list[dict[str, Any]]:
    """The ``/stats`` answer: headline figures, then by channel and by agent."""
    return [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"Support stats: {PERIOD_TITLES[report.period.name]}"},
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _span(report)}]},
        {"type": "section", "fields": figure_fields(report.total)},
        _breakdown("By channel", report.by_channel, _channel_name),
        _breakdown("By agent", report.by_agent, _agent_name),
    ]


def chart(report: Report) -> str:
    """New conversations per day as a one-line bar chart, with its scale."""
    counts = [n for _day, n in report.daily]
    if not counts:
        return "_no days in this period_"
    top = max(counts)
    bars = "".join(BARS[0 if top == 0 else round(n / top * (len(BARS) - 1))] for n in counts)
    first, last = report.daily[0][0], report.daily[-1][0]
    return f"*New conversations per day* (max {_count(top)})\n`{bars}`\n{first:%b %d} – {last:%b %d}"


def home_blocks(report: Report, chart_blocks: Sequence[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The App Home figures: the ``/stats`` summary of the period plus ``chart_blocks`` (default: the text chart)."""
    summary = summary_blocks(report)
    shown = list(chart_blocks) if chart_blocks is not None else [chart_section(report)]
    return [*summary[:3], *shown, *summary[3:]]


def chart_section(report: Report) -> dict[str, Any]:
    """The text chart as a section block."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": chart(report)}}
