"""Fakes at the channel boundary: a channel that records deliveries and fails on scripted messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Self

from aiohttp import web

from bridge.events import (
    ChannelKind,
    Delivered,
    DeliveryError,
    ExternalRef,
    Outbound,
    OutboundCard,
    OutboundText,
)


class FakeSlack:
    """Records what it delivers; raises ``failures[text]`` every time it is asked to post ``text``."""

    kind: ClassVar[ChannelKind] = ChannelKind.SLACK

    def __init__(self, failures: dict[str, DeliveryError] | None = None) -> None:
        self.failures = failures or {}
        self.posted: list[str] = []
        self.attempts: dict[str, int] = {}
        self._ts = 0

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def deliver(self, out: Outbound) -> Delivered:
        text = out.card.first_message if isinstance(out, OutboundCard) else getattr(out, "text", "")
        key = f"card:{text}" if isinstance(out, OutboundCard) else text
        self.attempts[key] = self.attempts.get(key, 0) + 1
        if isinstance(out, OutboundText) and text in self.failures:
            raise self.failures[text]
        self._ts += 1
        if isinstance(out, OutboundText):
            self.posted.append(text)
        return Delivered(remote_id=f"1700000000.{self._ts:06d}")

    async def delivered(self, customer: ExternalRef, message_id: int) -> None:
        return None
