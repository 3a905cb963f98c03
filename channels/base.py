"""The Channel protocol every platform adapter implements (defined in the core, ``bridge/ports.py``)."""

from bridge.ports import Channel, ChannelStartupError, InboundSink

__all__ = ["Channel", "ChannelStartupError", "InboundSink"]
