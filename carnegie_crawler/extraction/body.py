"""The article body: the paragraphs a reader reads, and nothing around them."""

from __future__ import annotations

from collections.abc import Callable

from lxml.etree import _Element as Element

from .text import BLOCK_TAGS, HEADING_TAGS, element_text, tag
from .vocab import BOILERPLATE, DISCLAIMER_WORDS, ORIGIN_LINE, READ_FULL_TEXT, SOURCE_LINE

# Blocks that make up a body, each one paragraph of output. A `div` counts when it
# holds text directly and no other block, as some markups use it for paragraphs.
_BLOCKS = frozenset({"p", "li", "blockquote", "pre", "dd", "dt", "td", "div", *HEADING_TAGS})
_BLOCK_CHILDREN = BLOCK_TAGS - {"br"}
_MAX_CAPTION_CHARS = 120
_LINK_ONLY = 0.9


def body_blocks(candidates: list[Element], text_of: Callable[[Element], str] = element_text) -> list[str]:
    """Text of each innermost block among *candidates*, in order, boilerplate removed.

    *text_of* is `element_text`, or a caching equivalent shared with other passes.
    """
    paragraphs: list[str] = []
    for el in candidates:
        if tag(el) not in _BLOCKS or _has_block_child(el):
            continue
        # An innermost block: no figure, aside, table or other block inside, only inline text.
        text = text_of(el)
        if text and not is_boilerplate(text) and not _is_link_list_entry(el, text):
            paragraphs.append(text)
    return paragraphs


def _has_block_child(el: Element) -> bool:
    return any(d.tag in _BLOCK_CHILDREN for d in el.iterdescendants())  # a comment's tag is no str: not found


def _is_link_list_entry(el: Element, text: str) -> bool:
    """Tag lists, promo titles and card rows are all link; prose is not."""
    if tag(el) == "p" and el.getparent() is not None and text.count(" ") >= 3:  # more than 3 words (text is folded)
        return False
    link_chars = sum(len(element_text(a)) for a in el.iter("a"))
    return link_chars >= _LINK_ONLY * len(text)


def is_boilerplate(text: str) -> bool:
    """Lines that sit inside the body markup but are not the author's text."""
    # The disclaimer may sit anywhere in a line; every other pattern is anchored at the start,
    # so a plain substring test spares an unanchored regex scan of every paragraph.
    if DISCLAIMER_WORDS in text.lower() or BOILERPLATE.match(text) or READ_FULL_TEXT.match(text):
        return True
    if ORIGIN_LINE.match(text):
        return True
    # An image credit or caption printed as a paragraph.
    return bool(SOURCE_LINE.match(text)) and len(text) <= _MAX_CAPTION_CHARS
