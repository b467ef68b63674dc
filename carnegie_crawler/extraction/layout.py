"""Where things are on a publication page: title, header zone, sections, body zone.

Every landmark is found by semantics or text (h1, "By ...", "Published on ...",
section headings), so a redesign that renames classes does not move them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cached_property
from itertools import islice

from lxml import etree
from lxml.etree import _Element as Element

from ..urls import is_publication_url, normalize_url
from .authors import split_byline
from .dates import parse_printed_date
from .sections import find_all_headings, section_scope
from .text import HEADING_TAGS, element_text, fold, tag
from .vocab import (
    ABOUT_AUTHORS,
    BYLINE,
    BYLINE_WORDS,
    DATELINE,
    DISCLAIMER_WORDS,
    MORE_WORK,
    NAME_SUFFIX,
    NOTES,
    RECENT_WORK,
)

_LONG_PARAGRAPH = 150
_MAX_LINE = 400
_NOT_CONTENT = frozenset({"nav", "footer", "aside", "form", "figure", "dialog"})
_CHROME_ROLES = ("dialog", "navigation", "contentinfo")
_SECTIONS = {"recent": RECENT_WORK, "more": MORE_WORK, "about": ABOUT_AUTHORS, "notes": NOTES}
_DIGIT = re.compile(r"\d")
_MAX_NAME_WORDS = 6
_MAX_PROMO = 300


class Layout:
    def __init__(self, root: Element, base_url: str, description: str | None = None) -> None:
        self.root = root
        self.base_url = base_url
        # Positions of the elements in document order (comments left out).
        self.order = {el: i for i, el in enumerate(root.iter(etree.Element))}
        self.h1 = self._first_h1()
        self.content = self._content_root()
        # The content's elements, listed once: a dozen passes below walk them.
        self.elements = list(self.content.iter(etree.Element))
        # Each element's own text (before its first child), folded, in document order.
        self.texts = {el: fold(raw) for el in self.elements if (raw := el.text) and not raw.isspace()}
        self.headings = find_all_headings(root, _SECTIONS)
        self._full_texts: dict[Element, str] = {}
        accept = {"recent": self._has_card_link, "more": self._has_card_link, "about": _has_people_or_heading}
        self.scopes = {
            key: [el for h in hs for el in section_scope(h, accept.get(key))] for key, hs in self.headings.items()
        }
        self._fenced = {el for key in self.headings for el in (*self.headings[key], *self.scopes[key])}
        self._fenced.update(self._promo_boxes())
        self.disclaimer = next((el for el, text in self.texts.items() if DISCLAIMER_WORDS in text.lower()), None)
        self.start = self.pos(self.h1) if self.h1 is not None else self.pos(self.content)
        self.first_long = self._first_long_paragraph(description)
        self.byline = self._find_line(_is_byline_start, _is_name_list)
        self.dateline = self._find_line(lambda t: bool(DATELINE.match(t)), lambda t: parse_printed_date(t) is not None)
        landmarks = [el for el in (self.h1, self.byline, self.dateline) if el is not None]
        self.header_end = max((self.end_pos(el) for el in landmarks), default=-1)
        self.body_end = self._body_end()

    # -- positions -------------------------------------------------------
    def pos(self, el: Element | None) -> int:
        return self.order.get(el, -1) if el is not None else -1

    def end_pos(self, el: Element) -> int:
        """Position of the last element inside *el* (its own position when it is a leaf)."""
        last = el
        for last in el.iter(etree.Element):  # noqa: B007 - we want the final element
            pass
        return self.pos(last)

    def own(self, el: Element) -> str:
        """The element's own text (before its first child), whitespace-folded."""
        return self.texts.get(el, "")

    def iter_content(self) -> Iterable[Element]:
        return self.elements

    def text(self, el: Element) -> str:
        """`element_text(el)`, computed once per element and page (several passes read the same texts)."""
        if el not in self._full_texts:
            self._full_texts[el] = element_text(el)
        return self._full_texts[el]

    def in_fenced_section(self, el: Element) -> bool:
        return el in self._fenced or any(a in self._fenced for a in el.iterancestors())

    def is_chrome(self, el: Element) -> bool:
        """Inside navigation, footers, asides, forms, figures or dialogs (the content root itself never is)."""
        for node in (el, *el.iterancestors()):
            if node is self.content:
                return False
            if _is_chrome_element(node):
                return True
        return False

    def in_header_zone(self, el: Element) -> bool:
        """After the title and before the body starts."""
        p = self.pos(el)
        return self.start <= p and (self.first_long < 0 or p < self.first_long)

    def in_body_zone(self, el: Element) -> bool:
        return self.header_end < self.pos(el) < self.body_end

    @cached_property
    def header_zone(self) -> list[Element]:
        """The content elements `in_header_zone`, in order."""
        return [el for el in self.elements if self.in_header_zone(el)]

    @cached_property
    def body_zone(self) -> list[Element]:
        """The content elements `in_body_zone`, in order."""
        return [el for el in self.elements if self.in_body_zone(el)]

    # -- landmarks ---------------------------------------------------------
    def _first_h1(self) -> Element | None:
        h1s = [h for h in self.root.iter("h1") if element_text(h)]
        for h in h1s:
            if next(h.iterancestors("article", "main"), None) is not None:
                return h
        return h1s[0] if h1s else None

    def _content_root(self) -> Element:
        if self.h1 is not None and (found := next(self.h1.iterancestors("article", "main"), None)) is not None:
            return found
        for name in ("article", "main", "body"):
            found = self.root.find(f".//{name}")
            if found is not None:
                return found
        return self.root

    def _first_long_paragraph(self, description: str | None) -> int:
        """Where the body starts: the first long paragraph after the title that is not the dek."""
        dek = self._dek_candidate()
        for el in self.iter_content():
            if tag(el) != "p" or self.pos(el) <= self.start or self.is_chrome(el) or el is dek:
                continue
            text = element_text(el)
            if len(text) >= _LONG_PARAGRAPH and text != description and not self.in_fenced_section(el):
                return self.pos(el)
        return -1

    def _dek_candidate(self) -> Element | None:
        """The block right after the title, where a dek sits."""
        if self.h1 is None:
            return None
        nxt = self.h1.getnext()
        while nxt is not None and not tag(nxt):
            nxt = nxt.getnext()
        if nxt is not None and tag(nxt) == "div" and len(nxt) == 1 and tag(nxt[0]) == "p":
            return nxt[0]
        return nxt

    def _find_line(self, starts: Callable[[str], bool], complete: Callable[[str], bool]) -> Element | None:
        """First short block in the header zone that starts like the line and reads as a whole one.

        A label alone ("<span>Published on</span> <span>Feb 4, 2026</span>") climbs
        to the block around it.
        """
        for el in self.header_zone:
            own = self.own(el)
            if not own or not starts(own):
                continue
            for block in (el, *el.iterancestors()):
                if block is self.content and block is not el:
                    break
                text = self.text(block)
                if len(text) > _MAX_LINE:
                    break
                if complete(text):
                    return block
        return None

    def _promo_boxes(self) -> Iterable[Element]:
        """The project promo: a "Project" label, the project's name and "Learn More"."""
        for el, own in self.texts.items():
            if own.lower() != "project":
                continue
            for box in islice(el.iterancestors(), 2):
                if box is self.content:
                    break
                text = element_text(box)
                if len(text) > _MAX_PROMO:
                    break
                if "learn more" in text.lower():
                    yield box
                    break

    def _body_end(self) -> int:
        after = [self.pos(h) for hs in self.headings.values() for h in hs if self.pos(h) > self.header_end]
        if self.disclaimer is not None and self.pos(self.disclaimer) > self.header_end:
            after.append(self.pos(self.disclaimer))
        return min(after) if after else len(self.order)

    def _has_card_link(self, scope: list[Element]) -> bool:
        for container in scope:
            for a in container.iter("a"):
                url = normalize_url(a.get("href") or "", self.base_url)
                if url and is_publication_url(url):
                    return True
        return False


def _is_chrome_element(node: Element) -> bool:
    return tag(node) in _NOT_CONTENT or node.get("role") in _CHROME_ROLES


def _has_people_or_heading(scope: list[Element]) -> bool:
    for container in scope:
        for el in container.iter():
            if tag(el) in HEADING_TAGS or (tag(el) == "a" and "/people/" in (el.get("href") or "")):
                return True
    return False


def _is_byline_start(text: str) -> bool:
    return bool(BYLINE.match(text)) or text.lower() in BYLINE_WORDS


def _is_name_list(text: str) -> bool:
    """'By A, B, and C' rather than 'By 2030, the center will ...'."""
    if not BYLINE.match(text) or _DIGIT.search(text):
        return False
    names = split_byline(text)
    return bool(names) and all(_is_name(n) for n in names)


def _is_name(name: str) -> bool:
    words = name.split()
    if not words or len(words) > _MAX_NAME_WORDS:
        return False
    # Sentences end with a full stop; names only after a suffix or an initial ("Jr.", "Paul J.").
    return not name.endswith(".") or bool(NAME_SUFFIX.match(words[-1])) or len(words[-1]) == 2
