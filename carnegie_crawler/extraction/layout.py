"""Where things are on a publication page: title, header zone, sections, body zone.

Every landmark is found by semantics or text (h1, "By ...", "Published on ...",
section headings), so a redesign that renames classes does not move them.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml.html import HtmlElement

from .sections import find_headings, section_scope
from .text import ancestors, clean, element_text, tag
from .vocab import ABOUT_AUTHORS, BYLINE, BYLINE_WORDS, DATELINE, DISCLAIMER, MORE_WORK, NOTES, RECENT_WORK

_LONG_PARAGRAPH = 150
_MAX_LINE = 400
_NOT_CONTENT = frozenset({"nav", "footer", "aside", "form", "figure", "dialog"})


class Layout:
    def __init__(self, root: HtmlElement) -> None:
        self.root = root
        self.order = {el: i for i, el in enumerate(root.iter())}
        self.h1 = self._first_h1()
        self.content = self._content_root()
        self.headings = {
            "recent": find_headings(root, RECENT_WORK),
            "more": find_headings(root, MORE_WORK),
            "about": find_headings(root, ABOUT_AUTHORS),
            "notes": find_headings(root, NOTES),
        }
        self.scopes = {key: [el for h in hs for el in section_scope(h)] for key, hs in self.headings.items()}
        self._fenced = {el for key in self.headings for el in (*self.headings[key], *self.scopes[key])}
        self.disclaimer = next((el for el in self.iter_content() if _own(el) and DISCLAIMER.search(_own(el))), None)
        self.start = self.pos(self.h1) if self.h1 is not None else self.pos(self.content)
        self.first_long = self._first_long_paragraph()
        self.byline = self._find_line(lambda t: bool(BYLINE.match(t)) or t.lower() in BYLINE_WORDS)
        self.dateline = self._find_line(lambda t: bool(DATELINE.match(t)))
        self.header_end = (
            max(self.pos(el) for el in (self.h1, self.byline, self.dateline) if el is not None)
            if (self.h1 is not None or self.byline is not None or self.dateline is not None)
            else -1
        )
        self.body_end = self._body_end()

    # -- positions -------------------------------------------------------
    def pos(self, el: HtmlElement | None) -> int:
        return self.order.get(el, -1) if el is not None else -1

    def iter_content(self) -> Iterable[HtmlElement]:
        return (el for el in self.content.iter() if tag(el))

    def in_fenced_section(self, el: HtmlElement) -> bool:
        return el in self._fenced or any(a in self._fenced for a in ancestors(el))

    def is_chrome(self, el: HtmlElement) -> bool:
        """Inside navigation, footers, asides, forms, figures or dialogs."""
        for node in (el, *ancestors(el)):
            if node is self.content:
                return False
            if tag(node) in _NOT_CONTENT or node.get("role") in ("dialog", "navigation"):
                return True
        return False

    def in_header_zone(self, el: HtmlElement) -> bool:
        """After the title and before the body starts."""
        p = self.pos(el)
        return self.start <= p and (self.first_long < 0 or p < self.first_long)

    # -- landmarks ---------------------------------------------------------
    def _first_h1(self) -> HtmlElement | None:
        h1s = [h for h in self.root.iter("h1") if element_text(h)]
        for h in h1s:
            if any(tag(a) in ("article", "main") for a in ancestors(h)):
                return h
        return h1s[0] if h1s else None

    def _content_root(self) -> HtmlElement:
        if self.h1 is not None:
            for a in ancestors(self.h1):
                if tag(a) in ("article", "main"):
                    return a
        for name in ("article", "main", "body"):
            found = self.root.find(f".//{name}")
            if found is not None:
                return found
        return self.root

    def _first_long_paragraph(self) -> int:
        for el in self.iter_content():
            if tag(el) != "p" or self.pos(el) <= self.start or self.is_chrome(el):
                continue
            if len(element_text(el)) >= _LONG_PARAGRAPH and not self.in_fenced_section(el):
                return self.pos(el)
        return -1

    def _find_line(self, matches: object) -> HtmlElement | None:
        """First short block in the header zone whose text satisfies *matches*."""
        assert callable(matches)
        for el in self.iter_content():
            own = _own(el)
            if not own or not self.in_header_zone(el) or not matches(own):
                continue
            block = el
            while len(element_text(block)) <= 3 and block.getparent() is not None:
                block = block.getparent()
            if len(element_text(block)) <= _MAX_LINE:
                return block
        return None

    def _body_end(self) -> int:
        after = [self.pos(h) for hs in self.headings.values() for h in hs if self.pos(h) > self.header_end]
        if self.disclaimer is not None and self.pos(self.disclaimer) > self.header_end:
            after.append(self.pos(self.disclaimer))
        return min(after) if after else len(self.order)

    def in_body_zone(self, el: HtmlElement) -> bool:
        return self.header_end < self.pos(el) < self.body_end


def _own(el: HtmlElement) -> str:
    return clean(el.text)
