"""A widget socket says hello at most 10 times a minute (G25): each hello writes the visitor's identity (their
session is renewed, their contact refreshed) and reads their history, so without a limit one socket could keep the
database busy with hellos alone, under the limit of 100 messages a minute that counts only messages. A widget sends
one hello per connect. The 11th and later hellos get ``rate_limited`` (the reason in the visitor's language) and
change nothing; the socket stays open, and the visitor's other sockets and other visitors are not affected.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from bridge import texts
from bridge.engine import CONTACT, IDENTITY
from channels.web.channel import HELLOS_PER_MINUTE
from tests.support.harness import Harness


async def _visitors(h: Harness) -> list[tuple[Any, ...]]:
    """Every identity with its session's last hello and its contact's name and locale."""
    rows = await h.bridge.store.fetch_all(
        sa.select(IDENTITY.c.external_id, IDENTITY.c.last_seen_at, CONTACT.c.display_name, CONTACT.c.locale)
        .join(CONTACT, CONTACT.c.id == IDENTITY.c.contact_id)
        .order_by(IDENTITY.c.id)
    )
    return [tuple(row) for row in rows]


async def test_the_11th_hello_a_minute_on_one_socket_is_refused_and_changes_nothing(harness: Harness) -> None:
    h = harness
    assert HELLOS_PER_MINUTE == 10
    async with h.widget(name="Ana", locale="tr") as widget:  # the socket's first hello
        token = widget.welcome["session"]
        for _ in range(HELLOS_PER_MINUTE - 1):  # the rest of the minute's allowance: each one is answered
            await widget.send({"type": "hello", "session": token, "last_seen": 0, "name": "Ana", "locale": "tr"})
            await widget.expect("welcome")
        before = await _visitors(h)
        assert [row[2:] for row in before] == [("Ana", "tr")]

        floods: list[dict[str, Any]] = [
            {"session": token, "name": "Mallory", "locale": "es"},  # would rename Ana and renew her session
            {"session": None, "name": "Sybil"},  # would make another visitor
        ]
        for hello in floods * 3:
            await widget.send({"type": "hello", "last_seen": 0, **hello})
            error = await widget.expect("error")
            assert error["code"] == "rate_limited"
            assert error["reason"] == h.bridge.catalogs.gettext("tr", texts.RATE_LIMITED)  # in Ana's language
        assert [f["type"] for f in widget.seen].count("welcome") == HELLOS_PER_MINUTE
        assert await _visitors(h) == before  # nothing written: same visitors, same session time, same name

        # The socket stays open and is still Ana's.
        assert (await widget.say("still here", "a1"))["status"] == "sent"

        # Her other tab and another visitor say hello as usual; her tab's hello renews her session.
        async with h.widget(name="Ana", locale="tr", session=token) as tab:
            assert tab.welcome["session"] == token
            assert [m["text"] for m in tab.welcome["messages"]] == ["still here"]
        async with h.widget(name="Ben") as other:
            assert (await other.say("hello", "b1"))["status"] == "sent"

    after = await _visitors(h)
    assert [row[2:] for row in after] == [("Ana", "tr"), ("Ben", None)]
    assert after[0][1] > before[0][1]
