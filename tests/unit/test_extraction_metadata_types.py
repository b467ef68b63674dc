"""A metadata block value of the wrong type: that field comes from the page, and the page is reported."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict
from typing import Any

import pytest
from scrapy.http import HtmlResponse

from carnegie_crawler.extraction import extract_from_response, extract_with_report
from carnegie_crawler.extraction.metadata import wrong_typed_keys
from carnegie_crawler.items import Publication
from carnegie_crawler.schema import describe_errors, load_validator
from tests.helpers import PAGES, as_written, fixture_cases, load_expected

# Three authors, two of them linked in the byline; topics and regions also shown as tag links.
NAME = "commentary_three_authors_notes"
URL = load_expected(NAME)["fetched_url"]
_BLOCK = re.compile(r'(<script type="application/json"[^>]*>)(.*?)(</script>)', re.DOTALL)


def with_block(**changes: Any) -> bytes:
    """The reconstructed page, its metadata block's keys set to *changes*."""
    html = (PAGES / f"{NAME}.html").read_text(encoding="utf-8")
    match = _BLOCK.search(html)
    assert match is not None
    block = json.loads(match[2]) | changes
    return (html[: match.start(2)] + json.dumps(block) + html[match.end(2) :]).encode("utf-8")


def response(body: bytes, url: str = URL) -> HtmlResponse:
    return HtmlResponse(url=url, body=body, encoding="utf-8")


def test_authors_given_as_one_string_are_read_from_the_byline():
    item = extract_from_response(response(with_block(authors="Frances Z. Brown, Thomas Carothers")))
    assert item.authors == load_expected(NAME)["authors"]
    assert all("," not in author["name"] for author in item.authors)


def test_topics_given_as_an_object_are_read_from_the_tags():
    item = extract_from_response(response(with_block(topics={"Elections": 1})))
    assert item.topics == ["Fragility", "Foreign Aid", "Security"]


def test_extract_with_report_names_the_wrong_typed_fields():
    body = with_block(authors="Frances Z. Brown, Thomas Carothers", topics={"Elections": 1})
    item, wrong = extract_with_report(response(body))
    assert wrong == ["authors", "topics"]
    assert isinstance(item, Publication)
    assert describe_errors(load_validator(), as_written(asdict(item))) == [], "no field added to the item"


def test_wrong_typed_fields_are_logged_once_per_page_with_the_url(caplog):
    body = with_block(authors="Frances Z. Brown, Thomas Carothers", topics={"Elections": 1})
    with caplog.at_level(logging.INFO, logger="carnegie_crawler.extraction"):
        extract_from_response(response(body))
    records = [r for r in caplog.records if r.name == "carnegie_crawler.extraction"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert records[0].getMessage() == (
        f"Metadata block of {URL} has wrong-typed field(s) authors, topics: read from the page instead"
    )


def test_a_list_where_text_is_expected_is_read_from_the_page():
    item, wrong = extract_with_report(response(with_block(type=["commentary", "qa"], primaryCenter={"a": "b"})))
    assert wrong == ["type", "primaryCenter"]
    assert item.content_type == "commentary"  # the printed type label, not the list's first entry
    assert item.primary_center == "Carnegie Endowment for International Peace"  # the eyebrow


def test_the_fallback_is_the_one_for_a_missing_key():
    wrong_item, _ = extract_with_report(response(with_block(authors=7, regions="Iraq", programs=[1, 2])))
    html = (PAGES / f"{NAME}.html").read_text(encoding="utf-8")
    match = _BLOCK.search(html)
    assert match is not None
    block = {k: v for k, v in json.loads(match[2]).items() if k not in ("authors", "regions", "programs")}
    missing = html[: match.start(2)] + json.dumps(block) + html[match.end(2) :]
    missing_item, wrong = extract_with_report(response(missing.encode("utf-8")))
    assert wrong == []
    keep = {"crawled_at", "content_hash"}
    assert {k: v for k, v in asdict(wrong_item).items() if k not in keep} == {
        k: v for k, v in asdict(missing_item).items() if k not in keep
    }


@pytest.mark.parametrize("name", fixture_cases())
def test_saved_pages_have_no_wrong_typed_fields(name):
    url = load_expected(name)["fetched_url"]
    _, wrong = extract_with_report(response((PAGES / f"{name}.html").read_bytes(), url))
    assert wrong == []


@pytest.mark.parametrize(
    "value",
    [None, "", "  ", [], ["Security"], [{"name": "Security"}], [{"title": "Security"}], ["Security", 42, None]],
    ids=repr,
)
def test_values_of_the_documented_list_type_or_none_are_not_wrong(value):
    assert wrong_typed_keys({"topics": value, "authors": value}) == []


@pytest.mark.parametrize(
    "value", ["Security", "A, B", {"Security": 1}, 42, True, [1, 2], [None], [{"id": 5}]], ids=repr
)
def test_values_of_another_type_where_a_list_is_expected_are_wrong(value):
    assert wrong_typed_keys({"topics": value, "authors": value}) == ["topics", "authors"]


@pytest.mark.parametrize("value", [["commentary"], {"name": "commentary"}, 42, 1.5, False], ids=repr)
def test_values_of_another_type_where_text_is_expected_are_wrong(value):
    assert wrong_typed_keys({"type": value, "blog": value, "primaryCenter": value}) == ["type", "blog", "primaryCenter"]


def test_keys_extraction_does_not_read_are_not_checked():
    assert wrong_typed_keys({"centerAffiliationAll": 5, "englishNewsletterAll": {"x": 1}}) == []
