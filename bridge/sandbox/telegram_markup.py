"""This module checks Bot API ``parse_mode`` text (HTML, MarkdownV2) like the server does and returns plain text."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

_HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre"}
    | {"blockquote", "tg-emoji"}
)
_HTML_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?>")
_HTML_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_MD_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MD_NAMES = {
    "*": "Bold",
    "_": "Italic",
    "__": "Underline",
    "~": "Strikethrough",
    "||": "Spoiler",
    "[": "TextUrl",
}


class EntityParseError(ValueError):
    """The text is not valid for its ``parse_mode`` (the server answers 400 "can't parse entities")."""


def plain_text(text: str, parse_mode: str | None) -> str:
    """Return ``text`` as the recipient sees it, raising ``EntityParseError`` like the Bot API would."""
    parsers: dict[str, Callable[[str], str]] = {
        "html": _parse_html,
        "markdownv2": _parse_markdown_v2,
        "markdown": _parse_markdown_legacy,
    }
    if not parse_mode:
        return text
    parser = parsers.get(parse_mode.lower())
    if parser is None:
        raise EntityParseError(f"Unsupported parse_mode {parse_mode!r}")
    return parser(text)


def _offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _parse_html(text: str) -> str:
    out: list[str] = []
    open_tags: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "<":
            i = _html_tag(text, i, open_tags)
        elif char == "&" and (entity := _HTML_ENTITY.match(text, i)):
            out.append(html.unescape(entity.group()))
            i = entity.end()
        else:
            out.append(char)
            i += 1
    if open_tags:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    return "".join(out)


def _html_tag(text: str, index: int, open_tags: list[str]) -> int:
    match = _HTML_TAG.match(text, index)
    name = match.group(2).lower() if match else text[index + 1 : index + 2].strip()
    if match is None or name not in _HTML_TAGS:
        raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {_offset(text, index)}')
    if not match.group(1):
        open_tags.append(name)
    elif not open_tags or open_tags[-1] != name:
        raise EntityParseError(f"Unexpected end tag at byte offset {_offset(text, index)}")
    else:
        open_tags.pop()
    return match.end()


def _parse_markdown_v2(text: str) -> str:
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    i = 0
    while i < len(text):
        i = _markdown_step(text, i, out, stack)
    if stack:
        marker, start = stack[-1]
        raise EntityParseError(f"Can't find end of {_MD_NAMES[marker]} entity at byte offset {start}")
    return "".join(out)


def _markdown_step(text: str, i: int, out: list[str], stack: list[tuple[str, int]]) -> int:
    char, nxt = text[i], text[i + 1 : i + 2]
    if char == "\\":
        if not nxt or not 0 < ord(nxt) <= 126:
            raise EntityParseError("Character '\\' is reserved and must be escaped with the preceding '\\'")
        out.append(nxt)
        return i + 2
    if char == "`":
        return _markdown_code(text, i, out)
    if char == "]" and stack and stack[-1][0] == "[":
        stack.pop()
        return _markdown_url(text, i + 1)
    marker = _markdown_marker(text, i)
    if marker:
        _toggle(stack, marker, _offset(text, i))
        return i + len(marker)
    if char == ">" and (i == 0 or text[i - 1] == "\n"):
        return i + 1
    if char in _MD_RESERVED:
        raise EntityParseError(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")
    out.append(char)
    return i + 1


def _markdown_marker(text: str, i: int) -> str | None:
    for marker in ("__", "||", "*", "_", "~", "["):
        if text.startswith(marker, i):
            return marker
    return None


def _toggle(stack: list[tuple[str, int]], marker: str, offset: int) -> None:
    if stack and stack[-1][0] == marker and marker != "[":
        stack.pop()
    elif any(open_marker == marker for open_marker, _ in stack):
        raise EntityParseError(f"Can't find end of {_MD_NAMES[stack[-1][0]]} entity at byte offset {offset}")
    else:
        stack.append((marker, offset))


def _markdown_code(text: str, i: int, out: list[str]) -> int:
    fence = "```" if text.startswith("```", i) else "`"
    j = i + len(fence)
    while j < len(text):
        if text[j] == "\\" and j + 1 < len(text):
            out.append(text[j + 1])
            j += 2
        elif text.startswith(fence, j):
            return j + len(fence)
        else:
            out.append(text[j])
            j += 1
    name = "Pre" if fence == "```" else "Code"
    raise EntityParseError(f"Can't find end of {name} entity at byte offset {_offset(text, i)}")


def _markdown_url(text: str, i: int) -> int:
    if not text.startswith("(", i):
        raise EntityParseError("Character ']' is reserved and must be escaped with the preceding '\\'")
    j = i + 1
    while j < len(text) and text[j] != ")":
        j += 2 if text[j] == "\\" else 1
    if j >= len(text):
        raise EntityParseError(f"Can't find end of a URL at byte offset {_offset(text, i)}")
    return j + 1


def _parse_markdown_legacy(text: str) -> str:
    for marker in ("*", "_", "`"):
        if text.count(marker) % 2:
            raise EntityParseError(f"Can't find end of the entity starting at byte offset {text.rfind(marker)}")
    return re.sub(r"[*_`]", "", text)
