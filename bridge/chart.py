"""This module contains the App Home chart: a PNG of new and resolved conversations per day over the last 30 days,
served by the bridge at ``GET /charts/daily.png?exp=...&sig=...`` (issue 6).

Slack fetches the image from the bridge, so the link must be public, yet the figures are not: every link carries
its expiry (``exp``, Unix seconds) and an HMAC-SHA256 signature (``sig``) over path and expiry, keyed by a key
derived from the Slack signing secret. A link without a valid, unexpired signature gets 403 with the reason.
The image is drawn with Pillow (its bundled font, no system fonts needed) in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from io import BytesIO
from typing import final
from urllib.parse import urlencode

import sqlalchemy as sa
from aiohttp import web
from PIL import Image, ImageDraw, ImageFont

from bridge.engine import CONVERSATION
from bridge.model import ConversationStatus, as_utc, utcnow
from bridge.stats import Period, days_of, period
from bridge.store import Store

__all__ = ["CHART_PATH", "ChartLinks", "DailyChart", "DayCount", "render"]

CHART_PATH = "/charts/daily.png"
LINK_TTL = timedelta(hours=1)
PERIOD = "30d"
WIDTH, HEIGHT = 1200, 500
BACKGROUND, INK, GRID = (255, 255, 255), (29, 28, 29), (221, 221, 221)
NEW_COLOUR, RESOLVED_COLOUR = (18, 100, 163), (46, 182, 125)
_PLOT = (80, 80, WIDTH - 30, HEIGHT - 60)  # left, top, right, bottom of the bars' area
_LABEL_EVERY = 5  # days between two day labels (counted back from the last day)


@dataclass(frozen=True, slots=True)
class DayCount:
    """Conversations created and resolved on one UTC day."""

    day: date
    new: int
    resolved: int


def render(days: Sequence[DayCount]) -> bytes:
    """A PNG bar chart of ``days`` (one pair of bars per day), with a value axis, day labels and a legend."""
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    title, label = ImageFont.load_default(size=26), ImageFont.load_default(size=19)
    left, top, right, bottom = _PLOT
    top_value = max((max(d.new, d.resolved) for d in days), default=0)
    step = _nice_step(top_value)
    ceiling = step * max(1, math.ceil(top_value / step))

    def y_of(value: int) -> float:
        return bottom - (bottom - top) * value / ceiling

    for value in range(0, ceiling + 1, step):
        draw.line([(left, y_of(value)), (right, y_of(value))], fill=GRID, width=1)
        draw.text((left - 12, y_of(value)), f"{value:,}", font=label, fill=INK, anchor="rm")
    slot = (right - left) / max(1, len(days))
    bar = slot * 0.4
    for index, day in enumerate(days):
        x = left + index * slot + slot * 0.1
        for offset, value, colour in ((0.0, day.new, NEW_COLOUR), (bar, day.resolved, RESOLVED_COLOUR)):
            if value:
                draw.rectangle([(x + offset, y_of(value)), (x + offset + bar - 1, bottom)], fill=colour)
        if (len(days) - 1 - index) % _LABEL_EVERY == 0:
            middle = left + (index + 0.5) * slot
            draw.line([(middle, bottom), (middle, bottom + 6)], fill=INK, width=2)
            draw.text((middle, bottom + 10), f"{day.day:%b} {day.day.day}", font=label, fill=INK, anchor="mt")
    draw.line([(left, bottom), (right, bottom)], fill=INK, width=2)
    draw.text((left, 22), "Conversations per day (UTC)", font=title, fill=INK, anchor="lm")
    legend_x = right
    for name, colour in (("Resolved", RESOLVED_COLOUR), ("New", NEW_COLOUR)):
        legend_x -= draw.textlength(name, font=label)
        draw.text((legend_x, 22), name, font=label, fill=INK, anchor="lm")
        draw.rectangle([(legend_x - 26, 14), (legend_x - 8, 32)], fill=colour)
        legend_x -= 50
    out = BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _nice_step(top: int) -> int:
    """A grid step of 1, 2 or 5 times a power of ten giving at most five lines above zero."""
    for magnitude in (10**n for n in range(12)):
        for factor in (1, 2, 5):
            if top <= 5 * factor * magnitude:
                return factor * magnitude
    raise ValueError(f"{top} conversations a day is off the chart")


@final
class ChartLinks:
    """Signs and checks expiring chart links; the key is derived from ``secret`` (the Slack signing secret)."""

    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), b"switchboard chart links", hashlib.sha256).digest()

    def signature(self, path: str, expires: int) -> str:
        return hmac.new(self._key, f"{path}?exp={expires}".encode(), hashlib.sha256).hexdigest()

    def query(self, path: str, expires: int) -> str:
        """``exp=...&sig=...`` for a link to ``path`` valid until ``expires`` (Unix seconds)."""
        return urlencode({"exp": expires, "sig": self.signature(path, expires)})

    def refusal(self, path: str, query: Mapping[str, str], now: datetime) -> str | None:
        """Why the link with ``query`` must be refused at ``now``; None when it is valid."""
        expires, signature = query.get("exp", ""), query.get("sig", "")
        if not expires or not signature:
            return "this link needs its exp and sig parameters"
        if not _SECONDS.fullmatch(expires):  # ASCII digits only: "²".isdigit() is true, int("²") is not
            return "exp must be a Unix time in seconds"
        expected = self.signature(path, int(expires))
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return "bad signature"
        if int(expires) <= now.timestamp():
            return "this link has expired: open App Home again for a fresh chart"
        return None


_SECONDS = re.compile(r"[0-9]{1,12}")


@final
class DailyChart:
    """``GET /charts/daily.png``: the chart of the last 30 days behind a signed link; ``url()`` makes such links."""

    def __init__(
        self, store: Store, *, secret: str, public_url: str | None, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._store = store
        self._links = ChartLinks(secret)
        self._public_url = public_url.rstrip("/") if public_url else None
        self._clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [web.get(CHART_PATH, self.handle)]

    def url(self) -> str | None:
        """A fresh signed link to the chart, valid for an hour; None without ``SWITCHBOARD_PUBLIC_URL``."""
        if self._public_url is None:
            return None
        expires = math.ceil((self._clock() + LINK_TTL).timestamp())
        return f"{self._public_url}{CHART_PATH}?{self._links.query(CHART_PATH, expires)}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        reason = self._links.refusal(CHART_PATH, request.query, self._clock())
        if reason is not None:
            return web.json_response({"error": reason}, status=403)
        png = await asyncio.to_thread(render, await self.counts())
        return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "private, max-age=300"})

    async def counts(self) -> list[DayCount]:
        """New and resolved conversations per UTC day of the last 30 days, oldest first."""
        chosen = period(PERIOD, now=self._clock())
        rows = await self._store.fetch_all(
            sa.select(CONVERSATION.c.created_at, CONVERSATION.c.resolved_at, CONVERSATION.c.status).where(
                sa.or_(CONVERSATION.c.created_at >= chosen.since, CONVERSATION.c.resolved_at >= chosen.since)
            )
        )
        new = Counter(_day(row.created_at, chosen) for row in rows)
        resolved = Counter(
            _day(row.resolved_at, chosen)
            for row in rows
            if row.status == ConversationStatus.RESOLVED and row.resolved_at is not None
        )
        return [DayCount(day, new[day], resolved[day]) for day in days_of(chosen)]


def _day(moment: datetime, chosen: Period) -> date | None:
    """The UTC day of ``moment`` when it falls in ``chosen``; None otherwise."""
    moment = as_utc(moment)
    return moment.date() if chosen.since <= moment < chosen.until else None
