"""The Reconciler against the Slack emulator: posts carry their delivery's key, and a delivery that may already be
in Slack is looked up in the thread (or, for a card, the channel) before anything is posted again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bridge.events import AuthorKind, ChannelKind, ConversationCard, ExternalRef, OutboundCard, OutboundText
from bridge.sandbox.slack import SlackEmulator
from channels.slack.reconcile import DELIVERY_EVENT, Reconciler, card_metadata
from channels.slack.translate import SLACK_TEXT_LIMIT, message_posts

SUPPORT = "C0SUPPORT"
TOKEN = "xoxb-sandbox"
EARLIER = datetime.now(UTC) - timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    emulator = SlackEmulator(signing_secret="s", bot_token=TOKEN, support_channel=SUPPORT)
    emulator.echo_bot_messages = False
    await emulator.start()
    yield emulator
    await emulator.stop()


def _client(slack: SlackEmulator, timeout: int = 30) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=slack.api_url, timeout=timeout)


def _reconciler(slack: SlackEmulator, timeout: int = 30) -> Reconciler:
    """A fresh Reconciler, as a newly started process has."""
    reconciler = Reconciler(_client(slack, timeout), SUPPORT)
    reconciler.own(slack.bot_user_id, slack.bot_id)
    return reconciler


async def _thread(slack: SlackEmulator) -> str:
    return str((await _client(slack).chat_postMessage(channel=SUPPORT, text="a conversation card"))["ts"])


def _out(thread: str, text: str, *, key: str = "m1.0", maybe_sent_after: datetime | None = None) -> OutboundText:
    return OutboundText(
        delivery_id=1,
        message_id=1,
        conversation_id=1,
        target=ExternalRef(channel=ChannelKind.SLACK, external_id=thread),
        author=AuthorKind.CUSTOMER,
        author_name="Ana",
        text=text,
        created_at=EARLIER,
        idempotency_key=key,
        maybe_sent_after=maybe_sent_after,
    )


async def _post(reconciler: Reconciler, out: OutboundText) -> str:
    return await reconciler.post_message(out, message_posts(out, channel=SUPPORT))


async def test_every_post_carries_its_delivery_key_in_message_metadata(slack: SlackEmulator) -> None:
    thread = await _thread(slack)
    ts = await _post(_reconciler(slack), _out(thread, "hello"))
    [posted] = slack.thread(thread)
    assert posted["ts"] == ts
    assert posted["metadata"] == {"event_type": DELIVERY_EVENT, "event_payload": {"key": "m1.0", "part": 0, "parts": 1}}


async def test_a_delivery_an_earlier_process_posted_is_not_posted_again(slack: SlackEmulator) -> None:
    """The process died after Slack accepted the post and before the "sent" mark: without the lookup the
    restarted process posts the customer's message a second time."""
    thread = await _thread(slack)
    first = await _post(_reconciler(slack), _out(thread, "hello"))
    posts = len(slack.calls_to("chat.postMessage"))

    restarted = _reconciler(slack)
    again = await _post(restarted, _out(thread, "hello", maybe_sent_after=EARLIER))
    assert again == first
    assert [m["text"] for m in slack.thread(thread)] == ["hello"]
    assert len(slack.calls_to("chat.postMessage")) == posts
    assert restarted.lookups == 1 and restarted.skipped == 1


async def test_one_thread_read_serves_every_delivery_of_the_thread(slack: SlackEmulator) -> None:
    thread = await _thread(slack)
    earlier = _reconciler(slack)
    await _post(earlier, _out(thread, "one", key="m1.0"))
    restarted = _reconciler(slack)
    for n, text in enumerate(["one", "two", "three"], start=1):
        await _post(restarted, _out(thread, text, key=f"m{n}.0", maybe_sent_after=EARLIER))
    assert [m["text"] for m in slack.thread(thread)] == ["one", "two", "three"]
    assert restarted.lookups == 1


async def test_only_the_missing_parts_of_a_long_message_are_posted(slack: SlackEmulator) -> None:
    """A message longer than Slack takes is posted in parts; the process died after the first."""
    thread = await _thread(slack)
    text = ("word " * (SLACK_TEXT_LIMIT // 5 + 100)).strip()
    out = _out(thread, text)
    assert len(message_posts(out, channel=SUPPORT)) == 2
    first, second = message_posts(out, channel=SUPPORT)
    with pytest.raises(SlackApiError):  # the earlier process got as far as the first part
        await _reconciler(slack).post_message(out, [first, {**second, "channel": "C0GONE"}])

    restarted = _reconciler(slack)
    await _post(restarted, _out(thread, text, maybe_sent_after=EARLIER))
    parts = slack.thread(thread)
    assert [m["metadata"]["event_payload"]["part"] for m in parts] == [0, 1]
    assert "".join(m["text"] for m in parts) == text


async def test_a_post_whose_answer_never_came_is_looked_up_before_the_retry(slack: SlackEmulator) -> None:
    """Slack accepted the post but the answer timed out: the retry must find it rather than post it again."""
    thread = await _thread(slack)
    reconciler = _reconciler(slack, timeout=1)
    slack.answer_late("chat.postMessage", 1.3)
    with pytest.raises(Exception) as failed:
        await _post(reconciler, _out(thread, "slow"))
    assert not isinstance(failed.value, SlackApiError)
    await _post(reconciler, _out(thread, "slow"))
    assert [m["text"] for m in slack.thread(thread)] == ["slow"]
    assert reconciler.lookups == 1


async def test_a_lookup_that_fails_is_made_again_on_the_next_try(slack: SlackEmulator) -> None:
    """The thread read itself can be rate limited; the doubt must outlive it, or the try after posts blindly."""
    thread = await _thread(slack)
    reconciler = _reconciler(slack, timeout=1)
    slack.answer_late("chat.postMessage", 1.3)
    with pytest.raises(Exception):  # noqa: B017 (a timeout, whichever class the client raises for it)
        await _post(reconciler, _out(thread, "slow"))
    slack.fail_next("conversations.replies", count=1, retry_after=1)
    with pytest.raises(SlackApiError):
        await _post(reconciler, _out(thread, "slow"))
    await _post(reconciler, _out(thread, "slow"))
    assert [m["text"] for m in slack.thread(thread)] == ["slow"]


async def test_a_definite_refusal_costs_no_lookup(slack: SlackEmulator) -> None:
    """A 429 (or ok: false) means nothing was posted: the retry posts without reading the thread, which keeps
    ``conversations.replies`` out of a rate-limited outbox's way."""
    thread = await _thread(slack)
    reconciler = _reconciler(slack)
    slack.fail_next("chat.postMessage", count=1, retry_after=1)
    with pytest.raises(SlackApiError):
        await _post(reconciler, _out(thread, "later"))
    await _post(reconciler, _out(thread, "later"))
    assert [m["text"] for m in slack.thread(thread)] == ["later"]
    assert reconciler.lookups == 0


def _card(conversation_id: int, maybe_sent_after: datetime | None) -> OutboundCard:
    card = ConversationCard(
        conversation_id=conversation_id,
        customer_name="Ana",
        channel=ChannelKind.WEB,
        locale="en",
        page_url=None,
        first_message="hi",
    )
    return OutboundCard(delivery_id=1, card=card, maybe_sent_after=maybe_sent_after)


async def test_a_card_an_earlier_process_posted_is_found_in_the_channel(slack: SlackEmulator) -> None:
    client = _client(slack)
    await client.chat_postMessage(channel=SUPPORT, text="card 6", metadata=card_metadata(6))
    card = str((await client.chat_postMessage(channel=SUPPORT, text="card 7", metadata=card_metadata(7)))["ts"])
    await client.chat_postMessage(channel=SUPPORT, text="no metadata")

    restarted = _reconciler(slack)
    assert await restarted.find_card(_card(7, EARLIER)) == card
    assert await restarted.find_card(_card(8, EARLIER)) is None
    lookups = restarted.lookups
    assert await restarted.find_card(_card(7, None)) is None, "a card no process tried yet needs no lookup"
    assert restarted.lookups == lookups


async def test_only_our_own_bots_messages_count(slack: SlackEmulator) -> None:
    """Another app's message that happens to carry our key must not stop our post."""
    thread = await _thread(slack)
    await _client(slack).chat_postMessage(channel=SUPPORT, thread_ts=thread, text="hello")  # tagless, ours
    stranger = Reconciler(_client(slack), SUPPORT)
    stranger.own("U0SOMEONE")
    await _post(_reconciler(slack), _out(thread, "hello", key="m2.0"))  # ours, tagged
    assert await _post(stranger, _out(thread, "hello", key="m2.0", maybe_sent_after=EARLIER))
    assert [m["text"] for m in slack.thread(thread)] == ["hello", "hello", "hello"]
