"""Landmarks found by text and semantics, on small hand-written snippets."""

from lxml.html import document_fromstring

from carnegie_crawler.extraction import extract_from_html
from carnegie_crawler.extraction.sections import card_links, find_headings, section_scope
from carnegie_crawler.extraction.vocab import MORE_WORK, RECENT_WORK

BASE = "https://carnegieendowment.org/posts/2020/01/page?lang=en"


def links(html: str, pattern=MORE_WORK) -> list[str]:
    root = document_fromstring(html)
    return card_links([el for h in find_headings(root, pattern) for el in section_scope(h)], BASE)


def test_heading_in_a_wrapper_introduces_the_next_sibling_block():
    html = """<div><div class="x"><div><h2>More Work from Carnegie India</h2></div></div>
    <div><ul><li><span>Commentary</span><a href="/india/posts/2023/06/a?lang=en">A</a></li>
    <li><a href="/india/posts/2023/07/b?lang=en#x">B</a><a href="/people/p?lang=en">P</a></li></ul></div>
    <h2>Newsletter</h2><a href="/posts/2020/02/never?lang=en">no</a></div>"""
    assert links(html) == [
        "https://carnegieendowment.org/india/posts/2023/06/a?lang=en",
        "https://carnegieendowment.org/india/posts/2023/07/b?lang=en",
    ]


def test_bold_paragraph_heading_and_article_cards_with_blog_links():
    html = """<section><p><strong>Recent Work</strong></p>
    <article><a href="/russia-eurasia/politika?lang=en">Carnegie Politika</a>
    <h3><a href="/russia-eurasia/politika/2026/01/t?lang=en">Title</a></h3>
    <a href="/people/a?lang=en">Author A</a></article></section>"""
    assert links(html, RECENT_WORK) == ["https://carnegieendowment.org/russia-eurasia/politika/2026/01/t?lang=en"]


def test_aria_labelled_container_is_its_own_scope():
    html = """<div aria-label="More Work from Carnegie Russia Eurasia Center">
    <div><a href="/posts/2022/02/x?lang=en">X</a></div><div><a href="/posts/2022/03/y?lang=en">Y</a></div></div>"""
    assert links(html) == [
        "https://carnegieendowment.org/posts/2022/02/x?lang=en",
        "https://carnegieendowment.org/posts/2022/03/y?lang=en",
    ]


def test_a_menu_link_that_reads_like_a_heading_is_not_a_section():
    html = """<nav><ul><li><a href="/india/research?lang=en">More work from Carnegie India</a></li>
    <li><a href="/posts/2020/01/trap?lang=en">Trap</a></li></ul></nav>"""
    assert links(html) == []


def test_non_http_card_links_are_ignored():
    html = """<h2>More Work from X</h2><ul><li><a href="javascript:alert(1)">J</a></li>
    <li><a href="mailto:a@b.org">M</a></li><li><a href="/posts/2020/01/ok?lang=en">OK</a></li></ul>"""
    assert links(html) == ["https://carnegieendowment.org/posts/2020/01/ok?lang=en"]


def test_nav_words_above_the_title_are_not_the_type_label():
    html = (
        """<html><body><div><div><a href="/research">Research</a><a href="/about">About</a></div>
    <div><div><h1>A Title</h1><p>By Jane Doe</p><p>Published on Feb 20, 2014</p></div></div>
    <div><p>"""
        + "Body text. " * 30
        + """</p></div></div></body></html>"""
    )
    item = extract_from_html(html, BASE)
    assert item.content_type is None
    assert item.title == "A Title"
    assert [a["name"] for a in item.authors] == ["Jane Doe"]
    assert item.published_date == "2014-02-20"
    assert item.body == ("Body text. " * 30).strip()


def test_a_body_paragraph_starting_with_by_is_not_a_byline():
    html = (
        "<html><body><article><h1>Press release</h1><p>Published on May 1, 2020</p>"
        "<div><p>By the end of the year, the center will open two offices. " + "More text here. " * 20 + "</p>"
        "<p>By 2030 it hopes to grow.</p></div></article></body></html>"
    )
    item = extract_from_html(html, BASE)
    assert item.authors == []
    assert item.body.startswith("By the end of the year")
