"""Turn one publication page into a `Publication`.

Order of trust for every field: the metadata block, then `<head>`, then what
the page shows (found by semantics and text, class names never).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from itertools import islice
from urllib.parse import urlsplit

from lxml.etree import _Element as Element
from scrapy.http import TextResponse

from ..items import Author, Image, Publication, compute_content_hash
from ..urls import normalize_url, query_param
from . import authors as people
from .body import body_blocks
from .dates import iso_date, parse_printed_date
from .decoding import parse_html, redecode
from .layout import Layout
from .links import Rebase, canonical_rebase, canonical_url, rebased
from .metadata import HeadMeta, MetadataBlock, read_head, read_metadata_block
from .sections import card_links
from .text import clean, element_text, tag
from .vocab import BLOG_PATHS, BLOGS, BOILERPLATE, ORIGIN_LINE, SOURCE_LINE, TITLE_SUFFIX, TYPE_LABELS

_LANG = re.compile(r"^([a-z]{2,3})(?:[-_]|$)", re.IGNORECASE)
_MAX_EYEBROW = 80
_MAX_DATE_LINE = 60
_SITE_CHROME = frozenset({"nav", "footer", "form", "dialog", "button"})
_TAXONOMY = ("centers", "programs", "projects", "collections", "regions", "topics")
logger = logging.getLogger(__package__)  # "carnegie_crawler.extraction": one logger for what extraction reports


def extract_from_response(response: TextResponse) -> Publication:
    return extract_with_report(response)[0]


def extract_with_report(response: TextResponse) -> tuple[Publication, list[str]]:
    """The page's `Publication`, and the metadata block's wrong-typed keys (read from the page instead).

    The keys are the block's own (`authors`, `topics`, `primaryCenter`, ...), for a stat
    such as `carnegie/extraction/wrong_typed/<key>`; they are logged here already.
    """
    text = redecode(response)
    # Parsed here rather than through `response.selector`: the same tree, without a Selector
    # and a Python class lookup for every element. NULs go, as parsel drops them.
    root = parse_html((response.text if text is None else text).replace("\x00", ""))
    return _extract(root, response.url)


def extract_from_html(html: str | bytes, url: str) -> Publication:
    return extract_publication(parse_html(html), url)


def extract_publication(root: Element, fetched_url: str, crawled_at: str | None = None) -> Publication:
    return _extract(root, fetched_url, crawled_at)[0]


def _extract(root: Element, fetched_url: str, crawled_at: str | None = None) -> tuple[Publication, list[str]]:
    head = read_head(root)
    block = read_metadata_block(root)
    if block.wrong_typed:
        logger.warning(
            "Metadata block of %s has wrong-typed field(s) %s: read from the page instead",
            fetched_url,
            ", ".join(block.wrong_typed),
        )
    page = Layout(root, fetched_url, head.description or head.og_description)
    eyebrow = _eyebrow(page)
    names = _author_names(block, page)
    sources = _source_lines(page)  # "Source: ..." lines: the outlet, or the image credit
    url = canonical_url(head.canonical, fetched_url)
    rebase = canonical_rebase(fetched_url, url)  # links in the item name the canonical site, not a mirror
    item = Publication(
        url=url,
        fetched_url=fetched_url,
        language=_language(head, url, fetched_url),
        content_type=block.text("type") or _first_mapped(eyebrow, TYPE_LABELS),
        title=_strip_site_name(head.og_title) or _h1_title(page) or _strip_site_name(head.title),
        subtitle=head.description or head.og_description or _visible_dek(page),
        blog=block.text("blog") or _blog_from_path(fetched_url) or _first_mapped(eyebrow, BLOGS),
        authors=_authors(names, page, fetched_url, rebase),
        published_date=iso_date(head.published_time) or _visible_date(page),
        source=_outlet(page, sources),
        image=_image(head, page, fetched_url, sources, rebase),
        primary_center=block.text("primaryCenter") if "primaryCenter" in block.values else _eyebrow_center(eyebrow),
        crawled_at=crawled_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    for key in _TAXONOMY:
        setattr(item, key, block.labels(key) if key in block.values else _visible_labels(key, page, fetched_url))
    item.body = _body(page, item.subtitle)
    item.word_count = len(item.body.split()) if item.body else 0
    item.related = {
        "recent_work": rebased(card_links(page.scopes["recent"], fetched_url), rebase),
        "more_work": rebased(card_links(page.scopes["more"], fetched_url), rebase),
    }
    item.content_hash = compute_content_hash(item)
    return item, block.wrong_typed


def _language(head: HeadMeta, url: str, fetched_url: str) -> str | None:
    """<html lang>, else the canonical URL's ?lang=, else the fetched URL's: the page's own address first, so
    that one page reached as /x?lang=en and as /x is one document, not two (parsed only when needed)."""
    code = _language_code(head.lang)
    if code is None:
        code = _language_code(query_param(url, "lang"))
    return code if code is not None else _language_code(query_param(fetched_url, "lang"))


def _language_code(value: str | None) -> str | None:
    match = _LANG.match(value.strip()) if value else None
    return match.group(1).lower() if match else None


def _h1_title(page: Layout) -> str | None:
    return (element_text(page.h1) or None) if page.h1 is not None else None


def _strip_site_name(title: str | None) -> str | None:
    return (TITLE_SUFFIX.sub("", title).strip() or None) if title else None


def _eyebrow(page: Layout) -> list[str]:
    """Short texts printed just above the title (type label, blog or center name).

    Looks at the title's preceding siblings, then its wrapper's, but never at
    the level of the content root, where the site header and its nav live.
    """
    if page.h1 is None:
        return []
    node = page.h1
    for parent in islice(page.h1.iterancestors(), 3):
        if parent is page.content or node is page.content:
            break
        texts = [
            text
            for sib in node.itersiblings(preceding=True)
            if tag(sib) not in ("figure", "script", "img", "picture") and not page.is_chrome(sib)
            for el in sib.iter()
            if tag(el) and (text := clean(el.text)) and len(text) <= _MAX_EYEBROW
        ]
        if texts:
            return texts[::-1]
        node = parent
    return []


def _first_mapped(texts: list[str], mapping: dict[str, str]) -> str | None:
    return next((mapping[t.lower()] for t in texts if t.lower() in mapping), None)


def _eyebrow_center(texts: list[str]) -> str | None:
    for text in texts:
        low = text.lower()
        if low not in TYPE_LABELS and low not in BLOGS and ("carnegie" in low or "center" in low):
            return text
    return None


def _blog_from_path(url: str) -> str | None:
    segments = urlsplit(url).path.split("/")
    return next((BLOG_PATHS[s] for s in segments if s in BLOG_PATHS), None)


def _author_names(block: MetadataBlock, page: Layout) -> list[str]:
    if "authors" in block.values:
        return block.labels("authors")
    return people.byline_names(page.byline) if page.byline is not None else []


def _authors(names: list[str], page: Layout, base_url: str, rebase: Rebase) -> list[Author]:
    about = page.scopes["about"]
    sources = ([page.byline] if page.byline is not None else []) + about
    roles = people.card_roles(about, names, cards=page.scopes["recent"], text=page.text)
    links = {name: rebase(url) for name, url in people.people_links(sources, base_url).items()}
    return people.build_authors(names, links, roles)


def _visible_dek(page: Layout) -> str | None:
    """The first sentence-like block between the title and the byline or date line."""
    if page.h1 is None:
        return None
    limit = min((page.pos(el) for el in (page.byline, page.dateline) if el is not None), default=page.first_long)
    for el in page.h1.itersiblings():
        if limit >= 0 and page.pos(el) >= limit:
            break
        if any(line is not None and line in el.iter() for line in (page.byline, page.dateline)):
            break
        if tag(el) not in ("p", "div", "h2", "h3") or page.is_chrome(el) or _is_widget(el):
            continue
        text = element_text(el)
        if len(text) >= 20:
            return text
    return None


def _is_widget(el: Element) -> bool:
    """Share buttons and link rows: boilerplate inside, or mostly link text."""
    if any(BOILERPLATE.match(clean(d.text)) for d in el.iter() if tag(d) and d.text):
        return True
    link_chars = sum(len(element_text(a)) for a in el.iter("a"))
    return link_chars > len(element_text(el)) / 2


def _visible_date(page: Layout) -> str | None:
    for el in page.content.iter("time"):
        if page.in_header_zone(el) and (found := iso_date(el.get("datetime")) or parse_printed_date(element_text(el))):
            return found
    if page.dateline is not None:
        return parse_printed_date(element_text(page.dateline))
    # A bare date line ("February 4, 2026") in the header.
    for el in page.header_zone:
        text = page.own(el)
        if not text or len(text) > _MAX_DATE_LINE or page.is_chrome(el):
            continue
        if found := parse_printed_date(element_text(el)):
            return found
    return None


def _source_lines(page: Layout) -> list[tuple[Element, str]]:
    lines = []
    for el, own in page.texts.items():  # the content's own texts, in document order
        if SOURCE_LINE.match(own) and not page.in_fenced_section(el):
            text = SOURCE_LINE.sub("", element_text(el)).strip()
            if text and len(text) < 200:
                lines.append((el, text))
    return lines


def _outlet(page: Layout, sources: list[tuple[Element, str]]) -> str | None:
    anchor = page.dateline if page.dateline is not None else page.h1
    for el, text in sources:
        in_figure = any(tag(a) in ("figure", "figcaption") for a in (el, *el.iterancestors()))
        if not in_figure and page.pos(el) > page.pos(anchor) and page.in_header_zone(el):
            return text
    for el in page.body_zone:
        if el.tag == "p" and (match := ORIGIN_LINE.match(page.text(el))):
            return match.group(1).strip()
    return None


def _image(
    head: HeadMeta, page: Layout, base_url: str, sources: list[tuple[Element, str]], rebase: Rebase
) -> Image | None:
    hero = _hero(page)
    src = head.og_image or (hero.get("src") if hero is not None else None)
    url = rebase(found) if src and (found := normalize_url(src, base_url)) else None
    if not url:
        return None
    credit = None
    figure = next(hero.iterancestors("figure"), None) if hero is not None else None
    caption = figure.find(".//figcaption") if figure is not None else None
    if caption is not None:
        credit = SOURCE_LINE.sub("", element_text(caption)).strip() or None
    if credit is None:
        credit = next((text for el, text in sources if page.pos(el) < page.start), None)
    return {"url": url, "credit": credit}


def _hero(page: Layout) -> Element | None:
    """The first picture above the title that is not a logo or part of the site's chrome."""
    for img in page.content.iter("img"):
        if page.pos(img) >= page.start:
            break
        alt = (img.get("alt") or "").lower()
        if img.get("src") and "logo" not in alt and next(img.iterancestors(*_SITE_CHROME), None) is None:
            return img
    return None


def _visible_labels(key: str, page: Layout, base_url: str) -> list[str]:
    """Taxonomy from tag and promo links, when the metadata block does not say."""
    if key not in ("topics", "regions", "projects"):
        return []
    pattern = re.compile(rf"/{key}/[^/?#]+")
    out: list[str] = []
    for a in page.content.iter("a"):
        url = normalize_url(a.get("href") or "", base_url)
        text = element_text(a)
        if not url or not text or text in out or text.lower() == "learn more":
            continue
        # Tags follow the title; trending links to the same sections sit above it, body links in prose.
        if not pattern.search(urlsplit(url).path) or page.pos(a) <= page.start:
            continue
        if key != "projects" and page.in_fenced_section(a):  # the promo box is fenced off from the body
            continue
        if any(page.in_body_zone(p) for p in a.iterancestors("p")):
            continue
        out.append(text)
    return out


def _body(page: Layout, subtitle: str | None) -> str | None:
    """Every text block between the header (title, byline, date) and the first trailing section."""
    blocks = [el for el in page.body_zone if not page.is_chrome(el) and not page.in_fenced_section(el)]
    paragraphs = body_blocks(blocks, page.text)
    if paragraphs and page.byline is None and page.dateline is None and paragraphs[0] == subtitle:
        # Nothing marked where the header ends: the dek under the title is not body text.
        paragraphs = paragraphs[1:]
    return "\n\n".join(paragraphs) or None
