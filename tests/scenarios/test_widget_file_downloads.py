"""A website customer opens the files of their conversation: an agent's, and their own (``POST /widget/file``).

Any message the visitor may not read (another visitor's, a note, missing) and an index with no file get the very
same 404; the file is sent as an attachment with ``nosniff`` (reliability target G26).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import sqlalchemy as sa

from bridge.engine import MESSAGE
from channels.web.downloads import DOWNLOADS_PER_MINUTE
from tests.support.harness import Harness, Widget
from tests.support.uploads import PNG, download, upload

PDF = b"%PDF-1.4\n% invoice\n%%EOF\n"


async def _agent_sends_invoice(h: Harness, widget: Widget, text: str = "Attached") -> dict[str, Any]:
    """The visitor writes; an agent shares ``invoice €.pdf`` in the thread: the ``message`` frame the visitor gets."""
    before = len(h.slack.channel_messages())
    await widget.say("Can I have the invoice?", "c1")
    await h.slack.wait_for(lambda: len(h.slack.channel_messages()) > before)  # the visitor's new conversation
    root = str(h.slack.channel_messages()[-1]["ts"])
    await h.slack.agent_shares_file("invoice €.pdf", PDF, thread_ts=root, text=text)
    return dict((await widget.expect("message"))["message"])


async def test_the_visitor_downloads_an_agents_pdf(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ana") as widget:
        message = await _agent_sends_invoice(h, widget)
        got = await download(h, widget.welcome["session"], {"message_id": message["id"], "index": 0})
    assert got.status == 200 and got.body == PDF
    assert got.headers["Content-Type"] == "application/pdf"
    assert got.headers["Content-Disposition"] == "attachment; filename*=UTF-8''invoice%20%E2%82%AC.pdf"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Cache-Control"] == "private, no-store"
    assert got.headers["Access-Control-Allow-Origin"] == h.origin
    assert got.headers["Access-Control-Expose-Headers"] == "Content-Disposition"


async def test_the_visitor_downloads_their_own_png(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ana") as widget:
        session = widget.welcome["session"]
        sent = await upload(h, session, PNG, name="receipt.png")
        await widget.send({"type": "message", "client_id": "f1", "text": "", "attachments": [sent.body["upload"]]})
        ack = await widget.expect("ack")
        got = await download(h, session, {"message_id": ack["id"], "index": 0})
    assert got.status == 200 and got.body == PNG
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["Content-Disposition"] == "attachment; filename*=UTF-8''receipt.png"


async def test_what_the_visitor_may_not_read_is_one_identical_404(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ana") as ana, h.widget(name="Bea") as bea:
        beas = await bea.say("hello", "b1")  # before Ana's file: a lookup by "the next id" would find Ana's
        await h.settled()  # Bea's thread is in Slack before Ana's
        message = await _agent_sends_invoice(h, ana)
        root = str(h.slack.channel_messages()[-1]["ts"])
        await h.slack.agent_shares_file("notes.pdf", PDF, thread_ts=root, text="//internal copy")  # a note
        await h.slack.agent_shares_file("later.pdf", PDF, thread_ts=root, text="one more")  # Ana's, after the note
        await ana.expect("message")
        await h.settled()
        [note] = await h.bridge.store.fetch_all(
            sa.select(MESSAGE.c.id, MESSAGE.c.attachments).where(MESSAGE.c.author_kind == "note")
        )
        assert [a["name"] for a in note.attachments] == ["notes.pdf"]  # the note has a file: only the rule hides it
        session = bea.welcome["session"]
        asked = [
            {"message_id": message["id"], "index": 0},  # Ana's
            {"message_id": 2**31 - 1, "index": 0},  # missing
            {"message_id": 0, "index": 0},
            {"message_id": -5, "index": 0},
            {"message_id": 2**63, "index": 0},
        ]
        answers = [await download(h, session, body) for body in asked]
        answers.append(await download(h, ana.welcome["session"], {"message_id": note.id, "index": 0}))  # a note
        answers.append(await download(h, ana.welcome["session"], {"message_id": beas["id"], "index": 0}))
        for index in (1, -1, 10**6):  # Ana's own message, no such file
            answers.append(await download(h, ana.welcome["session"], {"message_id": message["id"], "index": index}))
    assert {(a.status, str(a.body)) for a in answers} == {
        (404, str({"error": "not_found", "reason": "no such file in your conversations"}))
    }


async def test_refusals_before_the_lookup(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ana") as widget:
        message = await _agent_sends_invoice(h, widget)
        session, body = widget.welcome["session"], {"message_id": message["id"], "index": 0}
        no_session = await download(h, None, body)
        stranger = await download(h, "A" * 32, body)
        bad_origin = await download(h, session, body, origin="https://evil.example")
        no_origin = await download(h, session, body, origin=None)
        malformed = [
            await download(h, session, None, raw=raw)
            for raw in (b"", b"[1, 0]", b'{"message_id": "1", "index": 0}', b'{"message_id": 1}', b"{" * 2000)
        ]
    assert (no_session.status, no_session.body["error"]) == (401, "bad_session")
    assert stranger.body == no_session.body and stranger.status == 401
    assert (bad_origin.status, bad_origin.body["error"]) == (403, "bad_origin")
    assert (no_origin.status, no_origin.body) == (bad_origin.status, bad_origin.body)
    assert "Access-Control-Allow-Origin" not in bad_origin.headers
    assert {(m.status, m.body["error"]) for m in malformed} == {(400, "bad_request")}


async def test_a_file_slack_no_longer_has_is_gone(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ana") as widget:
        message = await _agent_sends_invoice(h, widget)
        h.slack.file_bytes.clear()  # deleted in Slack since
        got = await download(h, widget.welcome["session"], {"message_id": message["id"], "index": 0})
    assert got.status == 404 and got.body["error"] == "gone" and got.body["reason"]


async def test_a_file_slack_cannot_give_now_is_a_503_to_retry(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ana") as widget:
        message = await _agent_sends_invoice(h, widget)
        await h.slack_server.close()  # Slack unreachable
        got = await download(h, widget.welcome["session"], {"message_id": message["id"], "index": 0})
    assert (got.status, got.body["error"]) == (503, "unavailable")


async def test_more_than_the_limit_a_minute_is_refused(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ana") as widget:
        message = await _agent_sends_invoice(h, widget)
        body = {"message_id": message["id"], "index": 0}
        answers = [await download(h, widget.welcome["session"], body) for _ in range(DOWNLOADS_PER_MINUTE + 1)]
        async with h.widget(name="Bea") as other:  # the limit is per visitor
            theirs = await download(h, other.welcome["session"], {"message_id": 2**31 - 1, "index": 0})
    assert {a.status for a in answers[:-1]} == {200}
    assert (answers[-1].status, answers[-1].body["error"]) == (429, "rate_limited")
    assert theirs.status == 404


async def test_the_preflight_allows_the_session_header(harness: Harness) -> None:
    h = harness
    headers = {"Origin": h.origin, "Access-Control-Request-Method": "POST"}
    async with aiohttp.ClientSession() as http, http.options(h.url("/widget/file"), headers=headers) as response:
        assert response.status == 204
        assert "X-Switchboard-Session" in response.headers["Access-Control-Allow-Headers"]
        assert response.headers["Access-Control-Allow-Origin"] == h.origin
