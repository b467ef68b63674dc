"""The extraction's shortcuts agree with the plain definitions they replace, on every saved page.

Each shortcut (a leaf needs no walk, the text walk on a stack, inherited flags as
subtrees, zones as slices, name keys pruned children-first, text shared between
passes, already folded text kept) must give exactly what the slow definition
gives, or the speed-up has changed what we extract.
"""

from __future__ import annotations

import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from lxml.etree import _Element as Element

from carnegie_crawler.extraction import authors as people
from carnegie_crawler.extraction import extract_from_html
from carnegie_crawler.extraction.body import body_blocks
from carnegie_crawler.extraction.decoding import parse_html
from carnegie_crawler.extraction.layout import Layout, _is_chrome_element
from carnegie_crawler.extraction.metadata import read_head
from carnegie_crawler.extraction.text import (
    BLOCK_TAGS,
    SKIP_TAGS,
    ancestors,
    element_text,
    fold,
    is_footnote_marker,
    walk_text,
)
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
    """`element_text` as first written, on lxml's event walker: the definition the shortcuts must meet."""
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
    leaves = nested = 0
    for el in elements(page):
        leaves += not len(el)
        nested += len(el) > 0
        assert element_text(el) == walk_text(el) == reference_text(el), el.tag
    assert leaves > 10  # the leaf shortcut was exercised
    assert nested > 10


def test_walk_text_skips_what_the_reference_skips():
    html = (
        "<div><p>A<!-- c -->B<script>x</script>C<sup>1</sup>D</p><ul><li>E<b>F</b>G</li>"
        "<li><?pi x?>H<style>s</style></li></ul>I<br>J<span>K<em>L</em></span>M</div>"
    )
    div = parse_html(html).find(".//div")
    # Script, style and the footnote marker go; blocks (p, ul, li, br) part words, inline elements do not.
    assert walk_text(div) == reference_text(div) == "ABCD EFG H I JKLM"


@pytest.mark.parametrize("name", NAMES)
def test_layout_text_equals_element_text(name):
    page = layout(name)
    for el in elements(page):
        assert page.text(el) == element_text(el), el.tag
    assert any(not len(el) and page.text(el) for el in page.iter_content())  # the leaf shortcut was exercised


def plain_own_texts(page: Layout) -> dict[Element, str]:
    return {el: " ".join(el.text.split()) for el in page.iter_content() if el.text and not el.text.isspace()}


@pytest.mark.parametrize("name", NAMES)
def test_own_texts_gathered_by_the_heading_pass_are_every_own_text(name):
    page = layout(name)
    assert page.texts == plain_own_texts(page)
    assert list(page.texts) == list(plain_own_texts(page))  # document order


def test_own_texts_of_content_outside_the_body_are_read_too():
    root = etree.fromstring("<html><article><h1>Title</h1><p> A  paragraph </p></article><body><p>B</p></body></html>")
    page = Layout(root, "https://carnegieendowment.org/posts/2026/01/t")
    assert page.content.tag == "article"
    assert list(page.texts.values()) == ["Title", "A paragraph"]


@pytest.mark.parametrize("name", NAMES)
def test_zones_are_the_elements_in_them(name):
    page = layout(name)
    assert page.header_zone == [el for el in page.iter_content() if page.in_header_zone(el)]
    assert page.body_zone == [el for el in page.iter_content() if page.in_body_zone(el)]


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


# Every kind of character str.split() may split on, around ordinary text.
_SPACES = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000"


@given(st.lists(st.sampled_from([*_SPACES, "  ", "a", "Word", "é", "—", "\u200b"])).map("".join) | st.text())
def test_fold_is_a_split_and_join(text):
    assert fold(text) == " ".join(text.split())


def test_fold_keeps_a_folded_text_as_it_is():
    text = "Already folded, one space between words."
    assert fold(text) is text


@pytest.mark.parametrize("name", NAMES)
def test_inherited_flags_equal_the_ancestor_walk(name):
    page = layout(name)
    for el in elements(page):
        chrome = False
        for node in (el, *ancestors(el)):
            if node is page.content:
                break
            if _is_chrome_element(node):
                chrome = True
                break
        fenced = el in page._fenced or any(a in page._fenced for a in ancestors(el))
        assert page.is_chrome(el) == chrome, el.tag
        assert page.in_fenced_section(el) == fenced, el.tag


@pytest.mark.parametrize("name", NAMES)
def test_pruned_name_keys_equal_every_element_checked(name):
    page = layout(name)
    expected_authors = [a["name"] for a in load_expected(name).get("authors") or []]
    scope = page.scopes["about"] or [page.content]
    in_order = [el for container in scope for el in container.iter()]
    wanted = {people.name_key(n) for n in expected_authors}
    naive = {el: k for el in in_order if isinstance(el.tag, str) and (k := people.name_key(element_text(el))) in wanted}
    assert people._name_keys(in_order, wanted, page.text) == naive


def test_name_keys_find_names_somewhere():
    found = 0
    for name in NAMES:
        page = layout(name)
        wanted = {people.name_key(a["name"]) for a in load_expected(name).get("authors") or []}
        in_order = [el for container in page.scopes["about"] for el in container.iter()]
        found += len(people._name_keys(in_order, wanted, page.text))
    assert found >= 10  # the comparison above is not between two empty results


@pytest.mark.parametrize("name", NAMES)
def test_shared_text_gives_the_same_body(name):
    page = layout(name)
    candidates = [el for el in page.iter_content() if page.in_body_zone(el)]
    assert body_blocks(candidates, page.text) == body_blocks(candidates)


@pytest.mark.parametrize("name", NAMES)
def test_word_count_is_a_split(name):
    body = load_expected(name).get("body")
    if body:
        item = extract_from_html((PAGES / f"{name}.html").read_bytes(), load_expected(name)["fetched_url"])
        assert item.word_count == len((item.body or "").split())
