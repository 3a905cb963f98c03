"""This module contains the contract between the core and the channel adapters.

The core (outbox, app) works with any object that has this shape; adapters in ``channels/``
implement it. It lives here so the dependency runs ``channels -> bridge`` only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import ClassVar, Protocol, Self

from aiohttp import web

from bridge.events import ChannelKind, Delivered, ExternalRef, Inbound, Outbound, Receipt

InboundSink = Callable[[Inbound], Awaitable[Receipt]]
"""``Engine.receive``: an adapter acknowledges the platform only after it returns."""

InboundSinkSoon = Callable[[Inbound], "asyncio.Future[Receipt] | None"]
"""``Desk.receive_soon``: the hot path without a task, or None (then use the ``InboundSink``)."""


class Channel(Protocol):
    """A platform adapter: platform input -> ``Inbound``; ``Outbound`` -> platform call.

    It holds no conversation logic. ``deliver`` raises only ``DeliveryError`` subclasses.
    """

    kind: ClassVar[ChannelKind]

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        """HTTP/WebSocket routes the app mounts (empty for polling-only channels)."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def deliver(self, out: Outbound) -> Delivered: ...

    async def delivered(self, customer: ExternalRef, message_id: int) -> None:
        """Receipt: a message this customer sent on this channel has reached the agents."""
        ...


class ChannelStartupError(Exception):
    """A channel could not start (its platform refused the credentials or is unreachable).

    ``switchboard serve`` reports it in one line and exits; each adapter raises a subclass.
    """
