"""Extraction on reconstructed pages, compared field by field with what a reader of the page expects."""

from __future__ import annotations

import functools
from dataclasses import asdict
from typing import Any

import pytest
from scrapy.http import HtmlResponse, Request

from carnegie_crawler.extraction import extract_from_html, extract_from_response
from carnegie_crawler.schema import describe_errors, load_validator
from tests.helpers import PAGES, as_written, fixture_cases, load_expected

# Set per fetch, so a reconstructed page cannot know them in advance.
UNCOMPARED = {"crawled_at", "content_hash", "schema_version", "crawl_status", "run_id", "archive"}
# Text that never belongs to an article, whatever the page.
ALWAYS_ABSENT = ("Link Copied", "does not take institutional positions", "Read Full Text", "Learn More")


@functools.cache
def extracted(name: str) -> dict[str, Any]:
    expected = load_expected(name)
    request = Request(expected["fetched_url"], meta={"redirect_urls": expected.get("_redirect_urls", [])})
    response = HtmlResponse(url=expected["fetched_url"], body=(PAGES / f"{name}.html").read_bytes(), request=request)
    return asdict(extract_from_response(response))


def field_cases() -> list[tuple[str, str]]:
    return [
        (name, key)
        for name in fixture_cases()
        for key in load_expected(name)
        if not key.startswith("_") and key not in UNCOMPARED
    ]


@pytest.mark.parametrize(("name", "field"), field_cases())
def test_field_matches_what_the_page_says(name, field):
    assert extracted(name)[field] == load_expected(name)[field]


@pytest.mark.parametrize("name", fixture_cases())
def test_expected_json_covers_every_field(name):
    expected = {k for k in load_expected(name) if not k.startswith("_")}
    assert set(extracted(name)) - UNCOMPARED <= expected


@pytest.mark.parametrize("name", fixture_cases())
def test_boilerplate_is_absent(name):
    item = extracted(name)
    text = "\n".join(filter(None, (item["title"], item["subtitle"], item["body"])))
    for phrase in (*ALWAYS_ABSENT, *load_expected(name).get("_absent", [])):
        assert phrase not in text, f"{phrase!r} leaked into the extracted text"


@pytest.mark.parametrize("name", fixture_cases())
def test_extracted_item_is_schema_valid(name):
    assert describe_errors(load_validator(), as_written(extracted(name))) == []


@pytest.mark.parametrize("name", fixture_cases())
def test_word_count_counts_the_body(name):
    item = extracted(name)
    assert item["word_count"] == (len(item["body"].split()) if item["body"] else 0)


def test_html_entry_point_matches_the_response_entry_point():
    name = fixture_cases()[0]
    url = load_expected(name)["fetched_url"]
    from_html = asdict(extract_from_html((PAGES / f"{name}.html").read_bytes(), url))
    assert {k: v for k, v in from_html.items() if k not in UNCOMPARED} == {
        k: v for k, v in extracted(name).items() if k not in UNCOMPARED
    }


def test_content_hash_ignores_fetch_details_but_sees_content():
    name = fixture_cases()[0]
    html = (PAGES / f"{name}.html").read_bytes()
    url = load_expected(name)["fetched_url"]
    a = extract_from_html(html, url)
    b = extract_from_html(html, url + "&utm_source=x")
    assert a.content_hash == b.content_hash
    first_words = a.body.split("\n\n")[0][:40].encode("utf-8")
    assert html.count(first_words) == 1
    edited = extract_from_html(html.replace(first_words, first_words + b" (updated)"), url)
    assert edited.content_hash != a.content_hash
