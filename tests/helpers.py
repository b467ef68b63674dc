"""Shared test helpers: fixture locations and a valid item to start from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
PAGES = TESTS / "fixtures" / "pages"
# The demo site ships inside the package (scrapy demo serves it), and the e2e tests crawl it too.
SITE = TESTS.parent / "carnegie_crawler" / "demo_site"


def fixture_cases() -> list[str]:
    return sorted(p.stem for p in PAGES.glob("*.json"))


def load_expected(name: str) -> dict[str, Any]:
    return json.loads((PAGES / f"{name}.json").read_text(encoding="utf-8"))


def valid_record() -> dict[str, Any]:
    """A complete, schema-valid record, as a person would write it for a simple page."""
    return {
        "url": "https://carnegieendowment.org/posts/2014/02/deadlock?lang=en",
        "fetched_url": "https://carnegieendowment.org/middle-east/posts/2014/02/deadlock?lang=en",
        "language": "en",
        "content_type": "commentary",
        "title": "Deadlock in Geneva",
        "subtitle": None,
        "blog": None,
        "authors": [{"name": "Thomas Graham, Jr.", "url": None, "role": None}],
        "published_date": "2014-02-20",
        "source": None,
        "image": {"url": "https://assets.carnegieendowment.org/images/x.jpg", "credit": "Getty"},
        "primary_center": "Carnegie Russia Eurasia Center",
        "centers": ["Carnegie Endowment for International Peace"],
        "programs": [],
        "projects": [],
        "collections": [],
        "regions": ["Türkiye"],
        "topics": ["Security"],
        "body": "First paragraph.\n\nSecond paragraph.",
        "word_count": 4,
        "related": {"recent_work": [], "more_work": ["https://carnegieendowment.org/posts/2020/01/y?lang=en"]},
        "crawl_status": None,
        "crawled_at": "2026-11-25T10:00:00Z",
        "content_hash": "0" * 64,
        "schema_version": "2.1.0",
        "run_id": "commentary-2026-11-25T10-00-00-0a1b2c",
    }


def page_item(name: str) -> Any:
    """The `Publication` extracted from a reconstructed page, as the spider would yield it."""
    from scrapy.http import HtmlResponse, Request

    from carnegie_crawler.extraction import extract_from_response

    expected = load_expected(name)
    request = Request(expected["fetched_url"], meta={"redirect_urls": expected.get("_redirect_urls", [])})
    response = HtmlResponse(url=expected["fetched_url"], body=(PAGES / f"{name}.html").read_bytes(), request=request)
    return extract_from_response(response)


def project_settings(**overrides: Any) -> dict[str, Any]:
    """The project's settings.py as a dict (what `scrapy crawl` reads), with *overrides*."""
    from carnegie_crawler import settings

    return {name: getattr(settings, name) for name in dir(settings) if name.isupper()} | overrides


RUN_ID = "commentary-2026-11-25T10-00-00-0a1b2c"


def as_written(record: dict[str, Any]) -> dict[str, Any]:
    """*record* as a run writes it: extraction leaves `run_id` to the spider, which stamps its run's."""
    return record | {"run_id": RUN_ID}
