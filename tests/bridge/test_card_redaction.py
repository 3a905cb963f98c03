"""``mask_cards``: Luhn-valid card numbers of 13-19 digits are masked to their last four; nothing else changes."""

from __future__ import annotations

import logging
import random
import re
import time
import timeit

import pytest

from bridge.redaction import mask_cards, redact_logs
from tests.support.cards import card_digits, digits_of, grouped, invalid_digits, luhn_ok, phones

VISA, MASTERCARD, AMEX, DINERS = "4111111111111111", "5500000000000004", "378282246310005", "30569309025904"
VISA_13 = "4222222222222"


def test_known_test_cards_are_luhn_valid() -> None:
    assert all(luhn_ok(n) for n in (VISA, MASTERCARD, AMEX, DINERS, VISA_13))


@pytest.mark.parametrize("length", range(13, 20))
def test_every_length_from_13_to_19_is_masked_to_its_last_four(length: int) -> None:
    rng = random.Random(length)
    for _ in range(50):
        number = card_digits(rng, length)
        assert mask_cards(f"my card is {number} thanks") == f"my card is [card ending {number[-4:]}] thanks"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (VISA, "[card ending 1111]"),
        ("4111 1111 1111 1111", "[card ending 1111]"),
        ("4111-1111-1111-1111", "[card ending 1111]"),
        ("4111 1111-1111 1111", "[card ending 1111]"),  # separators mixed in one number
        ("3782 822463 10005", "[card ending 0005]"),  # Amex 4-6-5
        ("3056 930902 5904", "[card ending 5904]"),  # Diners 4-6-4
        ("5500\u00a00000\u00a00000\u00a00004", "[card ending 0004]"),  # no-break spaces (pasted from a banking app)
        ("5500\u20130000\u20130000\u20130004", "[card ending 0004]"),  # en dashes
        (VISA_13, "[card ending 2222]"),
        ("\u0664" + "\u0661" * 15, "[card ending \u0661\u0661\u0661\u0661]"),  # Arabic-Indic digits
    ],
)
def test_plain_and_grouped_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_cards(text) == masked


def test_several_cards_in_one_text_each_keep_their_own_last_four() -> None:
    text = f"Visa {VISA}, Mastercard 5500-0000-0000-0004 and Amex 3782 822463 10005.\nDiners: {DINERS}"
    assert mask_cards(text) == (
        "Visa [card ending 1111], Mastercard [card ending 0004] and Amex [card ending 0005].\n"
        "Diners: [card ending 5904]"
    )


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"card:{VISA};", "card:[card ending 1111];"),
        (f"({VISA})", "([card ending 1111])"),
        (f"no.{VISA}x", "no.[card ending 1111]x"),  # letters right next to it
        (f"'{VISA}'", "'[card ending 1111]'"),
        (f"VISA-{VISA}", "VISA-[card ending 1111]"),  # a hyphen after a word, not a minus sign
        (f"{VISA}\n{MASTERCARD}", "[card ending 1111]\n[card ending 0004]"),
        (f"{VISA}, {MASTERCARD}", "[card ending 1111], [card ending 0004]"),
        (f"{VISA}.", "[card ending 1111]."),
    ],
)
def test_text_right_next_to_a_card_stays(text: str, masked: str) -> None:
    assert mask_cards(text) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("4111 1111 1111 1111 123", "[card ending 1111] 123"),  # then the CVV
        ("4111-1111-1111-1111-0925", "[card ending 1111]-0925"),  # then the expiry
        ("order 12 4111 1111 1111 1111", None),  # whatever span is found, no 5 card digits in a row stay
    ],
)
def test_a_card_inside_a_longer_grouped_run_is_found(text: str, masked: str | None) -> None:
    got = mask_cards(text)
    if masked is not None:
        assert got == masked
    assert "[card ending" in got and "4111 1111" not in got


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # Luhn-invalid
        "4111 1111 1111 1112",
        "411111111111",  # 12 digits, even if Luhn-valid
        "12345678901234567890123",  # a plain run of 23 digits: an identifier
        "4111111111111111" + "0000",  # a plain run of 20
        "+4111111111111111",  # a phone number in international form
        "+49 1512 3456 7890",
        "+1-415-555-2671",
        "chat -1001987654321 (a supergroup)",  # a negative number: Telegram group chat ids are Luhn-valid 1 in 10
        "id=-4111111111111111",
        "4111  1111 1111 1111",  # two spaces end a number: 4 and 12 digits
        "4111 -1111 1111 1111",
        "4111.1111.1111.1111",  # dots are not card separators
        "63-05321-35 40386 35",  # Luhn-invalid 16 digits: its valid 14-digit span 05321-35 40386 35 is not a card
        "order 12345, ticket 67890, call 555-0100",
        "3 + 4 = 7",
        "",
    ],
)
def test_what_is_not_a_card_comes_back_unchanged(text: str) -> None:
    assert mask_cards(text) == text


def test_text_that_holds_no_card_is_returned_as_the_same_object() -> None:
    for text in ("no digits at all", "order 12345", "+49 1512 3456 7890", "4111111111111112", "ünïcödé 12", "x" * 5000):
        assert mask_cards(text) is text


def test_masking_twice_changes_nothing_more() -> None:
    text = f"pay with {VISA} or 3782 822463 10005, order 12345"
    once = mask_cards(text)
    assert mask_cards(once) == once and once != text


def test_no_five_digits_of_any_generated_card_survive() -> None:
    rng = random.Random(28)
    numbers = [grouped(rng, card_digits(rng, rng.randint(13, 19))) for _ in range(2000)]
    for start in range(0, len(numbers), 20):
        batch = numbers[start : start + 20]
        masked = mask_cards("Hi! " + "; ".join(f"card {n}" for n in batch) + " -- thanks")
        assert masked.count("[card ending") == len(batch)
        assert not re.search(r"\d{5}", masked.replace(" ", "").replace("-", "")), masked


def test_phone_numbers_and_luhn_invalid_strings_are_left_alone() -> None:
    rng = random.Random(1028)
    others = phones(rng, 1000) + [grouped(rng, invalid_digits(rng)) for _ in range(1000)]
    changed = [n for n in others if mask_cards(f"call {n} please") != f"call {n} please"]
    assert changed == []
    assert sum(luhn_ok(digits_of(p)) for p in others[:1000]) > 50  # many phones would pass for cards but for "+"


ADVERSARIAL = [
    "1 " * 5000,
    "1-" * 5000,
    "1" * 10_000,
    "12 " * 3333,
    "1 2-" * 2500,
    ("1" * 12 + " ") * 769,
    ("1" * 12 + "  ") * 714,
    "+" + "1 " * 4999,
    "4111 1111 1111 1111 " * 500,  # one run of 8,000 digits, a card in every four groups
    ("4111111111111111" + "x") * 588,
    "\u0661 " * 5000,
]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_adversarial_10000_characters_take_under_50_ms(text: str) -> None:
    """Reliability target 27: a redaction regex over a 10,000-character adversarial input finishes in < 50 ms."""
    best = min(_seconds(text) for _ in range(3))
    assert best < 0.050, f"{best * 1000:.1f} ms"


def _seconds(text: str) -> float:
    started = time.perf_counter()
    mask_cards(text)
    return time.perf_counter() - started


def test_the_fast_path_is_cheap() -> None:
    """Every stored message goes through ``mask_cards``: text without a long digit run costs well under 1 µs
    (the target is 0.5 µs; the assertion leaves room for a loaded machine)."""
    sentence = "Hello, I would like to know where my parcel is; it should have arrived yesterday. Thanks a lot, Ana!!"
    sentence = sentence.ljust(120, ".")
    for text in (sentence, sentence[:109] + "order 12345"):
        assert len(text) == 120 and mask_cards(text) is text
        per_call = min(timeit.repeat(lambda t=text: mask_cards(t), number=20_000, repeat=5)) / 20_000
        assert per_call < 1.5e-6, f"{per_call * 1e9:.0f} ns"


def test_log_records_are_masked_message_arguments_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    redact_logs()
    redact_logs()  # installed once, however often it is called
    log = logging.getLogger("tests.redaction")
    with caplog.at_level(logging.DEBUG, logger="tests.redaction"):
        log.debug("update %r", {"text": f"card {VISA}"})
        log.info(f"inline 5500-0000-0000-0004 and order {12345}")
        try:
            raise ValueError(f"bad value {AMEX}")
        except ValueError:
            log.exception("failed on %s", "3782 822463 10005")
        log.info("nothing to hide: %s", 42)
    assert [r.getMessage() for r in caplog.records] == [
        "update {'text': 'card [card ending 1111]'}",
        "inline [card ending 0004] and order 12345",
        "failed on [card ending 0005]",
        "nothing to hide: 42",
    ]
    assert caplog.records[-1].args == (42,)  # a record without a card keeps its arguments
    for number in (VISA, "5500-0000-0000-0004", AMEX, "3782 822463 10005"):
        assert number not in caplog.text
    assert "ValueError: bad value [card ending 0005]" in caplog.text
