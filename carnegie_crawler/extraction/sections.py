"""Find page sections by their heading text, and the card links inside them.

Class names are a guess (docs/site.md, "Anatomy"), so a section is located by what it says:
"Recent Work", "More Work from ...", "About the Author(s)", "Notes".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from itertools import islice

from lxml import etree
from lxml.etree import _Element as Element

from ..urls import is_excluded_section, is_publication_url, normalize_url
from .text import HEADING_TAGS, clean, element_text, fold, heading_level, tag
from .vocab import BLOGS, NON_BODY_SECTIONS, TYPE_LABELS

_INLINE = frozenset({"a", "b", "strong", "em", "i", "span", "small", "font", "label"})
_MAX_HEADING_CHARS = 200
_LABELLED = frozenset({"section", "aside", "div", "ul"})  # containers an aria-label can name as a section
_HEADINGS = frozenset(HEADING_TAGS)
_NOT_SCANNED = frozenset({"script", "style", "a"})  # never a heading: code, and links (a linked title is a card)


def find_headings(root: Element, pattern: re.Pattern[str]) -> list[Element]:
    """Elements that act as a heading whose whole text matches *pattern*."""
    return find_all_headings(root, {"x": pattern})["x"]


def heading_root(root: Element) -> Element:
    """Where section headings are looked for: <body>, not <head> (its <title> is never one)."""
    return next((child for child in root if child.tag == "body"), root)


def find_all_headings(root: Element, patterns: dict[str, re.Pattern[str]]) -> dict[str, list[Element]]:
    """Headings for several patterns in one pass over the page.

    Works for `<h2>More Work from X</h2>`, `<h2>More Work<br>from X</h2>`,
    `<p><strong>Recent Work</strong></p>`, `<div role="heading">`, and sections
    labelled with `aria-label`. A sentence is never a heading, and neither is a
    link or a menu entry.
    """
    found: dict[str, list[Element]] = {key: [] for key in patterns}
    for el in heading_root(root).iter(etree.Element):  # elements only, no comments
        raw = el.text
        name = el.tag
        if name in _NOT_SCANNED:
            continue
        if name in _LABELLED and (label := el.get("aria-label")):
            label = clean(label)
            for key, pattern in patterns.items():
                if pattern.match(label):
                    found[key].append(el)
            continue
        if name in _HEADINGS or el.get("role") == "heading":
            text, block = element_text(el), el
        else:
            if not raw or len(raw) > 2 * _MAX_HEADING_CHARS or raw.isspace():
                continue
            text, block = fold(raw), None
        for key, pattern in patterns.items():
            if not pattern.match(text):
                continue
            candidate = block if block is not None else _block_of(el)
            if candidate in found[key]:
                continue
            full = element_text(candidate)
            in_link_or_menu = next(el.iterancestors("a", "nav"), None) is not None
            if pattern.match(full) and not _is_sentence(full) and not in_link_or_menu:
                found[key].append(candidate)
    # A heading nested in another match (e.g. <h2><span>..</span></h2>) counts once.
    return {key: [h for h in hs if not any(a in hs for a in h.iterancestors())] for key, hs in found.items()}


def _is_sentence(text: str) -> bool:
    return len(text) > _MAX_HEADING_CHARS or text.endswith(".")


def _block_of(el: Element) -> Element:
    """Climb from inline wrappers to the block that carries the heading text."""
    for parent in el.iterancestors():
        if tag(el) not in _INLINE or len(element_text(parent)) > _MAX_HEADING_CHARS:
            break
        el = parent
    return el


def section_scope(heading: Element, accept: Callable[[list[Element]], bool] | None = None) -> list[Element]:
    """The elements a heading introduces.

    For an `aria-label`led container, the container itself. Otherwise the
    heading's following siblings up to the next heading of the same or a higher
    rank. If there are none, or *accept* rejects them (a "View all" link, an
    intro line), the wrapper's following siblings, and so on up a few levels.
    """
    if tag(heading) not in HEADING_TAGS and heading.get("aria-label") and len(heading):
        return [heading]
    level = heading_level(heading)
    first: list[Element] = []
    for node in islice((heading, *heading.iterancestors()), 4):
        scope = list(_siblings_until_heading(node, level))
        if scope and (accept is None or accept(scope)):
            return scope
        first = first or scope
    return first


def _siblings_until_heading(node: Element, level: int) -> Iterator[Element]:
    for sib in node.itersiblings():
        if not tag(sib):
            continue
        if _starts_new_section(sib, level):
            return
        yield sib


def _starts_new_section(el: Element, level: int) -> bool:
    name = tag(el)
    if name in HEADING_TAGS and heading_level(el) <= level:
        return True
    text = clean(el.text)
    return bool(text) and len(text) < _MAX_HEADING_CHARS and any(p.match(text) for p in NON_BODY_SECTIONS)


def card_links(scope: Iterable[Element], base_url: str) -> list[str]:
    """Normalised title-link URLs of the cards in a section, in page order, once each."""
    urls: list[str] = []
    for container in scope:
        cards = _cards(container)
        if cards:
            found = [url for card in cards for url in _title_links(card, base_url, single=True)]
        else:
            found = _title_links(container, base_url, single=False)
        urls.extend(found)
    return list(dict.fromkeys(urls))


_CARD_TAGS = ("li", "article", "tr")


def _cards(container: Element) -> list[Element]:
    """Innermost list items, articles or table rows that hold a link: one per card."""
    found = [el for el in container.iter(*_CARD_TAGS) if next(el.iter("a"), None) is not None]
    inner = set(found)
    return [c for c in found if not any(d in inner for d in c.iterdescendants(*_CARD_TAGS))]


def _title_links(card: Element, base_url: str, single: bool) -> list[str]:
    """The title link of one card, or (no card markup) every publication-like link."""
    anchors = [card] if tag(card) == "a" else list(card.iter("a"))
    # Links inside a heading within the card (the card itself does not count), found in C.
    in_headings = {a for h in card.iterdescendants(*HEADING_TAGS) for a in h.iter("a")}
    candidates: list[tuple[int, str]] = []
    for a in anchors:
        url = normalize_url(a.get("href") or "", base_url)
        text = element_text(a)
        if not url or not text or is_excluded_section(url):
            continue
        if text.lower() in TYPE_LABELS or text.lower() in BLOGS:
            continue
        score = 2 * (a in in_headings) + is_publication_url(url)
        candidates.append((score, url))
    if not candidates:
        return []
    best = max(score for score, _ in candidates)
    if single:
        return [next(url for score, url in candidates if score == best)]
    # Without card markup, links that look like publications win over listings.
    return [url for score, url in candidates if score >= min(best, 1)]
