"""Transcripts (issue 6): the widget downloads one over its socket, Telegram's /transcript sends one as a document,
and the card's Export uploads the agents' copy (notes included) into the thread."""

from __future__ import annotations

from typing import Any

from bridge.sandbox.telegram import TelegramEmulator
from tests.support.harness import SUPPORT, Harness, Widget

ALEX, OUTSIDER = "U0AGENT1", "U0AGENT2"
CHAT = 81234
NOTE = "refund approved by finance"


async def _conversation(h: Harness, widget: Widget) -> str:
    """The widget customer writes; an agent answers and leaves an internal note. Returns the thread ts."""
    await widget.say("¿Dónde está mi pedido?", "c1")
    await h.slack.wait_for(lambda: len(h.slack.channel_messages()) == 1)
    ts = str(h.slack.channel_messages()[0]["ts"])
    await h.slack.wait_for(lambda: len(h.slack.thread(ts)) == 1)
    await h.slack.agent_says("Llega mañana", thread_ts=ts, user=ALEX)
    await h.slack.agent_says(f"// {NOTE}", thread_ts=ts, user=ALEX)
    while not any(f["type"] == "message" and f["message"]["text"] == "Llega mañana" for f in widget.seen):
        await widget.expect("message")
    return ts


async def test_widget_downloads_its_own_transcript_over_the_socket(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ana", locale="es") as ana:
        await _conversation(h, ana)
        await ana.send({"type": "transcript", "time_zone": "Europe/Madrid"})
        frame = await ana.expect("transcript")

        number = frame["conversation"]
        assert (frame["filename"], frame["locale"]) == (f"transcript-{number}.txt", "es")
        lines = frame["text"].splitlines()
        assert lines[:2] == ["Transcripción de la conversación", f"Conversación n.º {number}"]
        assert lines[2].startswith("Iniciada el ")
        assert lines[4].endswith("] Tú: ¿Dónde está mi pedido?")
        assert lines[5].endswith("] Alex: Llega mañana")
        assert NOTE not in frame["text"] and len(lines) == 6

        async with h.widget(name="Bo", locale="es") as bo:
            await bo.send({"type": "transcript"})
            none_yet = await bo.expect("error")
            assert none_yet == {
                "type": "error",
                "code": "no_conversation",
                "reason": "Todavía no hay ninguna conversación que enviar: escríbenos primero.",
            }
            await bo.send({"type": "transcript", "conversation": number})  # Ana's conversation
            refused = await bo.expect("error")
            assert refused["code"] == "not_found"
            assert not any(f["type"] == "transcript" for f in bo.seen)


async def test_bad_transcript_frames_are_refused_with_a_reason(harness: Harness) -> None:
    async with harness.widget(name="Ana", locale="en") as ana:
        await ana.say("hello", "c1")
        bad: list[tuple[dict[str, Any], str]] = [
            ({"type": "transcript", "conversation": "1"}, "bad_frame"),
            ({"type": "transcript", "conversation": True}, "bad_frame"),
            ({"type": "transcript", "conversation": 2**40}, "bad_frame"),
            ({"type": "transcript", "time_zone": 7}, "bad_frame"),
            ({"type": "transcript", "time_zone": "Mars/Olympus_Mons"}, "bad_time_zone"),
        ]
        for frame, code in bad:
            await ana.send(frame)
            error = await ana.expect("error")
            assert (error["code"], bool(error["reason"])) == (code, True), frame
        await ana.send({"type": "transcript"})  # the socket still works
        assert (await ana.expect("transcript"))["text"].splitlines()[-1].endswith("] You: hello")


async def test_telegram_transcript_command_sends_a_document_in_the_users_language(telegram_harness: Harness) -> None:
    h = telegram_harness
    assert h.telegram is not None
    telegram: TelegramEmulator = h.telegram
    telegram.user_sends(CHAT, "/transcript", first_name="Ana", language_code="es")
    await telegram.wait_for(lambda: telegram.sent(CHAT))
    assert [m["text"] for m in telegram.sent(CHAT)] == [
        "Todavía no hay ninguna conversación que enviar: escríbenos primero."
    ]

    telegram.user_sends(CHAT, "Hola, ¿hay envío a Vilna?", first_name="Ana", language_code="es")
    await h.slack.wait_for(lambda: len(h.slack.channel_messages()) == 1)
    ts = str(h.slack.channel_messages()[0]["ts"])
    await h.slack.agent_says("Sí, en 3 días", thread_ts=ts, user=ALEX)
    await h.slack.agent_says(f"// {NOTE}", thread_ts=ts, user=ALEX)
    await telegram.wait_for(lambda: len(telegram.sent(CHAT)) == 2)
    telegram.block(CHAT)  # the bridge notes it in the thread, for the agents only
    await h.slack.wait_for(lambda: any("blocked the bot" in (m.get("text") or "") for m in h.slack.thread(ts)))
    telegram.unblock(CHAT)
    telegram.user_sends(CHAT, "/transcript", first_name="Ana", language_code="es")
    await telegram.wait_for(lambda: len(telegram.sent(CHAT)) == 3)

    document = telegram.sent(CHAT)[-1]
    assert document["method"] == "sendDocument"
    assert document["file"]["name"].startswith("transcript-") and document["file"]["name"].endswith(".txt")
    stored = telegram.stored_file(document["file"]["file_id"])
    assert stored is not None
    text = stored.data.decode()
    assert text.startswith("Transcripción de la conversación\nConversación n.º ")
    assert "] Tú: Hola, ¿hay envío a Vilna?" in text and "] Alex: Sí, en 3 días" in text
    assert NOTE not in text and "blocked" not in text
    thread = [m.get("text") for m in h.slack.thread(ts)]
    assert not any("/transcript" in (t or "") for t in thread)  # commands are for the bot, not the agents


async def test_export_uploads_the_agents_copy_into_the_thread(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ana", locale="es") as ana:
        ts = await _conversation(h, ana)

        status, _ = await h.slack.click_button(ts, "desk_export", user=ALEX)

        assert status == 200
        await h.slack.wait_for(lambda: any(m.get("files") for m in h.slack.thread(ts)))
        [shared] = [m for m in h.slack.thread(ts) if m.get("files")]
        [file] = shared["files"]
        assert file["name"].startswith("transcript-") and file["name"].endswith(".txt")
        assert shared["text"].startswith(f"<@{ALEX}> exported conversation #")
        text = h.slack.file_bytes[file["id"]].decode()
        assert text.startswith("Conversation transcript\nConversation #")
        assert "] Ana: ¿Dónde está mi pedido?" in text
        assert f"] Alex [internal note]: {NOTE}" in text
        [complete] = h.slack.calls_to("files.completeUploadExternal")
        assert (complete.params["channel_id"], complete.params["thread_ts"]) == (SUPPORT, ts)


async def test_only_members_of_the_support_channel_may_export(harness: Harness) -> None:
    h = harness
    h.slack.members[SUPPORT].discard(OUTSIDER)
    async with h.widget(name="Ana", locale="es") as ana:
        ts = await _conversation(h, ana)

        status, _ = await h.slack.click_button(ts, "desk_export", user=OUTSIDER)

        assert status == 200
        await h.slack.wait_for(lambda: any(e["user"] == OUTSIDER for e in h.slack.ephemerals))
        assert [e["text"] for e in h.slack.ephemerals if e["user"] == OUTSIDER] == [
            f"Only members of <#{SUPPORT}> can export conversations."
        ]
        assert h.slack.calls_to("files.getUploadURLExternal") == []
        assert not any(m.get("files") for m in h.slack.thread(ts))
