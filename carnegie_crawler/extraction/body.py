"""The article body: the paragraphs a reader reads, and nothing around them."""

from __future__ import annotations

from collections.abc import Callable

from lxml.html import HtmlElement

from .text import HEADING_TAGS, element_text, tag
from .vocab import BOILERPLATE, ORIGIN_LINE, READ_FULL_TEXT, SOURCE_LINE

# Blocks that make up a body, each one paragraph of output.
_BLOCKS = frozenset({"p", "li", "blockquote", "pre", "dd", "dt", "td", *HEADING_TAGS})
_NEVER = frozenset({"figure", "figcaption", "aside", "nav", "footer", "form", "header", "table"})
_MAX_CAPTION_CHARS = 120


def find_body_container(candidates: list[HtmlElement], excluded: Callable[[HtmlElement], bool]) -> HtmlElement | None:
    """The element whose direct paragraphs hold the most text."""
    scores: dict[HtmlElement, int] = {}
    for p in candidates:
        parent = p.getparent()
        if parent is None or excluded(p):
            continue
        scores[parent] = scores.get(parent, 0) + len(element_text(p))
    return max(scores, key=lambda el: scores[el]) if scores else None


def body_blocks(container: HtmlElement, keep: Callable[[HtmlElement], bool]) -> list[str]:
    """Text of each innermost block in *container* that *keep* accepts, boilerplate removed."""
    paragraphs: list[str] = []
    for el in container.iter():
        name = tag(el)
        if name not in _BLOCKS or not keep(el) or _has_block_child(el):
            continue
        text = element_text(el, skip=_skip_inline)
        if text and not is_boilerplate(text):
            paragraphs.append(text)
    return paragraphs


def _has_block_child(el: HtmlElement) -> bool:
    return any(tag(d) in _BLOCKS for d in el.iterdescendants())


def _skip_inline(el: HtmlElement) -> bool:
    return tag(el) in _NEVER


def is_boilerplate(text: str) -> bool:
    """Lines that sit inside the body markup but are not the author's text."""
    if BOILERPLATE.search(text) or READ_FULL_TEXT.match(text):
        return True
    if ORIGIN_LINE.match(text):
        return True
    # An image credit or caption printed as a paragraph.
    return bool(SOURCE_LINE.match(text)) and len(text) <= _MAX_CAPTION_CHARS


def never_body(el: HtmlElement) -> bool:
    return tag(el) in _NEVER
