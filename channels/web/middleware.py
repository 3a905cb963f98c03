"""This module contains the widget's request checks: Origin allowlist and per-IP socket cap."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from aiohttp import web

MAX_SOCKETS_PER_IP = 20


class OriginCheck:
    """Exact match of the browser's ``Origin`` against the allowlist; an empty list allows nothing."""

    def __init__(self, allowed: Iterable[str]) -> None:
        self._allowed = frozenset(origin.rstrip("/").lower() for origin in allowed)

    def allows(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        return origin is not None and origin.rstrip("/").lower() in self._allowed


class SocketCap:
    """Counts open widget sockets per client address."""

    def __init__(self, limit: int = MAX_SOCKETS_PER_IP) -> None:
        self._limit = limit
        self._open: Counter[str] = Counter()

    def acquire(self, address: str) -> bool:
        if self._open[address] >= self._limit:
            return False
        self._open[address] += 1
        return True

    def release(self, address: str) -> None:
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]
