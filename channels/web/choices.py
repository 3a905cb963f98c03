"""This module contains the widget's side of choices: buttons under a message, and the ``choose`` frame.

A message with choices carries ``"choices": [{"id", "label"}]``; pressing one sends
``{"type": "choose", "message_id", "choice"}``. The press is stored as a ``CustomerChoice`` (one per visitor and
message, so a second press is a duplicate) and answered with ``{"type": "chosen", "message_id", "choice", "id"}``,
``id`` being the visitor's message it became. A refused press changes nothing and gets an error frame:
``bad_choice`` (not a choice offered to this visitor) or ``stale_choice`` (answered already, or no longer open).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bridge.events import Choice, CustomerChoice, ExternalRef, Profile, ReceiptStatus
from channels.base import InboundSink
from channels.web.protocol import Choose, ProtocolError


def choice_views(choices: Sequence[Choice]) -> dict[str, Any]:
    """The ``choices`` member of a message frame (nothing for the many messages without any)."""
    return {"choices": [{"id": c.id, "label": c.label} for c in choices]} if choices else {}


async def chosen_frame(sink: InboundSink, visitor: ExternalRef, profile: Profile, press: Choose) -> dict[str, Any]:
    """Store the press; the ``chosen`` frame for the visitor's sockets, or ProtocolError when it was refused."""
    receipt = await sink(
        CustomerChoice(
            source=visitor,
            source_id=f"{visitor.external_id}:choice:{press.message_id}",
            message_id=press.message_id,
            choice=press.choice,
            profile=profile,
        )
    )
    if receipt.status is ReceiptStatus.STORED and receipt.message_id is not None:
        return {"type": "chosen", "message_id": press.message_id, "choice": press.choice, "id": receipt.message_id}
    if receipt.status is ReceiptStatus.DUPLICATE:
        raise ProtocolError("stale_choice", receipt.reason or "this question was answered already")
    if receipt.status is ReceiptStatus.LIMITED:  # bridge.abuse: too many messages or new conversations
        raise ProtocolError("rate_limited", receipt.reason or "too many messages; wait a moment")
    raise ProtocolError("bad_choice", receipt.reason or "no such choice was offered")
