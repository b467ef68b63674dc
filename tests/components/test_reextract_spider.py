"""The `reextract` spider over a hand-made archive: the crawl's items, from a process pool or in process,
failures counted, a changed extractor seen as `updated`, and never a request."""

from __future__ import annotations

import json
import logging
import os
import signal as signal_module
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from scrapy import Request, signals
from scrapy.http import HtmlResponse
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.test import get_crawler

from carnegie_crawler.archive import batches as batches_module
from carnegie_crawler.archive import extract as extract_module
from carnegie_crawler.archive.reader import read_response
from carnegie_crawler.extraction import extract_with_report
from carnegie_crawler.extraction import page as page_module
from carnegie_crawler.run.owner import owner_of
from carnegie_crawler.spiders import reextract as reextract_module
from carnegie_crawler.spiders.reextract import ReextractSpider
from tests.helpers import PAGES, fixture_cases, load_expected, project_settings
from tests.unit.test_archive_warc import exchange, write_archive

HTML_TYPE = {"Content-Type": "text/html; charset=utf-8"}


def fixture_url(name: str) -> str:
    return load_expected(name)["fetched_url"].split("#", 1)[0]


def fixture_response(name: str) -> HtmlResponse:
    """The page as the crawl's downloader would have handed it over."""
    url = fixture_url(name)
    return HtmlResponse(url=url, body=(PAGES / f"{name}.html").read_bytes(), headers=HTML_TYPE, request=Request(url))


@pytest.fixture
def archive_dir(tmp_path) -> Path:
    """One run's archive: every saved page, plus what a crawl also meets (robots.txt, a redirect, a 404, a PDF,
    a 503 retried)."""
    directory = tmp_path / "archive"
    pages = [(Request(fixture_url(n)), fixture_response(n)) for n in fixture_cases()]
    others = [
        exchange("https://carnegieendowment.org/robots.txt", b"User-agent: *\n", 200, {"Content-Type": "text/plain"}),
        exchange("https://carnegieendowment.org/2019/10/21/old-pub-80123", b"", 301, {"Location": "/posts/x"}),
        exchange("https://carnegieendowment.org/posts/2022/11/gone?lang=en", b"<h1>Not found</h1>", 404),
        exchange(
            "https://carnegieendowment.org/files/report.pdf", b"%PDF-1.4", 200, {"Content-Type": "application/pdf"}
        ),
    ]
    retried = fixture_url("commentary_three_authors_notes")
    busy = exchange(retried, b"busy", 503, {"Content-Type": "text/plain"})
    write_archive(directory / "commentary-2026-01-01T00-00-00-abcdef.warc.gz", [*others[:2], busy, *pages, *others[2:]])
    return directory


def settings_for(tmp_path: Path, archive_dir: Path, **overrides: Any) -> dict[str, Any]:
    return project_settings(
        CARNEGIE_ARCHIVE=str(archive_dir),
        CARNEGIE_OUTPUT=str(tmp_path / "out" / "%(run_id)s.jsonl"),
        CARNEGIE_REJECTS=str(tmp_path / "out" / "rejects-%(run_id)s.jsonl"),
        CARNEGIE_STATE=str(tmp_path / "state.sqlite3"),
        CARNEGIE_DATASET="",
        CARNEGIE_COVERAGE_MIN_ITEMS=10_000,  # a handful of odd saved pages says nothing about coverage
        LOG_LEVEL="INFO",
        **overrides,
    )


@pytest_twisted.inlineCallbacks
def reextract(settings: dict[str, Any], **spider_args: Any):
    crawler = get_crawler(ReextractSpider, settings)
    items: list[Any] = []
    dropped: list[Any] = []

    crawler.passed = []  # fetched_url of every item, in the order it left the pipelines

    def collect(item: Any) -> None:
        items.append(item)
        crawler.passed.append(item.fetched_url)

    def drop(item: Any) -> None:
        dropped.append(item)
        crawler.passed.append(item.fetched_url)

    # Scrapy holds signal receivers weakly: keep them referenced until the run ends.
    crawler.signals.connect(collect, signal=signals.item_scraped)
    crawler.signals.connect(drop, signal=signals.item_dropped)
    yield crawler.crawl(**spider_args)
    return crawler, items, dropped


def hashes(items: list[Any]) -> dict[tuple[str, str | None], str]:
    return {(i.fetched_url, i.language): i.content_hash for i in items}


@pytest_twisted.inlineCallbacks
def test_a_process_pool_and_this_process_give_the_items_the_crawl_gave(tmp_path, archive_dir, monkeypatch):
    monkeypatch.setattr(batches_module, "BATCH_SIZE", 4)  # several batches in flight at once
    expected = {
        (fixture_url(n), item.language): item.content_hash
        for n in fixture_cases()
        for item in [extract_with_report(fixture_response(n))[0]]
    }
    results = {}
    for workers in (1, 2):
        settings = settings_for(tmp_path / f"w{workers}", archive_dir)
        crawler, items, dropped = yield reextract(settings, workers=str(workers))
        stats = crawler.stats.get_stats()
        results[workers] = hashes(items + dropped)
        assert results[workers] == expected
        assert stats["carnegie/reextract/pages"] == len(fixture_cases())
        assert stats.get("carnegie/reextract/failed", 0) == 0
        assert stats["carnegie/reextract/skipped/not_ok"] == 2, "the redirect and the 404"
        assert stats["carnegie/reextract/skipped/not_publication"] == 2, "robots.txt and the PDF"
        assert stats["carnegie/reextract/responses"] == len(fixture_cases()) + 5
        key = "carnegie/extraction/in_workers" if workers > 1 else "carnegie/extraction/in_process"
        assert stats[key] == len(fixture_cases())
        if workers > 1:
            assert stats["carnegie/reextract/worker_cpu_seconds"] > 0
        assert "downloader/request_count" not in stats, "no request, not even robots.txt"
        owner = owner_of(crawler)
        assert owner is not None
        assert owner.exit_code == 0, owner.summary
        assert {i.run_id for i in items} == {owner.run_id}
        assert {i.crawl_status for i in items} == {"new"}
        manifest = json.loads(owner.manifest_path.read_text())
        assert manifest["spider"] == "reextract"
        assert manifest["counts"]["requests"] == 0
    assert results[1] == results[2]


@pytest_twisted.inlineCallbacks
def test_items_come_out_in_the_archives_order(tmp_path, archive_dir):
    """Whatever worker finishes first: so a duplicate is dropped as the crawl dropped it."""
    crawler, _items, dropped = yield reextract(settings_for(tmp_path, archive_dir), workers="2")
    order = [fixture_url(n) for n in fixture_cases()]
    assert crawler.passed == order
    assert len(dropped) == 1
    assert dropped[0].fetched_url == fixture_url("multipath_qa_russia_eurasia_prefix")


@pytest_twisted.inlineCallbacks
def test_a_page_that_fails_extraction_is_counted_and_logged_never_fatal(tmp_path, archive_dir, monkeypatch, caplog):
    broken = fixture_url("commentary_single_author_europe")
    real = extract_module.extract_page

    def failing(url, body, encoding):
        if url == broken:
            raise RuntimeError("the extractor tripped")
        return real(url, body, encoding)

    monkeypatch.setattr(extract_module, "extract_page", failing)
    with caplog.at_level(logging.WARNING):
        crawler, items, dropped = yield reextract(settings_for(tmp_path, archive_dir), workers="1")
    stats = crawler.stats.get_stats()
    assert stats["carnegie/reextract/failed"] == 1
    assert stats["carnegie/reextract/pages"] == len(fixture_cases()) - 1
    assert broken not in {i.fetched_url for i in items + dropped}
    lines = [r.getMessage() for r in caplog.records if "Re-extraction of" in r.getMessage()]
    assert len(lines) == 1
    assert broken in lines[0]
    assert "RuntimeError: the extractor tripped" in lines[0]
    assert stats["finish_reason"] == "finished"
    assert owner_of(crawler).exit_code == 0


@pytest_twisted.inlineCallbacks
def test_a_changed_extractor_gives_updated_items(tmp_path, archive_dir, monkeypatch):
    settings = settings_for(tmp_path, archive_dir)
    _, first, _ = yield reextract(settings, workers="1")
    _, again, _ = yield reextract(settings, workers="1")
    assert {i.crawl_status for i in first} == {"new"}
    assert {i.crawl_status for i in again} == {"unchanged"}, "the same extractor, the same items"

    body = page_module._body
    monkeypatch.setattr(page_module, "_body", lambda page, subtitle: (body(page, subtitle) or "") + "\n\n(v2)")
    crawler, changed, _ = yield reextract(settings, workers="1")  # in process: the patch applies
    assert {i.crawl_status for i in changed} == {"updated"}
    assert all(i.body.endswith("(v2)") for i in changed)
    before, after = hashes(first), hashes(changed)
    assert before.keys() == after.keys()
    assert all(before[k] != after[k] for k in before)
    assert crawler.stats.get_value("carnegie/items/updated") == len(changed)


@pytest_twisted.inlineCallbacks
def test_items_name_the_archive_record_their_page_came_from(tmp_path, archive_dir, monkeypatch):
    monkeypatch.setattr(reextract_module, "_HAS_ARCHIVE_FIELD", True)  # the lead's `archive` item field
    _, items, dropped = yield reextract(settings_for(tmp_path, archive_dir), workers="1")
    [path] = archive_dir.iterdir()
    records = {entry.url: entry.record_id for entry in reextract_module.choose([path]).entries}
    for item in items + dropped:
        assert item.archive == {"file": path.name, "record_id": records[item.fetched_url]}


@pytest_twisted.inlineCallbacks
def test_a_date_range_with_nothing_archived_is_a_healthy_empty_run(tmp_path, archive_dir):
    crawler, items, _ = yield reextract(settings_for(tmp_path, archive_dir), since="2999-01-01")
    assert items == []
    owner = owner_of(crawler)
    assert owner.exit_code == 0, owner.summary
    assert crawler.stats.get_value("carnegie/reextract/chosen") == 0


@pytest_twisted.inlineCallbacks
def test_an_older_archive_or_date_range_never_takes_a_page_back(tmp_path, archive_dir, caplog, monkeypatch):
    """A URL whose newest response is outside the selection (a newer archive) is left out, counted and said:
    its older response would take the state and the dataset back. The other URLs are re-extracted."""
    [older] = archive_dir.iterdir()
    edited, removed = fixture_url("commentary_single_author_europe"), fixture_url("press_release_no_author")
    between = datetime.now(UTC)
    body = (PAGES / "commentary_single_author_europe.html").read_bytes().replace(b"</body>", b"<p>Edited</p></body>")
    newer = archive_dir / "commentary-2026-02-01T00-00-00-abcdef.warc.gz"
    write_archive(newer, [exchange(edited, body, 200, HTML_TYPE), exchange(removed, b"<h1>Gone</h1>", 410)])
    for name, selected in (("named", {"archives": older.name}), ("range", {"until": between.isoformat()})):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            crawler, items, dropped = yield reextract(
                settings_for(tmp_path / name, archive_dir), workers="1", **selected
            )
        urls = {i.fetched_url for i in items + dropped}
        assert edited not in urls, name
        assert removed not in urls, name
        assert len(urls) == len(fixture_cases()) - 2, name
        assert crawler.stats.get_value("carnegie/reextract/superseded") == 2, name
        [line] = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
        assert line.startswith("2 URL(s) left out"), line
        assert owner_of(crawler).exit_code == 0, name
    monkeypatch.setattr(reextract_module, "_HAS_ARCHIVE_FIELD", True)
    crawler, items, dropped = yield reextract(settings_for(tmp_path / "every", archive_dir), workers="1")
    by_url = {i.fetched_url: i for i in items + dropped}
    assert removed not in by_url, "the 410 is the page's newest answer"
    assert by_url[edited].archive["file"] == newer.name
    assert len(by_url) == len(fixture_cases()) - 1
    assert crawler.stats.get_value("carnegie/reextract/superseded") is None


@pytest_twisted.inlineCallbacks
def test_a_torn_part_file_is_read_up_to_its_torn_tail(tmp_path, archive_dir):
    [published] = archive_dir.iterdir()
    part = archive_dir / "commentary-crashed.warc.gz.0a1b2c.part"
    last_page = max(
        (e for e in reextract_module.choose([published]).entries if e.url == fixture_url(fixture_cases()[-1])),
        key=lambda e: e.offset,
    )
    part.write_bytes(published.read_bytes()[: last_page.offset + 200])  # a crash while writing the last page
    crawler, _items, _dropped = yield reextract(settings_for(tmp_path, archive_dir), archives=str(part), workers="1")
    stats = crawler.stats.get_stats()
    assert stats["carnegie/reextract/torn_archives"] == 1
    assert stats["carnegie/reextract/pages"] == len(fixture_cases()) - 1, "the last page was cut off"
    assert owner_of(crawler).exit_code == 0


@pytest_twisted.inlineCallbacks
def test_a_damaged_archive_gives_the_pages_before_the_damage_and_says_so(tmp_path, archive_dir, caplog):
    [published] = archive_dir.iterdir()
    whole = [e.url for e in reextract_module.choose([published]).entries if e.status == 200]
    published.write_bytes(published.read_bytes()[:-100])  # the last record cut short
    readable = [e.url for e in reextract_module.choose([published]).entries if e.status == 200]
    assert 0 < len(readable) < len(whole)
    with caplog.at_level(logging.ERROR):
        crawler, items, _ = yield reextract(settings_for(tmp_path, archive_dir), workers="1")
    assert items
    assert {item.fetched_url for item in items} <= set(readable)
    assert crawler.stats.get_value("carnegie/reextract/torn_archives") == 1
    assert any("is damaged" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    assert owner_of(crawler).exit_code == 0


@pytest_twisted.inlineCallbacks
def test_a_worker_that_dies_costs_no_page(tmp_path, archive_dir, caplog):
    """The batch a dead worker held is extracted in this process, with one warning; new workers take the next."""
    [path] = archive_dir.iterdir()
    entries = [e for e in reextract_module.choose([path]).entries if e.url.endswith("lang=en") and e.status == 200][:4]
    pool = extract_module.BatchPool(2)
    pool.start()
    try:
        yield deferred_from_coro(pool.extract(entries))  # the workers are up
        first = pool.executor
        for process in list(first._processes.values()):
            os.kill(process.pid, signal_module.SIGKILL)
        with caplog.at_level(logging.WARNING):
            outcomes = yield deferred_from_coro(pool.extract(entries))
        assert [o.item.content_hash for o in outcomes] == [
            extract_with_report(r)[0].content_hash for r in map(read_response, entries)
        ]
        assert pool.crashes == 1
        assert pool.in_process == len(entries)
        assert pool.executor is not None
        assert pool.executor is not first
        assert sum("Re-extraction worker ended unexpectedly" in r.getMessage() for r in caplog.records) == 1
        again = yield deferred_from_coro(pool.extract(entries))
        assert [o.item.content_hash for o in again] == [o.item.content_hash for o in outcomes]
        assert pool.in_workers == 2 * len(entries)
    finally:
        yield deferred_from_coro(pool.close())


@pytest_twisted.inlineCallbacks
def test_a_run_that_fetches_nothing_loads_nothing_to_fetch_with(tmp_path, archive_dir):
    """Scrapy's handlers, downloader and spider middlewares and network consoles are left out: not one of
    them is imported (the point: a faster start), and without a handler no request could be made."""
    crawler, items, _ = yield reextract(settings_for(tmp_path, archive_dir), workers="1")
    assert items
    settings = crawler.settings
    assert dict(settings.getwithbase("DOWNLOAD_HANDLERS")) == {}
    for name in ("DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES"):
        enabled = [path for path, order in settings.getwithbase(name).items() if order is not None]
        assert not [path for path in enabled if path.startswith("scrapy.")], name
    extensions = settings.getwithbase("EXTENSIONS")
    assert "scrapy.extensions.remote_control.RemoteControl" not in extensions
    assert "scrapy.extensions.telnet.TelnetConsole" not in extensions
    assert "carnegie_crawler.run.owner.RunOwner" in extensions, "the project's own are kept"


KILLED_RUN = """
import asyncio, os, signal
from carnegie_crawler.archive.extract import BatchPool

async def main():
    pool = BatchPool(2)
    pool.start()
    parent = await asyncio.get_running_loop().run_in_executor(pool.executor, os.getppid)
    print(os.getpid(), parent, *pool.executor._processes, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


def test_the_workers_are_forked_by_a_fork_server_and_end_with_a_run_that_is_killed():
    """SIGKILL (or the OOM killer) gives the run no chance to stop its workers: they, and the fork server they
    were forked from (not the run: a fresh interpreter), stop themselves."""
    with subprocess.Popen([sys.executable, "-c", KILLED_RUN], stdout=subprocess.PIPE, text=True) as run:
        assert run.stdout is not None
        me, parent, *workers = (int(pid) for pid in run.stdout.readline().split())
        assert len(workers) == 2
        assert parent != me, "forked by the fork server"
        # The workers and the server share the run's stdout: it reaches its end once they have all exited.
        out, _ = run.communicate(timeout=30)
    assert run.returncode == -signal_module.SIGKILL
    assert out == ""
