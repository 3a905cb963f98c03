"""The website chat widget: an embeddable script and its WebSocket endpoint."""

from channels.web.channel import WebChannel

__all__ = ["WebChannel"]
