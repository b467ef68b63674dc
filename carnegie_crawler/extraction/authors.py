"""Authors: names from the metadata block or the byline, links and roles from the page."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from lxml.etree import _Element as Element

from ..items import Author
from ..urls import normalize_url
from .text import clean, element_text, tag
from .vocab import BYLINE, BYLINE_WORDS, NAME_SUFFIX

_SPLIT = re.compile(r"\s*,\s*(?:and\s+|&\s*)?|\s+(?:and|&)\s+", re.IGNORECASE)
_MAX_ROLE_CHARS = 250
_NON_WORD = re.compile(r"[\W_]+")
_PEOPLE_PATH = re.compile(r"/people/[^/?#]+")


def name_key(name: str) -> str:
    """Match names across byline, cards and metadata despite punctuation ("Graham Jr." / "Graham, Jr.")."""
    return " ".join(_NON_WORD.sub(" ", name.casefold()).split())


def byline_names(block: Element) -> list[str]:
    """Names in a byline block; names listed as `<li>` items are taken as they are."""
    items = [BYLINE.sub("", element_text(li)).strip() for li in block.iter("li")]
    names = [n for n in items if n and n.lower() not in BYLINE_WORDS]
    return names or split_byline(element_text(block))


def split_byline(text: str) -> list[str]:
    """'By A, B, and C' -> [A, B, C]; 'Thomas Graham, Jr.' stays one name."""
    parts = [p for p in _SPLIT.split(BYLINE.sub("", clean(text))) if p]
    names: list[str] = []
    for part in parts:
        if names and NAME_SUFFIX.match(part):
            names[-1] = f"{names[-1]}, {part}"
        else:
            names.append(part)
    return names


def people_links(elements: list[Element], base_url: str) -> dict[str, str]:
    """Display name (case-folded) -> normalised /people/ URL, first occurrence wins."""
    links: dict[str, str] = {}
    for el in elements:
        for a in el.iter("a"):
            href = a.get("href") or ""
            url = normalize_url(href, base_url)
            name = name_key(element_text(a))
            if url and name and _PEOPLE_PATH.search(url) and name not in links:
                links[name] = url
    return links


def card_roles(
    scope: list[Element],
    names: list[str],
    cards: Iterable[Element] = (),
    text: Callable[[Element], str] = element_text,
) -> dict[str, str]:
    """Role line of each author's card in the "About the Author(s)" section.

    Names inside *cards* (the Recent Work lists, whose authors lines name co-authors)
    are not card names and must not fence one author's card off from its role.
    *text* is `element_text`, or a caching equivalent.
    """
    wanted = {name_key(n) for n in names}
    skip = {el for card in cards for el in card.iter()}
    in_order = [el for container in scope for el in container.iter() if el not in skip]
    inside = set(in_order)
    # The elements whose whole text is an author's name, outermost first.
    name_els = [(el, key) for el in in_order if tag(el) and (key := name_key(text(el))) in wanted]
    name_els.sort(key=lambda pair: _depth(pair[0]))
    roles: dict[str, str] = {}
    for el, key in name_els:
        if key in roles:
            continue
        # Ancestors shared with another author's name bound each card.
        fence = {a for other, k in name_els if k != key for a in (other, *other.iterancestors())}
        card = el
        for parent in el.iterancestors():
            if parent in fence or parent not in inside:
                break
            card = parent
        if role := _role_after(el, card, wanted):
            roles[key] = role
    return roles


def _depth(el: Element) -> int:
    return sum(1 for _ in el.iterancestors())


def _role_after(name_el: Element, card: Element, names: set[str]) -> str | None:
    """The first short, non-sentence text after the name inside its card."""
    seen_name = False
    for el in card.iter():
        if el is name_el:
            seen_name = True
            continue
        if not seen_name or not tag(el) or name_el in el.iterancestors() or not clean(el.text):
            continue
        text = element_text(el)
        if name_key(text) in names or text.lower() == "recent work":
            return None
        if len(text) <= _MAX_ROLE_CHARS and not text.endswith((".", "!", "?")):
            return text
        return None
    return None


def build_authors(names: list[str], links: dict[str, str], roles: dict[str, str]) -> list[Author]:
    authors: list[Author] = []
    seen: set[str] = set()
    for name in names:
        key = name_key(name)
        if key in seen:
            continue
        seen.add(key)
        authors.append({"name": name, "url": links.get(key), "role": roles.get(key)})
    return authors
