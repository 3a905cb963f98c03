"""This module contains TrustedProxies: a widget client's address when it comes through the operator's proxies."""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import final

from aiohttp import hdrs, web

Network = IPv4Network | IPv6Network


@final
class TrustedProxies:
    """The client address the per-address limits count (``SWITCHBOARD_TRUSTED_PROXIES``).

    A request whose TCP peer is one of the trusted proxies is counted under the address its
    ``X-Forwarded-For`` names: read from the right, the first hop that is not a trusted proxy (so a
    client cannot choose its address by sending the header itself: the proxy appends the real one, and
    everything left of it is the client's word). A request from any other peer is counted under the
    peer's address, whatever headers it sends. When every hop is trusted, the left-most one is the
    client; a hop that is not an IP address ends the trust there (the peer, or the last trusted hop, is
    the client). With no trusted proxies, ``X-Forwarded-For`` is never read.

    aiohttp-remotes' middlewares were considered: ``XForwardedFiltered`` reads the header from any peer (a
    direct client would pick its own address), and ``XForwardedStrict`` refuses every request whose hop
    count differs from the configured chain (health checks, a second route in), so neither fits.
    """

    __slots__ = ("_networks",)

    def __init__(self, networks: Iterable[Network] = ()) -> None:
        self._networks = tuple(networks)

    def client(self, request: web.Request) -> str:
        peer = request.remote or "unknown"
        if not self._networks or not self._trusts(peer):
            return peer
        hops = [hop.strip() for value in request.headers.getall(hdrs.X_FORWARDED_FOR, ()) for hop in value.split(",")]
        client = peer
        for hop in reversed(hops):
            try:
                address = ip_address(hop)
            except ValueError:
                return client
            client = str(address)
            if not self._trusted(address):
                return client
        return client

    def _trusts(self, peer: str) -> bool:
        try:
            return self._trusted(ip_address(peer))
        except ValueError:  # a Unix socket's peer, or none
            return False

    def _trusted(self, address: IPv4Address | IPv6Address) -> bool:
        return any(address in network for network in self._networks)
