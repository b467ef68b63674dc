"""The hand-written text walk agrees with lxml's event walker on every reconstructed page, and layout basics hold.

`walk_text` walks the subtree on an explicit stack (iterative: deep nesting cannot
overflow) where `etree.iterwalk` would do; it must give exactly what the walker gives.
"""

from __future__ import annotations

import functools

import pytest
from lxml import etree
from lxml.etree import _Element as Element

from carnegie_crawler.extraction import extract_from_html
from carnegie_crawler.extraction.decoding import parse_html
from carnegie_crawler.extraction.layout import Layout
from carnegie_crawler.extraction.metadata import read_head
from carnegie_crawler.extraction.text import BLOCK_TAGS, SKIP_TAGS, element_text, is_footnote_marker, walk_text
from tests.helpers import PAGES, fixture_cases, load_expected

NAMES = fixture_cases()


@functools.cache
def layout(name: str) -> Layout:
    root = parse_html((PAGES / f"{name}.html").read_bytes())
    head = read_head(root)
    return Layout(root, load_expected(name)["fetched_url"], head.description or head.og_description)


def elements(page: Layout) -> list[Element]:
    return [el for el in page.root.iter() if isinstance(el.tag, str)]


def test_pages_are_there():
    assert len(NAMES) >= 20


def reference_text(el: Element) -> str:
    """`element_text` as first written, on lxml's event walker: the definition `walk_text` must meet."""
    parts: list[str] = []
    skipped: set[Element] = set()
    walker = etree.iterwalk(el, events=("start", "end", "comment", "pi"))
    for event, node in walker:
        if event in ("comment", "pi"):
            if node is not el and node.tail:
                parts.append(node.tail)
            continue
        if event == "start":
            if node.tag in SKIP_TAGS or is_footnote_marker(node):
                skipped.add(node)
                walker.skip_subtree()
                continue
            if node.tag in BLOCK_TAGS:
                parts.append(" ")
            if node.text:
                parts.append(node.text)
            continue
        if node in skipped:
            skipped.discard(node)
        elif node.tag in BLOCK_TAGS:
            parts.append(" ")
        if node is not el and node.tail:
            parts.append(node.tail)
    return " ".join("".join(parts).split())


@pytest.mark.parametrize("name", NAMES)
def test_element_text_equals_the_walk(name):
    page = layout(name)
    nested = 0
    for el in elements(page):
        nested += len(el) > 0
        assert element_text(el) == walk_text(el) == reference_text(el), el.tag
    assert nested > 10


def test_walk_text_skips_what_the_reference_skips():
    html = (
        "<div><p>A<!-- c -->B<script>x</script>C<sup>1</sup>D</p><ul><li>E<b>F</b>G</li>"
        "<li><?pi x?>H<style>s</style></li></ul>I<br>J<span>K<em>L</em></span>M</div>"
    )
    div = parse_html(html).find(".//div")
    # Script, style and the footnote marker go; blocks (p, ul, li, br) part words, inline elements do not.
    assert walk_text(div) == reference_text(div) == "ABCD EFG H I JKLM"


def test_own_texts_of_content_outside_the_body_are_read_too():
    root = etree.fromstring("<html><article><h1>Title</h1><p> A  paragraph </p></article><body><p>B</p></body></html>")
    page = Layout(root, "https://carnegieendowment.org/posts/2026/01/t")
    assert page.content.tag == "article"
    assert list(page.texts.values()) == ["Title", "A paragraph"]


def test_zones_are_not_empty():
    assert all(layout(name).body_zone for name in NAMES if load_expected(name).get("body"))
    assert sum(bool(layout(name).header_zone) for name in NAMES) >= len(NAMES) - 2


def test_disclaimer_is_the_first_own_text_with_its_words_in_any_case():
    html = (
        "<html><body><article><h1>T</h1><p>İİİ Σ</p><p>x</p>"
        "<p>Carnegie DOES NOT take\n Institutional Positions.</p><p>does not take institutional positions</p>"
        "</article></body></html>"
    )
    page = Layout(parse_html(html), "https://carnegieendowment.org/posts/2026/01/t")
    assert page.disclaimer is not None
    assert page.disclaimer.text.startswith("Carnegie DOES")
    assert sum(layout(name).disclaimer is not None for name in NAMES) >= 5


@pytest.mark.parametrize("name", NAMES)
def test_word_count_is_a_split(name):
    body = load_expected(name).get("body")
    if body:
        item = extract_from_html((PAGES / f"{name}.html").read_bytes(), load_expected(name)["fetched_url"])
        assert item.word_count == len((item.body or "").split())
