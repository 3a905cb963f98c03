"""The Channel protocol every platform adapter implements (defined in the core, ``bridge/ports.py``)."""

from bridge.ports import Channel, ChannelStartupError, InboundSink, InboundSinkSoon

__all__ = ["Channel", "ChannelStartupError", "InboundSink", "InboundSinkSoon"]
