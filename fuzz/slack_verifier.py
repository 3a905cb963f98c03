"""Atheris target: ``POST /slack/events`` as Slack (or anyone) can call it, answered with a documented status only.

The request goes over loopback to the real route of a real ``SlackChannel`` (its signature check with slack_sdk's
``SignatureVerifier`` before any parsing, bolt's body parsing, the payload shape check, bolt's dispatch and the
message listener), with bolt's Web API calls answered by the Slack emulator. Documented answers: 200 (handled),
400 (not UTF-8, malformed payload), 401 (missing, stale or wrong signature or timestamp), 404 (bolt: no listener
for it), 413 (body over 1 MB); aiohttp's own parser answers 400 to a request it cannot read. A 500, or an ERROR
log record from the bridge, bolt or aiohttp, breaks the contract.

Input layout (so seeds stay readable): one mode byte, then the timestamp, signature and Content-Type header lines,
then the body. The mode byte picks the timestamp (bits 0-1: now plus the line's number of seconds, the line as
written, none, or five minutes ago), the signature (bits 2-3: correct for this timestamp and body, the line as
written, none, correct with the line appended) and whether the Content-Type line is sent (bit 4).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from functools import cache

from bridge.config import SlackSettings
from bridge.sandbox.slack import SlackEmulator
from channels.slack.channel import SlackChannel
from fuzz.support import ErrorRecords, Loopback, check, header_value, stored

MAX_LEN = 8192
SECRET = "fuzz-signing-secret"
SUPPORT = "C0SUPPORT"
DOCUMENTED = frozenset({200, 400, 401, 404, 413})
_RECORDS = ErrorRecords("switchboard", "slack_bolt", "aiohttp")


class _Harness:
    """The Slack emulator and a SlackChannel whose route is served on loopback; both live for the whole run."""

    def __init__(self) -> None:
        self.net = Loopback()
        self.emulator = SlackEmulator(signing_secret=SECRET, support_channel=SUPPORT)
        self.net.run(self._start())

    async def _start(self) -> None:
        await self.emulator.start()
        settings = SlackSettings(
            bot_token=self.emulator.bot_token,
            signing_secret=SECRET,
            support_channel=SUPPORT,
            api_url=self.emulator.api_url,
        )
        self.channel = SlackChannel(settings=settings, sink=stored)
        await self.channel.__aenter__()
        await self.net.serve_routes(self.channel.routes())


@cache
def _harness() -> _Harness:
    return _Harness()


def request(data: bytes, now: int) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The headers and body that ``data`` describes (see the module's doc), with ``now`` as the current time."""
    mode = data[0] if data else 0
    fields = data[1:].split(b"\n", 3)
    ts_line, sig_line, type_line, body = (*fields, b"", b"", b"", b"")[:4]
    headers: list[tuple[bytes, bytes]] = []
    match mode & 0b11:
        case 0:
            offset = int(ts_line) if ts_line.strip().lstrip(b"-").isdigit() and len(ts_line) < 12 else 0
            timestamp: bytes | None = b"%d" % (now + offset)
        case 1:
            timestamp = header_value(ts_line)
        case 2:
            timestamp = None
        case _:
            timestamp = b"%d" % (now - 301)
    if timestamp is not None:
        headers.append((b"X-Slack-Request-Timestamp", timestamp))
    digest = "v0=" + hmac.new(SECRET.encode(), b"v0:" + (timestamp or b"") + b":" + body, hashlib.sha256).hexdigest()
    signature = {
        0: digest.encode(),
        1: header_value(sig_line),
        2: None,
        3: digest.encode() + header_value(sig_line),
    }[(mode >> 2) & 0b11]
    if signature is not None:
        headers.append((b"X-Slack-Signature", signature))
    if mode & 0b10000:
        headers.append((b"Content-Type", header_value(type_line)))
    return headers, body


def test_one_input(data: bytes) -> None:
    harness = _harness()
    headers, body = request(data, int(time.time()))
    status, answer = harness.net.run(harness.net.post("/slack/events", headers, body))
    errors = _RECORDS.take()
    check(not errors, f"ERROR logged (status {status}):\n" + "\n".join(errors))
    check(status in DOCUMENTED, f"undocumented status {status}: {answer[:300]!r}")
    if len(harness.emulator.calls) > 1000:  # the emulator records every call; a long run must not grow
        harness.emulator.calls.clear()
