"""Visitor text in Slack cannot mention (``<!channel>``, ``<!here>``) or hide a link (``<url|label>``) (target E21).

Slack reads ``<...>`` in message text and mrkdwn fields as control sequences; the product escapes ``& < >`` in
every piece of visitor input it posts: thread messages (text, file names), the root card (name, email, page URL,
attributes, first message, survey comment). These tests give the Slack layer the corpus as it is, without the
HTML stripping done at persist time (which would already have removed ``<!channel>``): each layer holds alone.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridge.desk import CardState, EarlierConversation
from bridge.events import Attachment, AuthorKind, ChannelKind, ConversationCard, ExternalRef, OutboundText
from channels.slack.card import card_message
from channels.slack.translate import card_post, escape_mrkdwn, from_mrkdwn, message_posts
from tests.support.xss_corpus import MARKER, PAYLOADS, slack_texts, visitor_made_controls

SUPPORT, AGENT = "C0SUPPORT", "U0AGENT1"
HOSTILE = [
    "<!here>",
    "<!channel> please look",
    "<!everyone>",
    "<!subteam^S0123|@support>",
    "<@U0AGENT1> hi",
    "<#C0SUPPORT>",
    "<https://evil.example/login|https://shop.example/account>",
    "<javascript:alert(1)|click>",
    "<mailto:a@evil.example|support@shop.example>",
    "a &lt;!here&gt; b & c",
] + [p.text for p in PAYLOADS]
IDS = [f"{i}" for i in range(len(HOSTILE))]
EARLIER = EarlierConversation(
    conversation_id=7, created_at=datetime(2026, 1, 5, tzinfo=UTC), status="resolved", thread_ts="1763800000.000100"
)


def controls(params: dict[str, object]) -> list[str]:
    return [c for text in slack_texts(params) for c in visitor_made_controls(text, users=[AGENT], channels=[SUPPORT])]


def test_the_check_finds_what_unescaped_visitor_text_would_make() -> None:
    """The helper the tests rely on flags broadcasts, foreign mentions and links that hide where they go."""
    text = "<!here> <!channel> <@U9OTHER> <https://evil.example|https://shop.example> <javascript:x|y>"
    assert visitor_made_controls(text, users=[AGENT]) == [
        "!here",
        "!channel",
        "@U9OTHER",
        "https://evil.example|https://shop.example",
        "javascript:x|y",
    ]
    page = "<https://shop.example/a?b=1|shop.example/a?b=1> <@U0AGENT1>"  # the product's own
    assert visitor_made_controls(page, users=[AGENT]) == []


def test_escape_mrkdwn_leaves_no_control_sequence() -> None:
    assert escape_mrkdwn("<!here> & <https://x.example|y>") == "&lt;!here&gt; &amp; &lt;https://x.example|y&gt;"
    assert from_mrkdwn(escape_mrkdwn("<!channel> a&b <@U1>")) == "<!channel> a&b <@U1>"  # shown as typed


@pytest.mark.parametrize("hostile", HOSTILE, ids=IDS)
def test_a_thread_message_shows_visitor_text_as_typed(hostile: str) -> None:
    out = OutboundText(
        delivery_id=1,
        message_id=1,
        conversation_id=1,
        target=ExternalRef(channel=ChannelKind.SLACK, external_id="1763900100.000100"),
        author=AuthorKind.CUSTOMER,
        author_name=hostile,
        text=hostile,
        attachments=(Attachment(name=hostile, media_type="image/png", size=3, url="telegram-file:1"),),
        created_at=datetime(2026, 1, 5, tzinfo=UTC),
    )
    [post] = message_posts(out, channel=SUPPORT)
    assert controls(post) == []
    assert from_mrkdwn(post["text"]).startswith(hostile)  # the agent reads exactly what the visitor wrote


@pytest.mark.parametrize("hostile", HOSTILE, ids=IDS)
def test_the_first_card_shows_every_visitor_field_as_text(hostile: str) -> None:
    card = ConversationCard(
        conversation_id=7,
        customer_name=hostile,
        channel=ChannelKind.WEB,
        locale="en",
        page_url=f"https://shop.example/p?q={hostile}",
        first_message=hostile,
        attributes={"email": hostile, "plan": hostile, hostile[:60]: "key"},
    )
    post = card_post(card, channel=SUPPORT)
    assert controls(post) == []
    assert post["blocks"][0]["text"]["type"] == "plain_text"  # the name in the header: shown as typed


@pytest.mark.parametrize("hostile", HOSTILE, ids=IDS)
def test_the_live_card_shows_every_visitor_field_as_text(hostile: str) -> None:
    state = CardState(
        conversation_id=7,
        status="resolved",
        assignee=AGENT,
        priority=hostile,
        tags=("payment",),
        locale="en",
        channel=ChannelKind.WEB,
        customer_name=hostile,
        email=hostile,
        attributes={"plan": hostile, hostile[:60]: "key"},
        page_url=hostile if hostile.startswith("http") else f"https://shop.example/?q={hostile}",
        csat=2,
        csat_comment=hostile,
        first_message=hostile,
        thread_ts="1763900100.000100",
        earlier=(EARLIER,),
    )
    links = {"1763800000.000100": "https://sandbox.slack.com/archives/C0SUPPORT/p1763800000000100"}
    message = card_message(state, links)
    assert controls(message) == []
    texts = " ".join(slack_texts(message))
    assert f"<@{AGENT}>" in texts and "|#7 · 5 Jan 2026 · resolved>" in texts  # the product's own still work


@pytest.mark.parametrize("url", ["javascript:__xss(1)", "data:text/html,<script>__xss(2)</script>", "/relative"])
def test_a_page_url_that_is_not_http_is_not_linked(url: str) -> None:
    card = ConversationCard(
        conversation_id=1, customer_name="Ana", channel=ChannelKind.WEB, locale="en", page_url=url, first_message="hi"
    )
    texts = slack_texts(card_post(card, channel=SUPPORT))
    assert "*Page*\n—" in texts and not any(MARKER in t for t in texts)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://shop.example/", "shop.example"),
        ("https://shop.example:8443/cart?step=2", "shop.example:8443/cart?step=2"),
        ("https://shop.example@evil.example/login", "evil.example/login"),  # a user@ part posing as the host
        (f"https://shop.example.com.{'a' * 70}.evil.example/x", f"shop.example.com.{'a' * 70}.evil.example/x"),
        (f"https://shop.example/{'p' * 100}", f"shop.example/{'p' * 46}…"),
    ],
)
def test_a_page_link_shows_the_host_it_opens(url: str, shown: str) -> None:
    """The visitor sets the page URL; its label was the URL's first 60 characters, which a long host could fill
    with a trusted-looking start while the link opened another site."""
    card = ConversationCard(
        conversation_id=1, customer_name="Ana", channel=ChannelKind.WEB, locale="en", page_url=url, first_message="hi"
    )
    texts = slack_texts(card_post(card, channel=SUPPORT))
    assert any(f"|{escape_mrkdwn(shown)}>" in text for text in texts), texts


@pytest.mark.parametrize("url", ["https://", "http://[::1", "https:///path-only"])
def test_a_page_url_with_no_host_is_not_linked(url: str) -> None:
    card = ConversationCard(
        conversation_id=1, customer_name="Ana", channel=ChannelKind.WEB, locale="en", page_url=url, first_message="hi"
    )
    assert "*Page*\n—" in slack_texts(card_post(card, channel=SUPPORT))
