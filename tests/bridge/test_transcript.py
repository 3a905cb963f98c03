"""Transcripts rendered from a known conversation: customers' copies in their language, agents' export in English."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.engine import CONTACT, CONVERSATION, IDENTITY, MESSAGE
from bridge.events import ChannelKind, ExternalRef
from bridge.i18n import Catalogs
from bridge.schema import upgrade
from bridge.store import Store
from bridge.transcript import Transcripts, UnknownTimeZone

LOCALES = Path(__file__).resolve().parents[2] / "locales"
T0 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
ANA = ExternalRef(channel=ChannelKind.WEB, external_id="visitor-ana")
BO = ExternalRef(channel=ChannelKind.WEB, external_id="visitor-bo")
THREAD = "1772528400.000100"

# (seconds after T0, author kind, author name, text, file names, deleted)
ANAS_MESSAGES = [
    (5, "customer", "Ana", "Hola, necesito ayuda", ["factura.pdf"], False),
    (60, "system", None, "Alex se unió a la conversación.", [], False),
    (125, "agent", "Alex", "Claro.\n¿Cuál es tu número de pedido?", [], False),
    (130, "note", "Alex", "cliente VIP, responder rápido", [], False),
    (140, "customer", "Ana", "mensaje borrado", [], True),
    (3600, "agent", None, "Listo", [], False),
]


@dataclass(frozen=True)
class Seeded:
    transcripts: Transcripts
    anas: int  # Ana's conversation
    bos: int  # another visitor's


@pytest.fixture
async def seeded(db_url: str) -> AsyncIterator[Seeded]:
    await upgrade(db_url)
    async with Store(db_url) as store:
        anas, bos = await store.writer.run(_seed)
        yield Seeded(Transcripts(store, Catalogs(LOCALES)), anas, bos)


async def _conversation(conn: AsyncConnection, customer: ExternalRef, name: str, thread: str | None) -> int:
    contact = (
        await conn.execute(sa.insert(CONTACT).values(display_name=name, attributes={}).returning(CONTACT.c.id))
    ).scalar_one()
    identity = (
        await conn.execute(
            sa.insert(IDENTITY)
            .values(channel=str(customer.channel), external_id=customer.external_id, contact_id=contact)
            .returning(IDENTITY.c.id)
        )
    ).scalar_one()
    values = {"contact_id": contact, "identity_id": identity, "origin_channel": "web", "tags": [], "created_at": T0}
    return int(
        (
            await conn.execute(
                sa.insert(CONVERSATION).values(**values, slack_thread_ts=thread).returning(CONVERSATION.c.id)
            )
        ).scalar_one()
    )


async def _seed(conn: AsyncConnection) -> tuple[int, int]:
    anas = await _conversation(conn, ANA, "Ana", THREAD)
    for index, (offset, kind, name, text, files, deleted) in enumerate(ANAS_MESSAGES):
        at = T0 + timedelta(seconds=offset)
        await conn.execute(
            sa.insert(MESSAGE).values(
                conversation_id=anas,
                direction="in" if kind == "customer" else "out",
                author_kind=kind,
                author_name=name,
                text=text,
                attachments=[{"name": f, "media_type": "application/pdf", "size": 10, "url": "x:"} for f in files],
                source_channel="web",
                source_id=f"ana-{index}",
                created_at=at,
                deleted_at=at if deleted else None,
            )
        )
    bos = await _conversation(conn, BO, "Bo", None)
    await conn.execute(
        sa.insert(MESSAGE).values(
            conversation_id=bos,
            direction="in",
            author_kind="customer",
            text="Bo's secret order 4711",
            attachments=[],
            source_channel="web",
            source_id="bo-0",
            created_at=T0,
        )
    )
    return anas, bos


async def test_spanish_copy_has_babel_dates_and_no_notes(seeded: Seeded) -> None:
    transcript = await seeded.transcripts.for_customer(ANA, ["es-ES", "en"])

    assert transcript is not None
    assert (transcript.conversation_id, transcript.locale) == (seeded.anas, "es")
    assert transcript.filename == f"transcript-{seeded.anas}.txt"
    assert transcript.text == (
        "Transcripción de la conversación\n"
        f"Conversación n.º {seeded.anas}\n"
        "Iniciada el 3 de marzo de 2026, 9:00:00 UTC\n"
        "\n"
        "[3 mar 2026, 9:00:05] Tú: Hola, necesito ayuda\n"
        "    Archivo adjunto: factura.pdf\n"
        "[3 mar 2026, 9:01:00] Equipo de soporte: Alex se unió a la conversación.\n"
        "[3 mar 2026, 9:02:05] Alex: Claro.\n"
        "    ¿Cuál es tu número de pedido?\n"
        "[3 mar 2026, 10:00:00] Agente: Listo\n"
    )


async def test_arabic_copy_in_the_customers_time_zone(seeded: Seeded) -> None:
    transcript = await seeded.transcripts.for_customer(ANA, ["ar"], time_zone="Asia/Riyadh")  # UTC+3

    assert transcript is not None and transcript.locale == "ar"
    lines = transcript.text.splitlines()
    assert lines[:3] == ["نص المحادثة", f"المحادثة رقم {seeded.anas}", "بدأت في 3 مارس 2026، 12:00:00 م +0300"]
    assert lines[4] == "[03\u200f/03\u200f/2026، 12:00:05 م] أنت: Hola, necesito ayuda"
    assert lines[5] == "    مرفق: factura.pdf"
    assert lines[6].endswith("] فريق الدعم: Alex se unió a la conversación.")
    assert "VIP" not in transcript.text and "borrado" not in transcript.text


async def test_agents_export_is_english_with_notes_marked(seeded: Seeded) -> None:
    transcript = await seeded.transcripts.for_agents(THREAD)

    assert transcript is not None and transcript.locale == "en"
    assert transcript.text.splitlines() == [
        "Conversation transcript",
        f"Conversation #{seeded.anas}",
        "Started March 3, 2026, 9:00:00\u202fAM UTC",
        "",
        "[Mar 3, 2026, 9:00:05\u202fAM] Ana: Hola, necesito ayuda",
        "    Attachment: factura.pdf",
        "[Mar 3, 2026, 9:01:00\u202fAM] Support team: Alex se unió a la conversación.",
        "[Mar 3, 2026, 9:02:05\u202fAM] Alex: Claro.",
        "    ¿Cuál es tu número de pedido?",
        "[Mar 3, 2026, 9:02:10\u202fAM] Alex [internal note]: cliente VIP, responder rápido",
        "[Mar 3, 2026, 10:00:00\u202fAM] Agent: Listo",
    ]


async def test_only_the_customers_own_conversations(seeded: Seeded) -> None:
    transcripts = seeded.transcripts
    assert await transcripts.for_customer(ANA, ["es"], conversation_id=seeded.bos) is None
    assert await transcripts.for_customer(ANA, ["es"], conversation_id=seeded.bos + 100) is None
    nobody = ExternalRef(channel=ChannelKind.WEB, external_id="visitor-nobody")
    assert await transcripts.for_customer(nobody, ["es"]) is None
    assert await transcripts.for_agents("1700000000.999999") is None
    bos = await transcripts.for_customer(BO, ["es"], conversation_id=seeded.bos)
    assert bos is not None and "4711" in bos.text


async def test_an_unknown_time_zone_is_refused(seeded: Seeded) -> None:
    with pytest.raises(UnknownTimeZone):
        await seeded.transcripts.for_customer(ANA, ["es"], time_zone="Mars/Olympus_Mons")
    with pytest.raises(UnknownTimeZone):
        await seeded.transcripts.for_customer(ANA, ["es"], time_zone="../../etc/passwd")
