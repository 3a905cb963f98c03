"""This module contains ``strip_html``: stored text without HTML tags (reliability target E21).

Every message is stored through it (``bridge.engine.message_row``), and so are the names and attributes a contact
is stored with (``strip_profile``). It is the second of two layers: whatever shows stored text (the Slack posts,
the widget, the emulated Slack page) still escapes or inserts it as text. Stripping means no copy of the text, a
transcript, an export or a future viewer, can carry markup a visitor wrote.

What counts as a tag follows the HTML tokenizer, not a regex of "anything between angle brackets":

- a tag starts at ``<`` followed by an ASCII letter, ``/``, ``!`` or ``?`` (a start or end tag, a declaration
  such as ``<!channel>``, a processing instruction) and ends at the next ``>``, as a browser's tag does (quotes are
  not honoured: ``<img alt=">" onerror=...>`` loses ``<img alt=">``, and the rest is plain text);
- a comment ``<!-- ... -->`` ends at ``-->`` (at the next ``>`` when no ``-->`` follows);
- anything else is text as typed: ``x < y and y > z``, ``<3``, ``a <= b``, ``<@U123>``, entities such as ``&lt;``,
  and a bare word in angle brackets that names no HTML, SVG or MathML element (``<now>``, ``</belum>``,
  ``<order-id>``): a browser makes it an unknown element with no attributes, which runs nothing, and customers
  write such words (``<b>``, ``<script>``, ``<svg>`` and every word with attributes are removed);
- a tag with no ``>`` after it stays as typed (``if a<b then``): without its ``>`` no browser makes it an element.

Removing a tag can join its neighbours into a new one (``<<b>script>`` is ``<script>`` once ``<b>`` is gone), so
those are removed too: the result holds no tag that would be removed. The scan is one pass over the text (each
character is looked at a bounded number of times, ``str.find`` does the searching; the one regular expression only
reads a tag of at most 33 characters, to tell a bare word), so there is nothing to backtrack: 10,000 characters of
adversarial input take a few milliseconds at most (target E27 allows 50).

Why not ``html.parser``: it keeps ``<script>`` and ``<style>`` contents as raw text (tags inside them survive),
turns entities into characters unless told not to, and rebuilding the text exactly as typed from its callbacks is
more code than this scan. Text that is nothing but markup (``<img src=x onerror=...>``) would be stored empty: an
empty message cannot be posted to Slack or Telegram, and the agent would not see that the customer sent anything.
Such text is kept with its angle brackets turned into ``‹ ›`` (U+2039, U+203A), which no HTML parser reads as
markup and Unicode normalization (NFKC) leaves alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from bridge.events import Profile

_OPENS_TAG = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz/!?")
_NEUTRAL = str.maketrans({"<": "\u2039", ">": "\u203a"})
_WORD_MAX = 33
_WORD = re.compile(r"/?[A-Za-z][A-Za-z0-9_-]{0,31}")
ELEMENTS = frozenset(
    # HTML, with the obsolete elements browsers still parse (image is parsed as img)
    """a abbr acronym address applet area article aside audio b base basefont bdi bdo bgsound big blink blockquote
    body br button canvas caption center cite code col colgroup data datalist dd del details dfn dialog dir div dl
    dt em embed fencedframe fieldset figcaption figure font footer form frame frameset h1 h2 h3 h4 h5 h6 head header
    hgroup hr html i iframe image img input ins isindex kbd keygen label legend li link listing main map mark
    marquee menu menuitem meta meter multicol nav nextid nobr noembed noframes noscript object ol optgroup option
    output p param picture plaintext portal pre progress q rb rp rt rtc ruby s samp script search section select
    selectedcontent slot small source spacer span strike strong style sub summary sup table tbody td template
    textarea tfoot th thead time title tr track tt u ul var video wbr xmp"""
    # SVG
    """ altglyph altglyphdef altglyphitem animate animatecolor animatemotion animatetransform circle clippath
    color-profile cursor defs desc discard ellipse feblend fecolormatrix fecomponenttransfer fecomposite
    feconvolvematrix fediffuselighting fedisplacementmap fedistantlight fedropshadow feflood fefunca fefuncb
    fefuncg fefuncr fegaussianblur feimage femerge femergenode femorphology feoffset fepointlight
    fespecularlighting fespotlight fetile feturbulence filter font-face font-face-format font-face-name
    font-face-src font-face-uri foreignobject g glyph glyphref handler hatch hatchpath hkern line lineargradient
    listener marker mask mesh meshgradient meshpatch meshrow metadata missing-glyph mpath path pattern polygon
    polyline prefetch radialgradient rect set solidcolor stop svg switch symbol tbreak text textpath tref tspan use
    view vkern"""
    # MathML
    """ annotation annotation-xml maction maligngroup malignmark math menclose merror mfenced mfrac mglyph mi
    mlabeledtr mlongdiv mmultiscripts mn mo mover mpadded mphantom mprescripts mroot mrow ms mscarries mscarry
    msgroup msline mspace msqrt msrow mstack mstyle msub msubsup msup mtable mtd mtext mtr munder munderover none
    semantics""".split()
)
"""Element names (lower case) whose tags are always removed, even bare: ``<b>``, ``<script>``, ``<svg>``."""


def strip_html(text: str) -> str:
    """``text`` without HTML tags, comments and declarations; the text between them is kept as typed.

    Text without ``<`` is returned as is (the same object: this runs on every stored message). Text that is
    nothing but markup comes back with ``‹ ›`` for its angle brackets instead of empty (see the module's doc).
    """
    if "<" not in text:
        return text
    stripped = _strip_tags(text)
    if stripped is text or (stripped and not stripped.isspace()):
        return stripped
    return text.translate(_NEUTRAL)


def customer_text(text: str) -> str:
    """What is stored of text a customer wrote (a message, an edit, a name): without HTML tags, and without NUL,
    which PostgreSQL refuses in text (one such row would fail every message of its group commit). Agents' and
    the bridge's own texts are stored as written."""
    return strip_html(text.replace("\x00", ""))


def strip_profile(profile: Profile) -> Profile:
    """``profile`` with its display name, attribute names and text attribute values as ``customer_text`` stores
    them (the same object when none holds ``<`` or NUL): what a contact is stored with."""
    name, attributes = profile.display_name, profile.attributes
    if not (name and _needs_cleaning(name)) and not _has_markup(attributes):
        return profile
    return replace(
        profile,
        display_name=customer_text(name) if name else name,
        attributes={
            customer_text(key): customer_text(value) if isinstance(value, str) else value
            for key, value in attributes.items()
        },
    )


def _needs_cleaning(text: str) -> bool:
    return "<" in text or "\x00" in text


def _has_markup(attributes: Mapping[str, object]) -> bool:
    return any(
        _needs_cleaning(key) or (isinstance(value, str) and _needs_cleaning(value)) for key, value in attributes.items()
    )


def _strip_tags(text: str) -> str:
    """One pass: ``carried`` counts the ``<`` just before ``text[i]`` that are still undecided (a run of them, or
    ones a removed tag left in front of what followed it); the last of them opens a tag when ``text[i]`` may."""
    out: list[str] = []
    n = len(text)
    i = carried = 0
    gt = comment_end = -1  # the next ">" and "-->" found so far (n: there is none further on)
    while True:
        run = i
        while run < n and text[run] == "<":
            run += 1
        carried += run - i
        i = run
        if carried and i < n and text[i] in _OPENS_TAG:
            if gt < i:
                gt = _find(text, ">", i)
            if gt == n:  # no ">" anywhere further on: no tag can end, the rest is text as typed
                out.append("<" * carried)
                out.append(text[i:])
                break
            end = gt
            if gt - i <= _WORD_MAX and _is_plain_word(text[i:gt]):  # "<now>", "</belum>": text, as typed
                out.append("<" * carried)
                out.append(text[i : gt + 1])
                carried = 0
                i = gt + 1
                continue
            if text.startswith("!--", i):  # a comment ends at "-->" ("<!-->" is an empty one, as in HTML)
                if comment_end < i + 1:
                    comment_end = _find(text, "-->", i + 1)
                if comment_end < n:
                    end = comment_end + 2
            carried -= 1  # the tag's own "<"
            i = end + 1
            continue
        if carried:  # followed by text that opens no tag (or by nothing): they are text
            out.append("<" * carried)
            carried = 0
        if i >= n:
            break
        lt = text.find("<", i)
        if lt < 0:
            out.append(text[i:])
            break
        out.append(text[i:lt])
        i = lt
    result = "".join(out)
    return text if result == text else result


def _is_plain_word(content: str) -> bool:
    """Whether ``<content>`` is a word in angle brackets that names no HTML, SVG or MathML element (and has no
    attributes): a browser would make it an unknown element that can run nothing, and people write them."""
    return _WORD.fullmatch(content) is not None and content.lstrip("/").lower() not in ELEMENTS


def _find(text: str, sub: str, start: int) -> int:
    at = text.find(sub, start)
    return len(text) if at < 0 else at
