"""In-process crawls of the local fixture site, with every project component enabled."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import asdict

import pytest_twisted
from scrapy import signals
from scrapy.utils.test import get_crawler

from carnegie_crawler.extensions.workers import ExtractionWorkers
from carnegie_crawler.run.owner import owner_of
from carnegie_crawler.spiders.commentary import CommentarySpider
from tests.e2e.crawling import EXPECTED, crawl_settings, run_crawl, start_urls
from tests.helpers import SITE


@pytest_twisted.inlineCallbacks
def test_crawl_yields_exactly_the_reachable_publications(site_server, tmp_path):
    crawler, items = yield run_crawl(crawl_settings(tmp_path), start_urls=start_urls(site_server))

    got = sorted((i.url, i.language) for i in items)
    want = sorted((e["url"], e["language"]) for e in EXPECTED["expected_items"])
    assert got == want
    titles = {(i.url, i.language): i.title for i in items}
    for expected in EXPECTED["expected_items"]:
        assert titles[(expected["url"], expected["language"])] == expected["title"]

    requested = set(site_server.site.requests)
    assert not requested & set(EXPECTED["must_not_request"]), "a trap link was followed"
    assert set(EXPECTED["must_request"]) <= requested

    stats = crawler.stats.get_stats()
    assert stats["finish_reason"] == "finished"
    assert stats["carnegie/dedupe/dropped"] == 1, "one document under two paths"
    assert stats["robotstxt/forbidden"] == 1
    assert stats["retry/count"] == 1, "the 500-then-200 page is retried once"
    assert stats["carnegie/pages/not_html"] == 1, "the PDF card gives no item"
    assert stats["carnegie/errors/HttpError"] == 1, "the 404 card"
    assert stats["carnegie/start_pages/fetched"] == 2
    assert stats.get("carnegie/validation/dropped", 0) == 0


@pytest_twisted.inlineCallbacks
def test_jsonl_output_and_feed_export_agree(site_server, tmp_path):
    _, items = yield run_crawl(crawl_settings(tmp_path), start_urls=start_urls(site_server))

    assert not list(tmp_path.glob("*.part")), "the .part file is renamed at close"
    written = [json.loads(line) for line in (tmp_path / "items.jsonl").read_text(encoding="utf-8").splitlines()]
    feed = [json.loads(line) for line in (tmp_path / "feed.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(written) == len(items) == len(EXPECTED["expected_items"])
    assert sorted(r["url"] for r in written) == sorted(r["url"] for r in feed)
    assert len({(r["url"], r["language"]) for r in written}) == len(written), "no duplicates"
    assert not (tmp_path / "rejects.jsonl").exists(), "no rejects on a clean site"


@pytest_twisted.inlineCallbacks
def test_types_argument_filters_items_but_still_follows_links(site_server, tmp_path):
    crawler, items = yield run_crawl(crawl_settings(tmp_path), start_urls=start_urls(site_server), types="pressRelease")
    assert {i.content_type for i in items} == {"pressRelease"}
    assert len(items) == 1, "the press release is several hops from the start pages"
    # The nine other documents, plus the second path of the document served twice.
    assert crawler.stats.get_value("carnegie/items/skipped_type") == len(EXPECTED["expected_items"])


@pytest_twisted.inlineCallbacks
def test_invalid_items_go_to_the_rejects_file(site_server, tmp_path):
    schema = json.loads((SITE.parent.parent / "schemas" / "publication.schema.json").read_text())
    schema["properties"]["word_count"]["maximum"] = 90  # longer articles become "invalid"
    strict = tmp_path / "strict.schema.json"
    strict.write_text(json.dumps(schema))
    # Many rejects make the run unhealthy, and an unhealthy run publishes nothing: allow them all here.
    settings = crawl_settings(tmp_path, CARNEGIE_SCHEMA=str(strict), CARNEGIE_MAX_INVALID_RATIO=1)
    crawler, items = yield run_crawl(settings, start_urls=start_urls(site_server))
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rejects, "the stricter schema rejects some items"
    assert all(r["errors"] == [{"path": "$.word_count", "message": r["errors"][0]["message"]}] for r in rejects)
    assert all(r["item"]["word_count"] > 90 for r in rejects)
    assert crawler.stats.get_value("carnegie/validation/dropped") == len(rejects)
    # Validation runs before dedupe, so both paths of the twice-served document are rejected.
    assert len(items) + len({r["url"] for r in rejects}) == len(EXPECTED["expected_items"])


@pytest_twisted.inlineCallbacks
def test_workers_and_in_process_extraction_give_the_same_items(site_server, tmp_path):
    _, in_process = yield run_crawl(
        crawl_settings(tmp_path / "a", CARNEGIE_EXTRACT_WORKERS=0), start_urls=start_urls(site_server)
    )
    # A download delay leaves the worker time to start: pages before that are extracted in process.
    crawler, in_workers = yield run_crawl(
        crawl_settings(tmp_path / "b", CARNEGIE_EXTRACT_WORKERS=1, DOWNLOAD_DELAY=0.3),
        start_urls=start_urls(site_server),
    )

    def comparable(items):
        # Fetch time and run id differ between the two runs; everything read from the page must not.
        blank = {"crawled_at": "", "run_id": "", "archive": None}
        return sorted((asdict(i) | blank for i in items), key=lambda d: (d["url"], d["language"]))

    assert comparable(in_workers) == comparable(in_process)
    stats = crawler.stats.get_stats()
    assert stats["carnegie/extraction/in_workers"] >= 3
    assert stats["carnegie/extraction/in_workers"] + stats["carnegie/extraction/in_process"] >= len(in_workers)
    assert crawler.get_extension(ExtractionWorkers).pool.processes == [], "workers stop with the crawl"


@pytest_twisted.inlineCallbacks
def test_a_worker_killed_mid_crawl_loses_no_item(site_server, tmp_path, caplog):
    settings = crawl_settings(tmp_path, CARNEGIE_EXTRACT_WORKERS=1)
    crawler = get_crawler(CommentarySpider, settings)
    items = []

    def kill_worker_once(item):
        items.append(item)
        if len(items) == 1:
            os.kill(crawler.get_extension(ExtractionWorkers).pool.processes[0].pid, signal.SIGKILL)

    crawler.signals.connect(kill_worker_once, signal=signals.item_scraped)
    yield crawler.crawl(start_urls=start_urls(site_server))

    assert sorted((i.url, i.language) for i in items) == sorted(
        (e["url"], e["language"]) for e in EXPECTED["expected_items"]
    )
    stats = crawler.stats.get_stats()
    assert stats["carnegie/extraction/worker_crashes"] == 1
    assert stats["carnegie/extraction/in_process"] >= 1
    assert stats["finish_reason"] == "finished"
    assert any("Extraction worker" in r.getMessage() and "ended unexpectedly" in r.getMessage() for r in caplog.records)


@pytest_twisted.inlineCallbacks
def test_a_dataset_setting_found_unusable_at_the_end_is_exit_5_not_silence(site_server, tmp_path):
    """The crawl commands refuse it at start-up; a run started otherwise (scrapyd, a script) said nothing."""
    settings = crawl_settings(tmp_path, CARNEGIE_DATASET=str(tmp_path / "ds-%(run_id)s"))
    crawler, items = yield run_crawl(settings, start_urls=start_urls(site_server))
    assert items
    owner = owner_of(crawler)
    assert owner is not None
    assert owner.exit_code == 5
    assert "the dataset is behind" in (owner.summary or "")
