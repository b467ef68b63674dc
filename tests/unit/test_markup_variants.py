"""The same content in markups the fixtures do not use: extraction must not depend on wrappers."""

from __future__ import annotations

import re

import pytest

from carnegie_crawler.extraction import extract_from_html
from carnegie_crawler.pipelines.dedupe import document_key

URL = "https://carnegieendowment.org/posts/2026/02/x?lang=en"
PARAS = [
    "The first paragraph explains what happened in the negotiations and why it matters for the region today.",
    "The second paragraph weighs the options open to the outside powers, which have all grown more limited.",
    "The third paragraph concludes that none of the parties is ready for a compromise this year.",
]


def page(body: str, header: str = "", head: str = "", after: str = "") -> str:
    return (
        f"<html lang='en'><head><title>T</title>{head}</head><body><main><article>"
        f"<h1>A Title</h1>{header}{body}{after}</article></main></body></html>"
    )


BYLINE = "<p>By <a href='/people/a-b'>Ann Bee</a></p><p>Published on Feb 4, 2026</p>"


@pytest.mark.parametrize(
    "body",
    [
        "".join(f"<div><p>{p}</p></div>" for p in PARAS),
        f"<div><p>{PARAS[0]}</p><p>{PARAS[1]}</p></div><div><p>{PARAS[2]}</p></div>",
        "".join(f"<div>{p}</div>" for p in PARAS),
        f"<section><div class='a'><div class='b'><p>{PARAS[0]}</p></div></div><p>{PARAS[1]}</p>"
        f"<figure><img src='/m.png'><figcaption>Source: Carnegie</figcaption></figure><p>{PARAS[2]}</p></section>",
    ],
)
def test_body_survives_any_wrapping(body):
    item = extract_from_html(page(body, BYLINE), URL)
    assert item.body == "\n\n".join(PARAS)


def test_long_dek_does_not_hide_byline_and_date():
    dek = "A long dek that goes on " + "and on " * 30 + "without end"
    item = extract_from_html(page(f"<p>{PARAS[0]}</p>", f"<p>{dek}</p>{BYLINE}"), URL)
    assert [a["name"] for a in item.authors] == ["Ann Bee"]
    assert item.published_date == "2026-02-04"
    assert item.body == PARAS[0]


def test_date_split_over_spans_and_names_in_list_items():
    header = (
        "<div><span>By</span><ul><li><a href='/people/a'>Alexandra Prokopenko</a></li>"
        "<li>Michael Kofman</li></ul></div>"
        "<div><span>Published on</span> <span>Feb 4, 2026</span></div>"
    )
    item = extract_from_html(page(f"<p>{PARAS[0]}</p>", header), URL)
    assert [a["name"] for a in item.authors] == ["Alexandra Prokopenko", "Michael Kofman"]
    assert item.published_date == "2026-02-04"


def test_bare_date_line():
    item = extract_from_html(page(f"<p>{PARAS[0]}</p>", "<p>February 4, 2026</p>"), URL)
    assert item.published_date == "2026-02-04"


def test_view_all_link_next_to_the_heading_does_not_hide_the_cards():
    after = (
        "<section><div><h2>More Work from Carnegie Russia Eurasia Center</h2>"
        "<a href='/russia-eurasia/research'>View all</a></div>"
        "<ul><li><a href='/posts/2026/01/a?lang=en'>A</a></li><li><a href='/posts/2026/01/b?lang=en'>B</a></li></ul>"
        "</section>"
    )
    item = extract_from_html(page(f"<p>{PARAS[0]}</p>", BYLINE, after=after), URL)
    assert item.related["more_work"] == [
        "https://carnegieendowment.org/posts/2026/01/a?lang=en",
        "https://carnegieendowment.org/posts/2026/01/b?lang=en",
    ]


def test_heading_with_a_line_break():
    after = "<h2>More Work<br>from Carnegie India</h2><ul><li><a href='/posts/2026/01/a?lang=en'>A</a></li></ul>"
    item = extract_from_html(page(f"<p>{PARAS[0]}</p>", BYLINE, after=after), URL)
    assert item.related["more_work"] == ["https://carnegieendowment.org/posts/2026/01/a?lang=en"]


def test_a_sentence_that_starts_like_a_heading_is_body_text():
    text = "More work from the IMF is needed before the talks can resume."
    body = f"<p>{PARAS[0]}</p><p>{text}</p><p><a href='/posts/2026/01/z'>A body link</a> follows here in prose.</p>"
    item = extract_from_html(page(body, BYLINE), URL)
    assert text in item.body
    assert item.related["more_work"] == []


def test_a_paragraph_starting_with_by_and_a_year_is_not_a_byline():
    body = "<p>By 2030, the new center will host forty scholars.</p>" + f"<p>{PARAS[0]}</p>"
    item = extract_from_html(page(body, "<p>Published on May 1, 2020</p>"), URL)
    assert item.authors == []
    assert item.body.startswith("By 2030, the new center")


@pytest.mark.parametrize(
    "line",
    [
        "Originally published in Foreign Affairs. Read Full Text",
        "This article was originally published in Foreign Affairs.",
        "Read Full Text",
    ],
)
def test_origin_lines_are_not_body(line):
    item = extract_from_html(page(f"<p>{PARAS[0]}</p><p>{line}</p>", BYLINE), URL)
    assert item.body == PARAS[0]


def test_notes_heading_with_a_colon_ends_the_body():
    body = f"<div><p>{PARAS[0]}</p><h3>Notes:</h3><ol><li>A footnote that is not body.</li></ol></div>"
    item = extract_from_html(page(body, BYLINE), URL)
    assert item.body == PARAS[0]


def test_an_analytics_json_script_does_not_shadow_the_metadata_block():
    head = (
        '<script type="application/json">{"event": "pageview", "type": "page"}</script>'
        '<script type="application/json">'
        '{"authors": ["Ann Bee"], "type": "commentary", "topics": ["Security"]}</script>'
    )
    item = extract_from_html(page(f"<p>{PARAS[0]}</p>", BYLINE, head=head), URL)
    assert item.content_type == "commentary"
    assert item.topics == ["Security"]


def test_malformed_hrefs_do_not_lose_the_page():
    body = f"<p>{PARAS[0]} <a href='http://[oops'>broken</a></p>"
    head = "<link rel='canonical' href='http://[oops'><meta property='og:image' content='http://[x'>"
    item = extract_from_html(page(body, BYLINE, head=head), URL)
    assert item.url == URL
    assert item.image is None
    assert item.body.startswith(PARAS[0])


def test_tags_without_metadata_skip_links_in_prose_and_cards():
    body = f"<p>{PARAS[0]} See <a href='/topics/energy'>energy</a> for more.</p>"
    after = (
        "<ul><li><a href='/topics/security'>Security</a></li><li><a href='/regions/syria'>Syria</a></li></ul>"
        "<h2>More Work from X</h2>"
        "<ul><li><a href='/posts/2026/01/a'>A</a> <a href='/topics/economy'>Economy</a></li></ul>"
    )
    item = extract_from_html(page(body, BYLINE, after=after), URL)
    assert item.topics == ["Security"]
    assert item.regions == ["Syria"]


def test_hero_image_outside_a_figure():
    html = (
        "<html><body><header><img src='/logo.svg' alt='Carnegie logo'></header><main>"
        "<img src='/images/hero.jpg' alt='A street'><p>Source: AFP</p><h1>T</h1>" + BYLINE + f"<p>{PARAS[0]}</p>"
        "</main></body></html>"
    )
    item = extract_from_html(html, URL)
    assert item.image == {"url": "https://carnegieendowment.org/images/hero.jpg", "credit": "AFP"}


def test_mirror_copies_with_and_without_canonical_are_one_document():
    with_canonical = "https://carnegieendowment.org/posts/2021/12/x?lang=en"
    mirror_fallback = "http://127.0.0.1:8123/posts/2021/12/x?lang=en"
    assert document_key(with_canonical, "en") == document_key(mirror_fallback, "en")
    assert document_key(with_canonical, "en") != document_key(with_canonical, "ar")
    assert document_key(with_canonical, "en") != document_key(re.sub("x", "y", with_canonical), "en")


def test_a_co_author_named_in_a_recent_work_card_does_not_hide_a_role():
    about = (
        "<section><h2>About the Authors</h2>"
        "<div><a href='/people/a'>Ann Bee</a><p>Senior Fellow, Europe Program</p>"
        "<h3>Recent Work</h3><ul><li><a href='/posts/2025/01/x'>X</a><div>Carl Dee</div></li></ul></div>"
        "<div><a href='/people/c'>Carl Dee</a><p>Fellow, Asia Program</p></div></section>"
    )
    header = "<p>By <a href='/people/a'>Ann Bee</a> and <a href='/people/c'>Carl Dee</a></p>"
    item = extract_from_html(page(f"<p>{PARAS[0]}</p>", header + "<p>Published on Feb 4, 2026</p>", after=about), URL)
    assert [(a["name"], a["role"]) for a in item.authors] == [
        ("Ann Bee", "Senior Fellow, Europe Program"),
        ("Carl Dee", "Fellow, Asia Program"),
    ]
