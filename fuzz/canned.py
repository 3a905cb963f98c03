"""Atheris target: canned answers and system texts rendered (Babel catalogs) with the values people supply.

Through the product's own functions: ``Catalogs.negotiate`` picks a locale from what a visitor's browser or
Telegram says; ``CustomerTexts.greeting`` and ``Catalogs.gettext`` fill the visitor's name and an agent's;
``CannedService.render`` renders an agent's ``/canned key name=value`` for the conversation (``parse_command``);
an announcement renders per locale, with a ``date=`` value in the customer's format (``Catalogs.format_datetime``).
(``bridge.announce._Texts`` is the renderer ``Announcements.send`` uses, without its database job.)
Documented outcomes: the text, or ``UnknownCannedKey`` / ``MissingParams`` / ``NotAnnounceable`` for a request
that cannot be rendered. Every value appears in the text literally: ``{0.__class__}`` or ``{customer}`` in a value
is text, never a field to evaluate.

Input layout, one line each: the visitor's language preference, the customer's name, the agent's name, the
agent's command (``key name=value ...``; the rest of the input belongs to it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from bridge import texts
from bridge.announce import Announcement, Announcements, NotAnnounceable, _moment, _Texts
from bridge.canned import CannedService, ConversationInfo, MissingParams, UnknownCannedKey, parse_command
from bridge.engine import Engine
from bridge.greeting import CustomerTexts
from bridge.i18n import Catalogs, placeholder_names
from bridge.store import Store
from fuzz.support import check

MAX_LEN = 4096
LOCALES = Path(__file__).resolve().parents[1] / "locales"
ZONES = ("UTC", "Europe/Vilnius", "Asia/Kathmandu", "America/St_Johns", "Etc/GMT+12", "Pacific/Kiritimati", "Mars/Base")


class _Product:
    """The catalogs and services as ``bridge.app`` wires them (the store is never opened: rendering reads no row)."""

    def __init__(self) -> None:
        self.catalogs = Catalogs(LOCALES, reload_interval=float("inf"))
        store = Store("sqlite+aiosqlite:///:memory:")
        engine = Engine(store, negotiate=self.catalogs.negotiate)
        self.canned = CannedService(store=store, engine=engine, catalogs=self.catalogs)
        self.announcements = Announcements(store=store, canned=self.canned)
        self.customer_texts = CustomerTexts(self.catalogs)


@cache
def _product() -> _Product:
    return _Product()


def _check_literal(text: str, values: dict[str, str | None], names: set[str], what: str) -> None:
    for name in names:
        value = values.get(name)
        check(value is None or value in text, f"{what}: {{{name}}}={value!r} is not in {text!r}")


def test_one_input(data: bytes) -> None:
    product = _product()
    preference, name, agent, command = (*data.decode("utf-8", "replace").split("\n", 3), "", "", "")[:4]
    locale = product.catalogs.negotiate([preference])
    check(locale in product.catalogs.available or locale == product.catalogs.default_locale, f"locale {locale!r}")

    greeting = product.customer_texts.greeting(locale, name)
    first = name.split()[0] if name.split() else None
    check(first is None or first in greeting, f"greeting {greeting!r} lacks the name {first!r}")
    joined = product.catalogs.gettext(locale, texts.AGENT_JOINED, agent=agent)
    check(agent in joined, f"{joined!r} lacks the agent's name {agent!r}")

    key, params = parse_command(command)
    info = ConversationInfo(conversation_id=1, locale=locale, customer_name=name or None)
    try:
        canned = product.canned.render(info, key, params, agent or None)
    except (UnknownCannedKey, MissingParams):
        pass
    else:
        source = product.canned.source(key)
        values = {"customer": name or None, "agent": agent or None, **params}
        _check_literal(canned.text, values, placeholder_names(source), f"canned {key} in {locale}")

    try:
        product.announcements.check(key, params)
    except (UnknownCannedKey, MissingParams, NotAnnounceable):
        return
    announced = _Texts(product.canned, Announcement(announcement_id="a1", key=key, params=params, agent_name=agent))
    names = placeholder_names(product.canned.source(key))
    for target in (locale, "en"):
        text = announced.render(target).text
        shown = {name: value for name, value in params.items() if _moment(value) is None}  # a moment is reformatted
        _check_literal(text, {"agent": agent or None, **shown}, names, f"announcement {key} in {target}")
        check(text in announced.note(target), f"the announcement's note lacks {text!r}")
    when = datetime(2026, 3, 3, 9, tzinfo=UTC)
    zone = ZONES[len(preference) % len(ZONES)]  # a few: each unknown zone is remembered (warned about once)
    check(bool(product.catalogs.format_datetime(locale, when, tz=zone)), "format_datetime")
