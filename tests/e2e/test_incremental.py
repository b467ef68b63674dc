"""Two and three runs in a row over one local site: state, incremental requests, change detection."""

from __future__ import annotations

import json
import re

import pytest_twisted

from tests.e2e.crawling import EXPECTED, crawl_settings, run_crawl, start_urls
from tests.helpers import SITE

EDITED = "pages/posts/2022/09/carnegie-announces-new-middle-east-fellows.html"
EDITED_URL = "https://carnegieendowment.org/posts/2022/09/carnegie-announces-new-middle-east-fellows?lang=en"


@pytest_twisted.inlineCallbacks
def test_unchanged_site_second_incremental_run_fetches_only_start_pages(editable_site, tmp_path):
    state = str(tmp_path / "state.sqlite3")
    first, items = yield run_crawl(
        crawl_settings(tmp_path / "run1", CARNEGIE_STATE=state), start_urls=start_urls(editable_site)
    )
    assert len(items) == len(EXPECTED["expected_items"])
    assert {i.crawl_status for i in items} == {"new"}
    assert first.stats.get_value("carnegie/state/documents_committed") == len(EXPECTED["expected_items"])

    editable_site.site.requests.clear()
    second, items = yield run_crawl(
        crawl_settings(tmp_path / "run2", CARNEGIE_STATE=state),
        start_urls=start_urls(editable_site),
        incremental="true",
    )
    assert items == []
    assert sorted(editable_site.site.requests) == sorted(["/robots.txt", *EXPECTED["start_paths"]])
    stats = second.stats.get_stats()
    assert stats["carnegie/health/ok"] is True
    assert stats["carnegie/items/unchanged"] == 2, "the two start pages"
    assert stats["carnegie/incremental/skipped_fresh"] > 0
    assert (tmp_path / "run2" / "items.jsonl").read_text() == ""


@pytest_twisted.inlineCallbacks
def test_an_edited_page_is_emitted_once_as_updated(editable_site, tmp_path):
    state = str(tmp_path / "state.sqlite3")
    yield run_crawl(crawl_settings(tmp_path / "run1", CARNEGIE_STATE=state), start_urls=start_urls(editable_site))

    page = editable_site.site.root / EDITED
    page.write_text(page.read_text().replace("three scholars", "four scholars"), encoding="utf-8")
    editable_site.site.requests.clear()
    # Refresh everything: known pages are asked for conditionally and answer 304 unless edited.
    crawler, items = yield run_crawl(
        crawl_settings(tmp_path / "run2", CARNEGIE_STATE=state, CARNEGIE_REFRESH_DAYS=0),
        start_urls=start_urls(editable_site),
        incremental="true",
    )
    assert [(i.url, i.crawl_status) for i in items] == [(EDITED_URL, "updated")]
    assert "four scholars" in items[0].body
    stats = crawler.stats.get_stats()
    assert stats["downloader/response_status_count/304"] > 0, "unchanged pages answer 304"
    assert stats["carnegie/health/ok"] is True


@pytest_twisted.inlineCallbacks
def test_since_emits_only_recent_documents(editable_site, tmp_path):
    _, items = yield run_crawl(crawl_settings(tmp_path), start_urls=start_urls(editable_site), since="2022-09-01")
    assert items
    assert all(i.published_date >= "2022-09-01" for i in items)
    assert len(items) < len(EXPECTED["expected_items"])


@pytest_twisted.inlineCallbacks
def test_a_dropped_item_is_not_marked_as_seen(editable_site, tmp_path):
    """Items rejected by validation are fetched and offered again on the next run."""
    state = str(tmp_path / "state.sqlite3")
    strict = tmp_path / "strict.schema.json"
    schema = (SITE.parent.parent / "schemas" / "publication.schema.json").read_text()
    strict.write_text(schema.replace('"word_count": {', '"word_count": {"maximum": 70, ', 1))
    # Rejects up to 100 % keep the run healthy, so it commits: an unhealthy run commits nothing at all.
    first, items = yield run_crawl(
        crawl_settings(
            tmp_path / "run1", CARNEGIE_STATE=state, CARNEGIE_SCHEMA=str(strict), CARNEGIE_MAX_INVALID_RATIO=1
        ),
        start_urls=start_urls(editable_site),
    )
    rejected = first.stats.get_value("carnegie/validation/dropped")
    assert rejected
    _, again = yield run_crawl(
        crawl_settings(tmp_path / "run2", CARNEGIE_STATE=state, CARNEGIE_REFRESH_DAYS=0),
        start_urls=start_urls(editable_site),
        incremental="true",
    )
    assert {i.crawl_status for i in again} == {"new"}
    assert len(again) == len(EXPECTED["expected_items"]) - len(items)


@pytest_twisted.inlineCallbacks
def test_a_page_taken_down_is_reported_removed_once_and_comes_back_new(editable_site, tmp_path):
    state = str(tmp_path / "state.sqlite3")
    path = "/posts/2022/09/carnegie-announces-new-middle-east-fellows"
    yield run_crawl(crawl_settings(tmp_path / "run1", CARNEGIE_STATE=state), start_urls=start_urls(editable_site))

    editable_site.site.routes[path] = {"status": 410}
    second, items = yield run_crawl(
        crawl_settings(tmp_path / "run2", CARNEGIE_STATE=state), start_urls=start_urls(editable_site)
    )
    assert EDITED_URL not in {i.url for i in items}
    manifest = json.loads((tmp_path / "run2" / "items.manifest.json").read_text())
    assert manifest["removed"] == [{"url": EDITED_URL, "language": "en", "reason": "HTTP 410"}]
    assert len(manifest["removed"]) == 1, "pages merely not linked any more are not removed"
    assert second.stats.get_value("carnegie/health/ok") is True

    yield run_crawl(crawl_settings(tmp_path / "run3", CARNEGIE_STATE=state), start_urls=start_urls(editable_site))
    assert json.loads((tmp_path / "run3" / "items.manifest.json").read_text())["removed"] == [], "reported once"

    del editable_site.site.routes[path]
    _, items = yield run_crawl(
        crawl_settings(tmp_path / "run4", CARNEGIE_STATE=state), start_urls=start_urls(editable_site)
    )
    assert {i.url: i.crawl_status for i in items}[EDITED_URL] == "new", "back after a removal: a new version"


@pytest_twisted.inlineCallbacks
def test_a_since_run_on_pages_whose_dates_cannot_be_read_is_unhealthy(editable_site, tmp_path):
    """Found by a review: the filter dropped every undated page, so a broken date extraction ended healthy
    and empty, where the same site without the filter fails on date coverage."""
    months = "January|February|March|April|May|June|July|August|September|October|November|December"
    dates = re.compile(rf"\b(?:{months}|[A-Z][a-z]{{2}}\.?) \d{{1,2}}, \d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}[T\d:+Z-]*")
    for page in (editable_site.site.root / "pages").rglob("*.html"):
        page.write_text(dates.sub("", page.read_text(encoding="utf-8")), encoding="utf-8")
    settings = crawl_settings(tmp_path, CARNEGIE_COVERAGE_MIN_ITEMS=5)
    crawler, items = yield run_crawl(settings, start_urls=start_urls(editable_site), since="2000-01-01")
    assert items == []
    assert crawler.stats.get_value("carnegie/health/ok") is False
    [reason] = crawler.stats.get_value("carnegie/health/reasons")
    assert "had no date for the since filter to judge" in reason
