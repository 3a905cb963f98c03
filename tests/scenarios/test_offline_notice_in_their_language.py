"""Outside business hours a new customer is told, in their language, when agents are back (issues 5 and 6)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bridge.hours import parse_hours
from tests.support.harness import Widget, running_bridge, running_slack

HOURS = parse_hours("Europe/Istanbul; mon-fri 09:00-18:00")
SATURDAY_NIGHT = datetime(2026, 11, 28, 20, 30, tzinfo=UTC)  # 23:30 in Istanbul
MONDAY_MORNING = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # 10:00 in Istanbul
GREETING_TR = "Merhaba Ayşe! Bize ulaştığınız için teşekkürler. Bir temsilcimiz birazdan sizinle ilgilenecek."
OFFLINE_TR = (
    "Temsilcilerimiz şu anda çevrim dışı. Dönüş zamanımız: 30 Kas 2026 09:00:00. "
    "Bir mesaj bırakın, döndüğümüzde yanıtlayalım."
)


async def _texts_after_first_message(widget: Widget) -> list[str]:
    """Send a first message; return the texts the customer receives until the widget is quiet."""
    await widget.send({"type": "message", "client_id": "c1", "text": "Siparişim nerede?"})
    texts: list[str] = []
    while True:
        try:
            frame: dict[str, Any] = await widget.expect_any(timeout=0.7)
        except TimeoutError:
            return texts
        if frame["type"] == "message":
            assert frame["message"]["author"] == "system"
            texts.append(frame["message"]["text"])


@pytest.mark.parametrize(
    ("now", "expected"), [(SATURDAY_NIGHT, [GREETING_TR, OFFLINE_TR]), (MONDAY_MORNING, [GREETING_TR])]
)
async def test_turkish_customer_on_saturday_night_hears_we_are_back_monday(
    db_url: str, tmp_path: Path, now: datetime, expected: list[str]
) -> None:
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(db_url, tmp_path, slack, slack_server, greeting=True, hours=HOURS, clock=lambda: now) as h,
        h.widget(name="Ayşe Yılmaz", locale="tr") as widget,
    ):
        assert await _texts_after_first_message(widget) == expected
        root = str(slack.channel_messages()[-1]["ts"])
        assert all("Temsilcilerimiz" not in m["text"] for m in slack.thread(root))  # the customer only
