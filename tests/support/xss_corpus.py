"""The XSS corpus of reliability target E21: what a hostile visitor types, as message text, name, email, custom
attributes or page URL, to run script in the agents' Slack page or in the widget.

Categories follow open-chat-studio's XSS tests (script tags, event handlers, ``javascript:`` URLs, attribute
breakouts, encoded variants, iframes, template injection, markdown links) and OWASP's XSS Filter Evasion Cheat
Sheet, plus what is special to a Slack bridge: mrkdwn links and mentions. Every payload whose markup could run
calls ``__xss(n)`` (n: its index in ``PAYLOADS``), a function the browser test exposes in every frame, so any
execution is recorded with the payload that caused it; none calls ``alert``, so a dialog that opens is a finding too.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bridge.sandbox.slack import SlackEmulator

MARKER = "__xss"  # a Slack control sequence holding it came from visitor input (two encoded payloads hide it)


@dataclass(frozen=True, slots=True)
class Payload:
    category: str
    text: str


def _corpus() -> tuple[Payload, ...]:
    raw: list[tuple[str, str]] = [
        # script tags
        ("script", "<script>__xss(@@)</script>"),
        ("script", "<SCRIPT SRC=data:text/javascript,__xss(@@)></SCRIPT>"),
        ("script", "<scr<script>ipt>__xss(@@)</scr</script>ipt>"),
        ("script", "<<script>script>__xss(@@)<</script>/script>"),
        ("script", '<script type="module">__xss(@@)</script>'),
        # event handlers
        ("event handler", "<img src=x onerror=__xss(@@)>"),
        ("event handler", "<svg onload=__xss(@@)>"),
        ("event handler", '<svg><animate onbegin=__xss(@@) attributeName="x" dur="1s">'),
        ("event handler", "<body onload=__xss(@@)>"),
        ("event handler", "<input autofocus onfocus=__xss(@@)>"),
        ("event handler", "<details open ontoggle=__xss(@@)>"),
        ("event handler", "<video><source onerror=__xss(@@)></video>"),
        ("event handler", '<style>@keyframes x{}</style><b style="animation-name:x" onanimationstart=__xss(@@)>b</b>'),
        ("event handler", '<IMG SRC=/ onerror="__xss(@@)"></img>'),
        # javascript: URLs
        ("javascript url", '<a href="javascript:__xss(@@)">click me</a>'),
        ("javascript url", "javascript:__xss(@@)"),
        ("javascript url", '<a href="jav&#x09;ascript:__xss(@@)">tab</a>'),
        ("javascript url", "<form action=javascript:__xss(@@)><button>go</button></form>"),
        # attribute breakouts
        ("attribute breakout", '"><script>__xss(@@)</script>'),
        ("attribute breakout", "'><img src=x onerror=__xss(@@)>"),
        ("attribute breakout", '" autofocus onfocus="__xss(@@)'),
        ("attribute breakout", "</textarea></title></style><svg onload=__xss(@@)>"),
        # encoded variants
        ("encoded", "&lt;img src=x onerror=__xss(@@)&gt;"),
        ("encoded", "&#60;script&#62;__xss(@@)&#60;/script&#62;"),
        ("encoded", "%3Cscript%3E__xss(@@)%3C%2Fscript%3E"),
        ("encoded", "\\u003cimg src=x onerror=__xss(@@)\\u003e"),
        ("encoded", "<img src=x onerror=&#95;&#95;xss&#40;@@&#41;>"),
        ("encoded", "<img src=x onerror=eval(atob('B64'))>"),  # B64: __xss(@@) in base64
        # iframes, objects, embedded documents
        ("iframe", '<iframe srcdoc="<script>parent.__xss(@@)</script>"></iframe>'),
        ("iframe", '<iframe src="javascript:parent.__xss(@@)"></iframe>'),
        ("iframe", '<object data="data:text/html,<script>parent.__xss(@@)</script>"></object>'),
        ("iframe", '<embed src="data:text/html,<script>parent.__xss(@@)</script>">'),
        ("iframe", '<meta http-equiv=refresh content="0;url=javascript:__xss(@@)">'),
        # comments and parser confusion
        ("comment", '<!--<img src="--><img src=x onerror=__xss(@@)//">'),
        ("comment", "<![CDATA[><script>__xss(@@)</script>]]>"),
        ("comment", "<math><mtext><table><mglyph><style><img src=x onerror=__xss(@@)>"),
        # unterminated: no ">" follows, so it is kept as typed and must still render as text
        ("unterminated", "<img src=x onerror=__xss(@@)//"),
        # template injection
        ("template", "{{constructor.constructor('__xss(@@)')()}}"),
        ("template", "${__xss(@@)}"),
        ("template", "{% raw %}{{__xss(@@)}}{% endraw %} #{__xss(@@)}"),
        # markdown links and images
        ("markdown", "[click me](javascript:__xss(@@))"),
        ("markdown", '![x](x" onerror="__xss(@@))'),
        ("markdown", '[a](https://shop.example/ "title" onmouseover=__xss(@@))'),
        # Slack mrkdwn: links with a hidden target, broadcasts and mentions
        ("slack mrkdwn", "<javascript:__xss(@@)|click>"),
        ("slack mrkdwn", "<https://evil.example/__xss(@@)|https://shop.example/orders>"),
        ("slack mrkdwn", "<!channel> __xss(@@) everyone look"),
        ("slack mrkdwn", "<!here> __xss(@@)"),
        ("slack mrkdwn", "<!everyone> <!subteam^S0123> __xss(@@)"),
        ("slack mrkdwn", "<@U0AGENT1> <#C0SUPPORT> __xss(@@)"),
        ("slack mrkdwn", "&lt;!channel&gt; __xss(@@)"),
        ("slack mrkdwn", "<!date^1392734382^{date}|__xss(@@)>"),
    ]
    return tuple(Payload(category, _number(text, n)) for n, (category, text) in enumerate(raw))


def _number(text: str, n: int) -> str:
    """``@@`` becomes the payload's index (``B64``: ``__xss(n)`` in base64)."""
    return text.replace("B64", base64.b64encode(f"{MARKER}({n})".encode()).decode()).replace("@@", str(n))


PAYLOADS = _corpus()
"""Each payload's text calls ``__xss(index)`` where markup could run it."""


_CONTROL = re.compile(r"<([^<>]*)>")
_PERMALINK = re.compile(r"https://[\w-]+\.slack\.com/archives/")


def slack_texts(params: Mapping[str, Any]) -> list[str]:
    """The texts Slack parses for control sequences in ``chat.postMessage`` / ``chat.update`` arguments: ``text``
    and every mrkdwn text object of the blocks (plain_text objects and ``username`` are shown as typed)."""
    found = [params["text"]] if isinstance(params.get("text"), str) else []
    blocks = params.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return found


def visitor_made_controls(text: str, *, users: Iterable[str] = (), channels: Iterable[str] = ()) -> list[str]:
    """The Slack control sequences in ``text`` that the product does not make itself, so came from a visitor:
    any ``<!...>`` (``<!channel>``, ``<!here>``, ``<!subteam^…>``, ``<!date…>``), a mention of someone other than
    ``users``, a channel other than ``channels``, a link that is not http(s) (``<javascript:…>``), and a
    ``<url|label>`` link whose label is not where it goes: the product labels a page link with the host it opens
    (then the start of its path) and a permalink to an earlier conversation with its number."""
    users, channels = set(users), set(channels)
    made: list[str] = []
    for token in _CONTROL.findall(text):
        target, _, label = token.partition("|")
        if token.startswith("!"):
            made.append(token)
        elif token.startswith("@"):
            if target[1:] not in users:
                made.append(token)
        elif token.startswith("#"):
            if target[1:] not in channels:
                made.append(token)
        elif not target.startswith(("http://", "https://")):
            made.append(token)
        elif label and not _PERMALINK.match(target) and not _names_its_host(_unescaped(target), _unescaped(label)):
            made.append(token)
    return made


def visitor_controls_posted(slack: SlackEmulator) -> list[str]:
    """``visitor_made_controls`` of every text the bridge posted or updated in the emulated Slack."""
    calls = slack.calls_to("chat.postMessage") + slack.calls_to("chat.update")
    return [
        control
        for call in calls
        for text in slack_texts(call.params)
        for control in visitor_made_controls(text, users=slack.users, channels=[slack.support_channel])
    ]


def _names_its_host(url: str, label: str) -> bool:
    """Whether ``label`` starts with the whole host (and port) ``url`` opens."""
    try:
        parts = urlsplit(url)
        where = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    except ValueError:
        return False
    return bool(where) and re.match(re.escape(where) + r"(?:$|[/?…])", label) is not None


def _unescaped(text: str) -> str:
    return text.replace("%7C", "|").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
