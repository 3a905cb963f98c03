"""Customers send files from the widget (reliability target G26): ``POST /widget/upload``, then a message frame with
``attachments``; the file reaches the conversation's Slack thread with the same bytes.

The negative twins sit here too: 40 MB + 1 B is 413 and leaves nothing on disk; an HTML page, an SVG or an ELF
program declared ``image/png`` is 415 (magic bytes); hostile names are stored under generated ids and kept only as
a sanitized label; 16 attachments, or an id that is not the visitor's own upload (another visitor's gets exactly the
answer a missing one gets), store nothing; no session, an expired one or a foreign origin is refused. No route serves
an upload back (so no browser ever renders one): the history lists files by name, type and size.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

import channels.web.uploads as uploads_module
from bridge.config import SESSION_DAYS
from bridge.engine import MESSAGE
from bridge.model import utcnow
from channels.web.sessions import visitor_id
from channels.web.uploads import MAX_UPLOAD_BYTES, UPLOADS_PER_MINUTE
from tests.support.harness import Harness, Widget, running_bridge, running_slack
from tests.support.uploads import PNG, Answer, upload, uploads_on_disk

ID = re.compile(r"[A-Za-z0-9_-]{24}")
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + bytes(40)
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(32)


async def _messages(h: Harness) -> int:
    return len(await h.bridge.store.fetch_all(sa.select(MESSAGE.c.id)))


async def _uploaded(h: Harness, session: str, data: bytes = PNG, **kwargs: Any) -> dict[str, Any]:
    answer = await upload(h, session, data, **kwargs)
    assert answer.status == 201, answer.body
    return dict(answer.body)


async def _thread_files(h: Harness, count: int) -> list[dict[str, Any]]:
    """The files shared in the (only) conversation thread, once there are ``count``."""
    slack = h.slack

    def files() -> list[dict[str, Any]]:
        roots = slack.channel_messages()
        return [f for r in roots for m in slack.thread(r["ts"]) for f in m.get("files") or ()]

    await slack.wait_for(lambda: len(files()) >= count)
    return files()


async def test_a_png_uploaded_then_sent_reaches_the_slack_thread_with_the_same_bytes(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ana", locale="en") as widget:
        session = widget.welcome["session"]
        sent = await _uploaded(h, session, name="receipt.png")
        assert ID.fullmatch(sent["upload"])
        assert sent == {"upload": sent["upload"], "name": "receipt.png", "size": len(PNG), "media_type": "image/png"}
        await widget.send(
            {"type": "message", "client_id": "m1", "text": "the receipt", "attachments": [sent["upload"]]}
        )
        ack = await widget.expect("ack")
        assert ack["status"] == "sent"
        [shared] = await _thread_files(h, 1)
        assert h.slack.file_bytes[shared["id"]] == PNG and shared["name"] == "receipt.png"
        [post] = [m for m in h.slack.thread(h.slack.channel_messages()[0]["ts"]) if "the receipt" in m.get("text", "")]
        assert "receipt.png" in post["text"]  # the post names the file too

        # A file alone: the text may be empty.
        second = await _uploaded(h, session, JPEG, name="scan.jpg", media_type="image/jpeg")
        await widget.send({"type": "message", "client_id": "m2", "text": "", "attachments": [second["upload"]]})
        assert (await widget.expect("ack"))["status"] == "sent"
        files = await _thread_files(h, 2)
        assert h.slack.file_bytes[files[1]["id"]] == JPEG

    # The history shows the customer's own files as name, type and size (never where they are).
    async with h.widget(session=session) as back:
        own = [m for m in back.welcome["messages"] if m["author"] == "customer"]
        assert [m["attachments"] for m in own] == [
            [{"name": "receipt.png", "media_type": "image/png", "size": len(PNG)}],
            [{"name": "scan.jpg", "media_type": "image/jpeg", "size": len(JPEG)}],
        ]
        assert own[1]["text"] == "" and "widget-file" not in str(back.welcome)

    # On disk: under the visitor's folder and the generated id, the very bytes.
    folder = h.settings.data_dir / "uploads" / visitor_id(session)
    assert (folder / sent["upload"]).read_bytes() == PNG and (folder / second["upload"]).read_bytes() == JPEG


async def test_40_mb_is_accepted_and_one_byte_more_is_413_with_nothing_on_disk(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Big") as widget:
        session = widget.welcome["session"]
    exactly = PNG + bytes(MAX_UPLOAD_BYTES - len(PNG))
    too_big = exactly + b"\x00"

    # Declared too large (Content-Length): refused before a byte is read.
    refused = await upload(h, session, too_big)
    assert refused.status == 413 and refused.body["error"] == "file_too_large" and refused.body["reason"]
    assert uploads_on_disk(h) == []

    # Streamed without a length: reading stops past the cap, and the partial file is gone.
    async def chunks(data: bytes) -> AsyncIterator[bytes]:
        for start in range(0, len(data), 1 << 20):
            yield data[start : start + (1 << 20)]

    refused = await upload(h, session, chunks(too_big))
    assert refused.status == 413 and refused.body["error"] == "file_too_large"
    assert uploads_on_disk(h) == []

    accepted = await upload(h, session, chunks(exactly))
    assert accepted.status == 201 and accepted.body["size"] == MAX_UPLOAD_BYTES
    [stored, meta] = uploads_on_disk(h)
    assert stored.name == accepted.body["upload"] and stored.stat().st_size == MAX_UPLOAD_BYTES
    assert meta.name == f"{stored.name}.json"


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        pytest.param(HTML, "image/png", id="html-as-png"),
        pytest.param(SVG, "image/png", id="svg-as-png"),
        pytest.param(b"<b>hi</b>", "image/png", id="short-html-as-png"),
        pytest.param(ELF, "image/png", id="elf-as-png"),
        pytest.param(ELF, "text/plain", id="elf-as-text"),
        pytest.param(b"caf\xe9 latin-1", "text/plain", id="not-utf8-text"),
        pytest.param(b"text\x00with a NUL", "text/plain", id="nul-in-text"),
        pytest.param(PNG, "image/jpeg", id="png-as-jpeg"),
        pytest.param(PNG, "text/plain", id="png-as-text"),
        pytest.param(SVG, "image/svg+xml", id="svg"),
        pytest.param(HTML, "text/html", id="html"),
        pytest.param(ELF, "application/octet-stream", id="octet-stream"),
        pytest.param(PNG, None, id="no-type"),
    ],
)
async def test_a_file_whose_bytes_are_not_an_allowed_type_is_415(
    harness: Harness, data: bytes, media_type: str | None
) -> None:
    async with harness.widget(name="Mallory") as widget:
        answer = await upload(harness, widget.welcome["session"], data, media_type=media_type)
    assert answer.status == 415, answer.body
    assert answer.body["error"] == "unsupported_type" and answer.body["reason"]
    assert uploads_on_disk(harness) == []


async def test_allowed_types_pass_when_the_bytes_agree(harness: Harness) -> None:
    files = [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (b"GIF89a\x01\x00\x01\x00" + bytes(20), "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(20), "image/webp"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(20), "application/pdf"),
        ("naïve café 日本\n".encode() * 50_000, "text/plain"),  # characters cut between read chunks
        (HTML, "text/plain; charset=utf-8"),  # text is text: a download never renders it (nosniff, attachment)
    ]
    async with harness.widget(name="Ok") as widget:
        for data, media_type in files:
            answer = await upload(harness, widget.welcome["session"], data, media_type=media_type)
            assert answer.status == 201, (media_type, answer.body)
            assert answer.body["media_type"] == media_type.split(";")[0]


async def test_an_empty_file_is_400(harness: Harness) -> None:
    async with harness.widget(name="Nil") as widget:
        answer = await upload(harness, widget.welcome["session"], b"", media_type="text/plain")
    assert (answer.status, answer.body["error"]) == (400, "empty_file")
    assert uploads_on_disk(harness) == []


async def test_an_upload_that_would_leave_the_disk_short_is_507_and_messages_still_flow(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database lives beside the uploads: a disk filled with files would stop it storing messages. The reserve
    is raised past this disk's free space (filling a real disk in a test is not an option)."""
    monkeypatch.setattr(uploads_module, "DISK_RESERVE_BYTES", shutil.disk_usage(harness.settings.data_dir).free)
    async with harness.widget(name="Disk") as widget:
        answer = await upload(harness, widget.welcome["session"], PNG)
        assert (answer.status, answer.body["error"]) == (507, "insufficient_storage")
        assert uploads_on_disk(harness) == []
        assert (await widget.say("a message still goes through", "c1"))["status"] == "sent"
    monkeypatch.setattr(uploads_module, "DISK_RESERVE_BYTES", 0)
    async with harness.widget(name="Disk") as widget:
        assert (await upload(harness, widget.welcome["session"], PNG)).status == 201


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system.ini", "system.ini"),
        ("a.php\x00.jpg", "a.php_.jpg"),
        ("a.php%00.jpg", "a.php%00.jpg"),  # the literal text: harmless as a label
        ("CON.txt", "_CON.txt"),
        ("x" * 300 + ".png", "x" * 96 + ".png"),
        ("\u202egnp.exe", "_gnp.exe"),  # a right-to-left override would show "exe.png"
        ('<img src=x onerror="alert(1)">.png', "_img src=x onerror=_alert(1)__.png"),
        ("...", "file"),
    ],
)
async def test_hostile_names_are_stored_under_generated_ids_and_kept_as_a_safe_label(
    harness: Harness, name: str, label: str
) -> None:
    h = harness
    async with h.widget(name="Eve") as widget:
        session = widget.welcome["session"]
        sent = await _uploaded(h, session, name=name)
        assert sent["name"] == label
        folder = h.settings.data_dir / "uploads" / visitor_id(session)
        assert uploads_on_disk(h) == [folder / sent["upload"], folder / f"{sent['upload']}.json"]
        await widget.send({"type": "message", "client_id": "e1", "text": "", "attachments": [sent["upload"]]})
        await widget.expect("ack")
        [shared] = await _thread_files(h, 1)
        assert shared["name"] == label


async def test_more_than_15_attachments_are_refused_and_nothing_is_stored(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Many") as widget:
        session = widget.welcome["session"]
        ids = [(await _uploaded(h, session, name=f"p{i}.png"))["upload"] for i in range(16)]
        await widget.send({"type": "message", "client_id": "x16", "text": "all", "attachments": ids})
        error = await widget.expect("error")
        assert error["code"] == "bad_frame" and "15" in error["reason"]
        for bad in ([42], "not a list", [ids[0], ids[0]]):
            await widget.send({"type": "message", "client_id": "bad", "text": "x", "attachments": bad})
            assert (await widget.expect("error"))["code"] == "bad_frame"
        assert await _messages(h) == 0
        await widget.send({"type": "message", "client_id": "x15", "text": "fifteen", "attachments": ids[:15]})
        assert (await widget.expect("ack"))["status"] == "sent"
    assert len(await _thread_files(h, 15)) == 15


async def _refused_frame(widget: Widget, upload_id: str) -> dict[str, Any]:
    await widget.send({"type": "message", "client_id": "steal", "text": "mine now", "attachments": [upload_id]})
    return await widget.expect("error")


async def test_another_visitors_upload_id_gets_the_very_answer_a_missing_one_gets(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Alice") as alice:
        alice_session = alice.welcome["session"]
        secret = (await _uploaded(h, alice_session, name="passport.png"))["upload"]
    async with h.widget(name="Bob") as bob:
        stolen = await _refused_frame(bob, secret)
        missing = await _refused_frame(bob, "A" * 24)
        malformed = await _refused_frame(bob, "../" + secret)
        assert stolen == missing == malformed
        assert stolen["code"] == "bad_frame"
    assert await _messages(h) == 0


async def test_uploads_need_a_live_session_and_an_allowed_origin(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ok") as widget:
        session = widget.welcome["session"]
    for token in (None, "", "A" * 32, session + "x"):
        answer = await upload(h, token, PNG)
        assert (answer.status, answer.body["error"]) == (401, "bad_session"), token
    in_url = await _post(h, f"/widget/upload?session={session}", {"Origin": h.origin, "Content-Type": "image/png"})
    assert in_url.status == 401  # the token is never taken from a URL
    for origin in ("https://evil-example.com", f"{h.origin}.evil.net", None):
        answer = await upload(h, session, PNG, origin=origin)
        assert (answer.status, answer.body["error"]) == (403, "bad_origin"), origin
    assert uploads_on_disk(h) == []

    # CORS: the preflight of a widget on the (allowed) host site, and the answers it may read.
    headers = {"Origin": h.origin, "Access-Control-Request-Method": "POST"}
    preflight = await _request(h, "OPTIONS", "/widget/upload", headers)
    assert preflight.status == 204 and preflight.headers["Access-Control-Allow-Origin"] == h.origin
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert {"x-switchboard-session", "x-filename", "content-type"} <= {a.strip() for a in allowed.split(",")}
    foreign = await _request(h, "OPTIONS", "/widget/upload", {**headers, "Origin": "https://evil-example.com"})
    assert foreign.status == 403 and "Access-Control-Allow-Origin" not in foreign.headers
    answer = await upload(h, session, PNG)
    assert answer.headers["Access-Control-Allow-Origin"] == h.origin
    refused = await upload(h, None, PNG)
    assert refused.headers["Access-Control-Allow-Origin"] == h.origin  # the widget can read why


async def test_an_expired_session_cannot_upload(db_url: str, tmp_path: Path) -> None:
    clock = _MovableClock()
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(db_url, tmp_path, slack, slack_server, clock=clock) as h,
    ):
        async with h.widget(name="Old") as widget:
            session = widget.welcome["session"]
        assert (await upload(h, session, PNG)).status == 201
        clock.now += timedelta(days=SESSION_DAYS, hours=1)
        answer = await upload(h, session, PNG)
        assert (answer.status, answer.body["error"]) == (401, "bad_session")


async def test_uploads_are_rate_limited_per_session(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Flood") as widget, h.widget(name="Calm") as other:
        for _ in range(UPLOADS_PER_MINUTE):
            assert (await upload(h, widget.welcome["session"], PNG)).status == 201
        answer = await upload(h, widget.welcome["session"], PNG)
        assert (answer.status, answer.body["error"]) == (429, "rate_limited")
        assert (await upload(h, other.welcome["session"], PNG)).status == 201  # per visitor
    assert len(uploads_on_disk(h)) == 2 * (UPLOADS_PER_MINUTE + 1)


async def test_one_network_uploads_at_most_its_bytes_an_hour(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A visitor can make new sessions: the per-address byte budget (1 GB an hour) is what stops one network filling
    the disk. Bytes of refused files are given back."""
    monkeypatch.setattr(uploads_module, "UPLOAD_BYTES_PER_HOUR", 2 * len(PNG))
    office, home = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "198.51.100.9"}
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(db_url, tmp_path, slack, slack_server, trusted_proxies=("127.0.0.1/32",)) as h,
        h.widget(name="Ann") as ann,
        h.widget(name="Bob") as bob,
    ):
        disguised = await upload(h, ann.welcome["session"], HTML, headers=office)  # 415: its bytes come back
        assert disguised.status == 415 and len(HTML) > len(PNG)
        for widget in (ann, bob):  # two visitors, one network: one file each fills its budget
            assert (await upload(h, widget.welcome["session"], PNG, headers=office)).status == 201
        refused = await upload(h, bob.welcome["session"], PNG, headers=office)
        assert (refused.status, refused.body["error"]) == (429, "quota_exceeded")
        assert refused.body["reason"].endswith("MB of files an hour from your network; try later")
        assert (await upload(h, bob.welcome["session"], PNG, headers=home)).status == 201  # another network
    assert len(uploads_on_disk(h)) == 2 * 3  # three files, each with its metadata


class _MovableClock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


async def _request(h: Harness, method: str, path: str, headers: dict[str, str]) -> Answer:
    async with aiohttp.ClientSession() as http, http.request(method, h.url(path), headers=headers) as response:
        await response.read()
        return Answer(response.status, None, response.headers)


async def _post(h: Harness, path: str, headers: dict[str, str]) -> Answer:
    async with aiohttp.ClientSession() as http, http.post(h.url(path), data=PNG, headers=headers) as response:
        return Answer(response.status, await response.json(), response.headers)
