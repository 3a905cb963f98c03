"""This module answers the widget's ``transcript`` frame (docs/widget-protocol.md).

The transcript travels over the visitor's authenticated WebSocket and the widget saves it with a Blob download,
so the session token never appears in a URL. A visitor only ever gets their own conversations: asking for any
other number gets the same ``not_found`` error as a number that does not exist.
"""

from __future__ import annotations

from bridge.events import ExternalRef, Profile
from bridge.transcript import Transcripts, UnknownTimeZone
from channels.web.protocol import ProtocolError, TranscriptRequest, encode


async def transcript_frame(
    transcripts: Transcripts, visitor: ExternalRef, profile: Profile, request: TranscriptRequest
) -> str:
    """The ``transcript`` frame for ``visitor``, in the session's language.

    Raises:
        ProtocolError: ``bad_time_zone`` (unknown to the server), ``not_found`` (not one of the visitor's
            conversations) or ``no_conversation`` (the visitor never wrote).
    """
    try:
        found = await transcripts.for_customer(
            visitor,
            [profile.locale, *profile.languages],
            conversation_id=request.conversation,
            time_zone=request.time_zone,
        )
    except UnknownTimeZone as exc:
        raise ProtocolError("bad_time_zone", f"{exc}; ask again without time_zone for the bridge's own") from None
    if found is None and request.conversation is not None:
        raise ProtocolError("not_found", "no conversation of yours has this number")
    if found is None:
        raise ProtocolError("no_conversation", "there is no conversation to send yet")
    frame = {
        "type": "transcript",
        "conversation": found.conversation_id,
        "filename": found.filename,
        "locale": found.locale,
        "text": found.text,
    }
    return encode(frame)
