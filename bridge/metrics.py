"""This module contains ``GET /metrics``: Prometheus text exposition (format 0.0.4), written by hand.

Counts and gauges are read from the store at scrape time, so they are the same from every process
and survive restarts; the delivery-latency histogram is observed by this process's outbox (time from
a message being stored to its delivery being sent), as Prometheus expects of a per-process histogram.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from aiohttp import web

from bridge.engine import CONVERSATION, DELIVERY, MESSAGE
from bridge.model import ConversationStatus, DeliveryStatus
from bridge.outbox import Outbox
from bridge.stats import INTERNAL
from bridge.store import Store

log = logging.getLogger("switchboard.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
SCRAPE_TIMEOUT = 5.0


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{name}="{_escape(value)}"' for name, value in pairs)
    return f"{{{inner}}}" if inner else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def family(
    name: str, kind: str, help_text: str, samples: Iterable[tuple[str, Sequence[tuple[str, str]], float]]
) -> str:
    """One metric family: HELP and TYPE lines, then ``name{labels} value`` per (suffix, labels, value)."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{suffix}{_labels(labels)} {_number(value)}" for suffix, labels, value in samples]
    return "\n".join(lines) + "\n"


@dataclass
class _Series:
    buckets: list[int]
    total: float = 0.0
    count: int = 0


@dataclass
class Histogram:
    """A cumulative histogram per ``channel`` label."""

    bounds: tuple[float, ...] = BUCKETS
    series: dict[str, _Series] = field(default_factory=dict)

    def observe(self, channel: str, seconds: float) -> None:
        found = self.series.get(channel)
        if found is None:
            found = self.series[channel] = _Series([0] * len(self.bounds))
        for index, bound in enumerate(self.bounds):
            if seconds <= bound:
                found.buckets[index] += 1
        found.total += seconds
        found.count += 1

    def samples(self) -> list[tuple[str, Sequence[tuple[str, str]], float]]:
        out: list[tuple[str, Sequence[tuple[str, str]], float]] = []
        for channel in sorted(self.series):
            s = self.series[channel]
            for bound, n in zip(self.bounds, s.buckets, strict=True):
                out.append(("_bucket", (("channel", channel), ("le", _number(bound))), n))
            out.append(("_bucket", (("channel", channel), ("le", "+Inf")), s.count))
            out.append(("_sum", (("channel", channel),), s.total))
            out.append(("_count", (("channel", channel),), s.count))
        return out


class Metrics:
    """The ``/metrics`` endpoint of one bridge; observes its outbox's deliveries."""

    def __init__(self, store: Store, outbox: Outbox) -> None:
        self._store = store
        self.delivery_seconds = Histogram()
        outbox.on_sent(self.delivery_seconds.observe)

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/metrics", self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        """Never a 500: a store that cannot answer in time gives 503 with the reason (and a log line)."""
        try:
            async with asyncio.timeout(SCRAPE_TIMEOUT):
                body = await self.render()
        except Exception as exc:
            log.exception("metrics: scrape failed")
            reason = "timed out reading the store" if isinstance(exc, TimeoutError) else type(exc).__name__
            return web.Response(status=503, text=f"metrics unavailable: {reason}\n")
        return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})

    async def render(self) -> str:
        messages = await self._store.fetch_all(
            sa.select(MESSAGE.c.direction, CONVERSATION.c.origin_channel, sa.func.count().label("n"))
            .join(CONVERSATION, CONVERSATION.c.id == MESSAGE.c.conversation_id)
            .where(MESSAGE.c.author_kind.not_in(INTERNAL))
            .group_by(MESSAGE.c.direction, CONVERSATION.c.origin_channel)
        )
        deliveries = await self._store.fetch_all(
            sa.select(DELIVERY.c.target_channel, DELIVERY.c.status, sa.func.count().label("n")).group_by(
                DELIVERY.c.target_channel, DELIVERY.c.status
            )
        )
        queue = await self._store.fetch_one(
            sa.select(sa.func.count()).where(DELIVERY.c.status == DeliveryStatus.PENDING)
        )
        open_conversations = await self._store.fetch_one(
            sa.select(sa.func.count()).where(CONVERSATION.c.status != ConversationStatus.RESOLVED)
        )
        return "".join(
            [
                family(
                    "switchboard_messages_total",
                    "counter",
                    "Messages stored (customer-visible), by direction and the customer's channel.",
                    [("", (("direction", r.direction), ("channel", r.origin_channel)), r.n) for r in messages],
                ),
                family(
                    "switchboard_deliveries_total",
                    "counter",
                    "Outbox deliveries, by target channel and status (pending, sent, dead).",
                    [("", (("channel", r.target_channel), ("status", r.status)), r.n) for r in deliveries],
                ),
                family(
                    "switchboard_delivery_seconds",
                    "histogram",
                    "Seconds from a message being stored to its delivery being sent, by target channel.",
                    self.delivery_seconds.samples(),
                ),
                family(
                    "switchboard_queue_length",
                    "gauge",
                    "Deliveries waiting in the outbox.",
                    [("", (), queue[0] if queue else 0)],
                ),
                family(
                    "switchboard_open_conversations",
                    "gauge",
                    "Conversations not resolved (open or pending).",
                    [("", (), open_conversations[0] if open_conversations else 0)],
                ),
            ]
        )
