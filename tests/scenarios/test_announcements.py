"""``/announce``: a catalog text to every open conversation, each customer in their language (issue 6).

Slack's side is real: signed slash commands and ``view_submission`` payloads (form-encoded ``payload``) reach
bolt, which opens the modal with ``views.open`` on the emulator; customers are widget sockets and Telegram chats.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bridge.engine import CONVERSATION, MESSAGE
from tests.support.agent_group import ALEX, GROUP, ON_CALL, OUTSIDER
from tests.support.harness import SUPPORT, Harness, Widget, running_telegram_bridge

CHAT = 70001
INCIDENT = {
    "tr": "payments ile ilgili bir sorun yaşıyoruz ve üzerinde çalışıyoruz. Gelişmeleri size buradan bildireceğiz.",
    "ru": "Сейчас наблюдаются проблемы: payments. Мы уже работаем над их устранением и будем сообщать новости здесь.",
    "pt_BR": (
        "Estamos com um problema em payments e já estamos trabalhando nisso. Vamos manter você informado por aqui."
    ),
}
INCIDENT_EN = "We're seeing a problem with payments and are working on it. We'll update you here."


@pytest.fixture
async def telegram_bridge(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_telegram_bridge(db_url, tmp_path, "webhook") as h:
        yield h


async def _open(h: Harness, widget: Widget, text: str) -> str:
    """The customer writes; returns their thread."""
    threads = len(h.slack.channel_messages())
    await widget.say(text, "c1")
    await h.slack.wait_for(lambda: len(h.slack.channel_messages()) == threads + 1)
    return str(h.slack.channel_messages()[-1]["ts"])


def _modals(h: Harness) -> list[dict[str, Any]]:
    return [v for v in h.slack.views.values() if v.get("callback_id") == "announce"]


def _modal_text(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


async def _announced(h: Harness) -> list[tuple[int, str, str]]:
    """(conversation, locale, text) of every announcement stored for a customer."""
    rows = await h.bridge.store.fetch_all(
        sa.select(MESSAGE.c.conversation_id, CONVERSATION.c.locale, MESSAGE.c.text)
        .join(CONVERSATION, CONVERSATION.c.id == MESSAGE.c.conversation_id)
        .where(MESSAGE.c.source_id.like("announce:%"), MESSAGE.c.author_kind == "system")
        .order_by(MESSAGE.c.id)
    )
    return [(int(r.conversation_id), str(r.locale), str(r.text)) for r in rows]


def _notes(h: Harness, thread: str) -> list[str]:
    return [m["text"] for m in h.slack.thread(thread) if " announced " in m.get("text", "")]


def _told(h: Harness, user: str) -> list[str]:
    return [e["text"] for e in h.slack.ephemerals if e["user"] == user]


async def test_announce_opens_a_modal_that_says_who_gets_it_and_a_command_prefills_it(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ayşe", locale="tr") as ayse, h.widget(name="Ana", locale="es") as ana:
        await _open(h, ayse, "Ödeme yapamıyorum")
        await _open(h, ana, "No puedo pagar")

        status, body = await h.slack.post_command("/announce", "")

        assert status == 200 and body == ""
        [opened] = h.slack.calls_to("views.open")
        assert opened.params["trigger_id"]  # the command's: the emulator refuses any trigger it did not issue
        [view] = _modals(h)
        assert view["_user"] == ALEX and view["type"] == "modal"
        assert "*Goes to 2 open conversations*" in _modal_text(view)
        assert "1 Spanish, 1 Turkish" in _modal_text(view)
        [select] = [b["element"] for b in view["blocks"] if b.get("block_id") == "announce_key"]
        keys = [o["value"] for o in select["options"]]
        assert {"incident", "maintenance"} <= set(keys) and "greeting_agent" not in keys  # that one names the customer
        assert "initial_option" not in select

        await h.slack.post_command("/announce", "incident service=payments")

        prefilled = next(v for v in _modals(h) if v["id"] != view["id"])
        blocks = {b.get("block_id"): b for b in prefilled["blocks"]}
        assert blocks["announce_key"]["element"]["initial_option"]["value"] == "incident"
        assert blocks["announce_params"]["element"]["initial_value"] == "service=payments"
    assert await _announced(h) == []  # opening the form sends nothing


async def test_every_open_conversation_gets_it_in_its_language_once_and_resolved_ones_none(
    telegram_bridge: Harness,
) -> None:
    h = telegram_bridge
    assert h.telegram is not None
    telegram = h.telegram
    async with (
        h.widget(name="Ayşe", locale="tr") as ayse,
        h.widget(name="João", locale="pt_BR") as joao,
        h.widget(name="Ana", locale="es") as ana,
    ):
        ayse_thread = await _open(h, ayse, "Ödeme yapamıyorum")
        joao_thread = await _open(h, joao, "Não consigo pagar")
        ana_thread = await _open(h, ana, "Gracias, ya está")
        telegram.user_sends(CHAT, "Не проходит оплата", first_name="Ivan", language_code="ru")
        await h.slack.wait_for(lambda: len(h.slack.channel_messages()) == 4)
        ivan_thread = str(h.slack.channel_messages()[-1]["ts"])
        await h.slack.click_button(ana_thread, "desk_close", user=ALEX)
        await h.slack.wait_for(lambda: any("closed this conversation" in m["text"] for m in h.slack.thread(ana_thread)))

        await h.slack.post_command("/announce", "incident service=payments")
        [view] = _modals(h)
        assert "*Goes to 3 open conversations*" in _modal_text(view)
        status, body = await h.slack.submit_view(view["id"], {})  # the prefilled values, as Slack submits them

        assert status == 200 and body == ""
        assert h.slack.views[view["id"]].get("_closed")
        assert _told(h, ALEX) == [
            "Sent to 3 conversations (1 Portuguese (Brazil), 1 Russian, 1 Turkish); each thread has a note."
        ]
        assert await _frame_text(ayse) == INCIDENT["tr"]
        assert await _frame_text(joao) == INCIDENT["pt_BR"]
        await telegram.wait_for(lambda: any(INCIDENT["ru"] in m.get("text", "") for m in telegram.sent(CHAT)))
        await h.slack.wait_for(lambda: all(_notes(h, t) for t in (ayse_thread, joao_thread, ivan_thread)))
        [note] = _notes(h, ayse_thread)
        assert note.startswith("Alex announced incident in Turkish:\n" + INCIDENT["tr"])
        assert f"English: {INCIDENT_EN}" in note
        assert _notes(h, ivan_thread)[0].startswith("Alex announced incident in Russian:")
        assert _notes(h, ana_thread) == []

        status, body = await h.slack.post_interaction(h.slack.view_submission_payload(view["id"], {}))  # again

        assert status == 200 and body == ""
        assert _told(h, ALEX)[-1] == "Nothing new was sent. 3 conversations already had it from this form."
        announced = await _announced(h)
        assert sorted((locale, text) for _, locale, text in announced) == sorted(INCIDENT.items())
        with pytest.raises(TimeoutError):
            await ayse.expect("message", timeout=0.5)
        assert not [f for f in ana.seen if f["type"] == "message" and "payments" in f["message"]["text"]]
    assert len([m for m in telegram.sent(CHAT) if INCIDENT["ru"] in m.get("text", "")]) == 1
    assert len(_notes(h, ayse_thread)) == 1


async def _frame_text(widget: Widget) -> str:
    return str((await widget.expect("message"))["message"]["text"])


async def test_a_maintenance_time_is_written_in_each_customers_format(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Olga", locale="ru") as olga, h.widget(name="Sam", locale="en") as sam:
        await _open(h, olga, "Здравствуйте")
        await _open(h, sam, "Hello")
        await h.slack.post_command("/announce", "maintenance date=2026-12-01T02:00Z")
        [view] = _modals(h)

        await h.slack.submit_view(view["id"], {})

        assert (await _frame_text(olga)).startswith(
            "Плановые технические работы: 1 декабря 2026\u202fг., 02:00:00 UTC."
        )
        assert (await _frame_text(sam)).startswith("Scheduled maintenance on December 1, 2026, 2:00:00\u202fAM UTC:")


async def test_a_bad_choice_is_shown_on_its_field_and_nothing_is_sent(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ayşe", locale="tr") as ayse:
        await _open(h, ayse, "Merhaba")

        _, typo = await h.slack.post_command("/announce", "incidnet service=payments")
        _, personal = await h.slack.post_command("/announce", "greeting_agent")

        assert json.loads(typo) == {
            "response_type": "ephemeral",
            "text": "There is no announcement `incidnet`. Did you mean `incident`? Nothing was sent.",
        }
        assert "`greeting_agent` names the customer" in json.loads(personal)["text"]
        assert h.slack.calls_to("views.open") == []

        await h.slack.post_command("/announce", "")
        [view] = _modals(h)
        status, body = await h.slack.submit_view(view["id"], {"announce_key": {"announce_key": "incident"}})
        assert status == 200
        assert json.loads(body) == {
            "response_action": "errors",
            "errors": {"announce_params": "Nothing was sent: incident needs service: add service=…."},
        }
        unknown = h.slack.view_submission_payload(view["id"], {"announce_key": {"announce_key": "incident"}})
        unknown["view"]["state"]["values"]["announce_key"]["announce_key"]["selected_option"] = {
            "value": "no_such_text"
        }
        status, body = await h.slack.post_interaction(unknown)  # e.g. the text left the catalog meanwhile
        assert status == 200
        assert json.loads(body)["errors"] == {
            "announce_key": "There is no announcement `no_such_text`. Nothing was sent."
        }
        lost = h.slack.view_submission_payload(view["id"], {"announce_key": {"announce_key": "incident"}})
        lost["view"]["private_metadata"] = "not json"
        _, body = await h.slack.post_interaction(lost)
        assert json.loads(body)["errors"] == {
            "announce_key": "This form lost its details; run `/announce` again. Nothing was sent."
        }

        assert not h.slack.views[view["id"]].get("_closed")
        with pytest.raises(TimeoutError):
            await ayse.expect("message", timeout=0.3)
    assert await _announced(h) == []
    assert _told(h, ALEX) == [json.loads(typo)["text"], json.loads(personal)["text"]]  # the refusals; no "Sent to"


async def test_someone_outside_the_support_channel_is_refused(harness: Harness) -> None:
    h = harness
    h.slack.add_user(OUTSIDER, "olly")
    async with h.widget(name="Ayşe", locale="tr") as ayse:
        await _open(h, ayse, "Merhaba")

        status, body = await h.slack.post_command("/announce", "incident service=payments", user=OUTSIDER)

        assert status == 200
        assert json.loads(body) == {
            "response_type": "ephemeral",
            "text": f"Only members of <#{SUPPORT}> can send announcements. Nothing was sent.",
        }
        assert h.slack.calls_to("views.open") == []
        await h.slack.post_command("/announce", "incident service=payments")  # Alex opens it ...
        [view] = _modals(h)
        values = {"announce_key": {"announce_key": "incident"}, "announce_params": {"announce_params": "service=x"}}
        _, body = await h.slack.submit_view(view["id"], values, user=OUTSIDER)  # ... someone else submits it
        assert json.loads(body)["errors"]["announce_key"].startswith(f"Only members of <#{SUPPORT}>")
    assert await _announced(h) == []


async def test_a_member_of_the_agent_group_may_act_without_joining_the_channel(group_bridge: Harness) -> None:
    h = group_bridge
    h.slack.add_user(OUTSIDER, "olly")
    assert ON_CALL not in h.slack.members[SUPPORT]
    async with h.widget(name="Ayşe", locale="tr") as ayse:
        thread = await _open(h, ayse, "Merhaba")

        await h.slack.click_button(thread, "desk_claim", user=ON_CALL)
        await h.slack.post_command("/available", "", user=ON_CALL)
        await h.slack.post_command("/announce", "incident service=payments", user=ON_CALL)
        _, refused = await h.slack.post_command("/announce", "", user=OUTSIDER)

        row = await h.bridge.store.fetch_one(sa.select(CONVERSATION.c.assignee))
        assert row is not None and row.assignee == ON_CALL
        assert _told(h, ON_CALL) == ["You are available: new conversations are offered to you."]
        [view] = _modals(h)
        assert view["_user"] == ON_CALL
        assert json.loads(refused)["text"] == (
            f"Only members of <#{SUPPORT}> or of <!subteam^{GROUP}> can send announcements. Nothing was sent."
        )
        await h.slack.submit_view(view["id"], {}, user=ON_CALL)
        while INCIDENT["tr"] not in [f["message"]["text"] for f in ayse.seen if f["type"] == "message"]:
            await ayse.expect("message")  # after "Casey joined the conversation."
    assert [text for _, _, text in await _announced(h)] == [INCIDENT["tr"]]
    # One usergroups.users.list for all of that: the member list is kept for a while, like the channel's.
    [listed] = h.slack.calls_to("usergroups.users.list")
    assert listed.params["usergroup"] == GROUP
