"""The extraction workers: a process pool on the crawl's asyncio loop, and what a dead worker costs (nothing)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict

import pytest
import pytest_twisted
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.test import get_crawler

from carnegie_crawler.extensions.workers import ExtractionWorkers
from carnegie_crawler.extraction import extract_with_report
from carnegie_crawler.process_pool import MAX_CRASHES, WorkerPool, extract_page
from carnegie_crawler.spiders.commentary import CommentarySpider
from tests.helpers import PAGES, fixture_cases, load_expected, project_settings

VOLATILE = {"crawled_at"}
CRASHED = "Extraction worker ended unexpectedly"


def response_for(name: str, content_type: str | None = "text/html") -> HtmlResponse:
    url = load_expected(name)["fetched_url"]
    headers = {"Content-Type": content_type} if content_type else None
    return HtmlResponse(url=url, body=(PAGES / f"{name}.html").read_bytes(), headers=headers)


def comparable(item) -> dict:
    return {k: v for k, v in asdict(item).items() if k not in VOLATILE}


def assert_like_in_process(response: HtmlResponse, result) -> None:
    item, wrong_typed = result
    want, want_wrong = extract_with_report(response)
    assert comparable(item) == comparable(want), response.url
    assert wrong_typed == want_wrong


def with_wrong_types() -> HtmlResponse:
    """A reconstructed page whose metadata block gives `authors` as one string, `topics` as an object."""
    html = (PAGES / "commentary_three_authors_notes.html").read_text(encoding="utf-8")
    match = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.DOTALL)
    assert match is not None
    block = json.loads(match[1]) | {"authors": "A, B", "topics": {"x": 1}}
    html = html[: match.start(1)] + json.dumps(block) + html[match.end(1) :]
    return HtmlResponse(url=load_expected("commentary_three_authors_notes")["fetched_url"], body=html.encode())


def run(coro):
    """A Deferred for *coro*, run on the reactor's own asyncio loop (the crawl's loop)."""
    return deferred_from_coro(coro)


async def in_a_worker(pool: WorkerPool, fn, *args):
    """Run *fn* in one of the pool's workers (a test's way to reach into one)."""
    assert pool.executor is not None
    return await asyncio.get_running_loop().run_in_executor(pool.executor, fn, *args)


def crash_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and CRASHED in r.getMessage()]


def test_the_worker_entry_decodes_the_page_as_the_crawl_did():
    """The worker gets URL, body and encoding only; with or without a declared charset, the same item."""
    for name in fixture_cases():
        for content_type in ("text/html", None, "text/html; charset=iso-8859-1"):
            response = response_for(name, content_type)
            item, wrong_typed, _ = extract_page(response.url, response.body, response.encoding)
            assert_like_in_process(response, (item, wrong_typed))


@pytest_twisted.inlineCallbacks
def test_the_pool_extracts_like_this_process_and_stops_with_it():
    async def scenario():
        pool = WorkerPool(2)
        pool.start()
        processes = pool.processes
        names = fixture_cases()
        results = await asyncio.gather(*(pool.extract(response_for(n)) for n in names))
        await pool.close()
        return pool, names, results, processes

    pool, names, results, processes = yield run(scenario())
    for name, result in zip(names, results, strict=True):
        assert_like_in_process(response_for(name), result)
    assert (pool.in_workers, pool.in_process, pool.crashes) == (len(names), 0, 0)
    assert len(processes) == 2, "both workers start with the pool"
    assert all(p.pid != os.getpid() for p in processes)
    assert all(p.exitcode == 0 for p in processes), "the workers stopped with the pool"
    assert pool.executor is None
    assert pool.processes == []


@pytest_twisted.inlineCallbacks
def test_what_extraction_logs_in_a_worker_is_logged_in_the_crawl(caplog):
    async def scenario():
        pool = WorkerPool(1)
        pool.start()
        with caplog.at_level(logging.INFO, logger="carnegie_crawler.extraction"):
            result = await pool.extract(with_wrong_types())
        await pool.close()
        return pool, result

    pool, (item, wrong_typed) = yield run(scenario())
    assert pool.in_workers == 1
    assert wrong_typed == ["authors", "topics"]
    records = [r for r in caplog.records if r.name == "carnegie_crawler.extraction"]
    assert [r.levelno for r in records] == [logging.WARNING]
    assert "wrong-typed field(s) authors, topics" in records[0].getMessage()
    assert item.url in records[0].getMessage() or item.fetched_url in records[0].getMessage()


@pytest_twisted.inlineCallbacks
def test_an_extraction_error_in_a_worker_fails_that_page_only():
    bad = HtmlResponse(url="http://[broken/x", body=b"<html><body><h1>x</h1><a href='/a'>y</a></body></html>")
    with pytest.raises(ValueError, match="Invalid IPv6 URL"):
        extract_with_report(bad)  # as in this process

    async def scenario():
        pool = WorkerPool(1)
        pool.start()
        good = response_for(fixture_cases()[0])
        results = await asyncio.gather(pool.extract(bad), pool.extract(good), return_exceptions=True)
        await pool.close()
        return pool, good, results

    pool, good, (error, result) = yield run(scenario())
    assert isinstance(error, ValueError)
    assert "Invalid IPv6 URL" in str(error)
    assert_like_in_process(good, result)
    assert pool.crashes == 0, "an error is the page's, not a crash"
    assert pool.in_process == 0


@pytest_twisted.inlineCallbacks
def test_a_worker_killed_mid_task_loses_no_page(caplog):
    async def scenario():
        pool = WorkerPool(1)
        pool.start()
        pid = await in_a_worker(pool, os.getpid)
        busy = asyncio.ensure_future(in_a_worker(pool, time.sleep, 30))  # the worker is busy with this...
        names = fixture_cases()
        pending = [asyncio.ensure_future(pool.extract(response_for(n))) for n in names]
        await asyncio.sleep(0.2)  # ...and every page waits behind it
        assert not any(t.done() for t in pending)
        os.kill(pid, signal.SIGKILL)
        results = await asyncio.gather(*pending)
        with pytest.raises(BrokenProcessPool):
            await busy
        counts = (pool.crashes, pool.in_process, pool.in_workers)
        later = await pool.extract(response_for(names[0]))  # a new pool takes the next page
        await pool.close()
        return pool, names, results, counts, later

    pool, names, results, counts, later = yield run(scenario())
    for name, result in zip(names, results, strict=True):
        assert_like_in_process(response_for(name), result)
    assert counts == (1, len(names), 0), "every page it held was extracted in this process"
    assert_like_in_process(response_for(names[0]), later)
    assert (pool.crashes, pool.in_workers) == (1, 1)
    assert len(crash_warnings(caplog)) == 1, "one warning, however many pages the worker held"
    assert "new workers take the next ones" in crash_warnings(caplog)[0]


@pytest_twisted.inlineCallbacks
def test_a_worker_that_exits_between_pages_costs_no_page(caplog):
    async def scenario():
        pool = WorkerPool(1)
        pool.start()
        with pytest.raises(BrokenProcessPool):
            await in_a_worker(pool, os._exit, 3)  # a worker's own sudden end (as a segfault would be)
        first = await pool.extract(response_for(fixture_cases()[0]))  # finds the pool broken
        counts = (pool.crashes, pool.in_process, pool.in_workers)
        second = await pool.extract(response_for(fixture_cases()[1]))
        await pool.close()
        return pool, first, counts, second

    pool, first, counts, second = yield run(scenario())
    assert_like_in_process(response_for(fixture_cases()[0]), first)
    assert_like_in_process(response_for(fixture_cases()[1]), second)
    assert counts == (1, 1, 0)
    assert (pool.in_process, pool.in_workers) == (1, 1), "the next page went to the new pool"
    assert len(crash_warnings(caplog)) == 1


@pytest_twisted.inlineCallbacks
def test_a_worker_that_cannot_be_forked_costs_no_page(caplog, monkeypatch):
    """Submitting forks a worker while none is idle; under a process or memory limit that fails."""

    def no_fork(*args, **kwargs):
        raise OSError(11, "Resource temporarily unavailable")

    async def scenario():
        pool = WorkerPool(1)
        pool.start()
        assert pool.executor is not None
        monkeypatch.setattr(pool.executor, "submit", no_fork)
        first = await pool.extract(response_for(fixture_cases()[0]))
        second = await pool.extract(response_for(fixture_cases()[1]))
        await pool.close()
        return pool, first, second

    pool, first, second = yield run(scenario())
    assert_like_in_process(response_for(fixture_cases()[0]), first)
    assert_like_in_process(response_for(fixture_cases()[1]), second)
    assert pool.executor is None
    assert (pool.in_process, pool.in_workers) == (2, 0)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [m for m in warned if "Could not start an extraction worker" in m] == warned
    assert len(warned) == 1


@pytest_twisted.inlineCallbacks
def test_after_max_crashes_every_page_is_extracted_in_this_process(caplog):
    async def scenario():
        pool = WorkerPool(1)
        pool.start()
        for _ in range(MAX_CRASHES):
            with pytest.raises(BrokenProcessPool):
                await in_a_worker(pool, os._exit, 3)
            await pool.extract(response_for(fixture_cases()[0]))
        later = await pool.extract(response_for(fixture_cases()[1]))
        await pool.close()
        return pool, later

    pool, later = yield run(scenario())
    assert_like_in_process(response_for(fixture_cases()[1]), later)
    assert pool.executor is None
    assert (pool.crashes, pool.in_process, pool.in_workers) == (MAX_CRASHES, MAX_CRASHES + 1, 0)
    warnings = crash_warnings(caplog)
    assert len(warnings) == MAX_CRASHES
    assert "so is every later page" in warnings[-1]


@pytest_twisted.inlineCallbacks
def test_closing_waits_for_the_pages_in_the_workers():
    async def scenario():
        pool = WorkerPool(1)
        pool.start()
        names = fixture_cases()[:6]
        pending = [asyncio.ensure_future(pool.extract(response_for(n))) for n in names]
        await asyncio.sleep(0)  # submitted
        processes = pool.processes
        await pool.close()
        return pool, names, await asyncio.gather(*pending), processes

    pool, names, results, processes = yield run(scenario())
    for name, result in zip(names, results, strict=True):
        assert_like_in_process(response_for(name), result)
    assert (pool.in_workers, pool.crashes) == (len(names), 0)
    assert all(p.exitcode == 0 for p in processes)


@pytest_twisted.inlineCallbacks
def test_a_closed_pool_extracts_in_this_process():
    async def scenario():
        pool = WorkerPool(1)
        await pool.close()
        pool.start()  # too late: no new workers
        return pool, await pool.extract(response_for(fixture_cases()[0]))

    pool, result = yield run(scenario())
    assert_like_in_process(response_for(fixture_cases()[0]), result)
    assert (pool.executor, pool.in_process) == (None, 1)


KILLED_CRAWL = """
import asyncio, os, signal
from carnegie_crawler.process_pool import WorkerPool

async def main():
    pool = WorkerPool(2)
    pool.start()
    await asyncio.get_running_loop().run_in_executor(pool.executor, os.getpid)
    print(*(p.pid for p in pool.processes), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


def test_workers_end_with_a_crawl_that_is_killed():
    """SIGKILL (or the OOM killer) gives the crawl no chance to stop its workers: they stop themselves."""
    with subprocess.Popen([sys.executable, "-c", KILLED_CRAWL], stdout=subprocess.PIPE, text=True) as crawl:
        assert crawl.stdout is not None
        pids = [int(pid) for pid in crawl.stdout.readline().split()]
        assert len(pids) == 2
        # The workers share the crawl's stdout: it reaches its end once they have all exited.
        out, _ = crawl.communicate(timeout=30)
    assert crawl.returncode == -signal.SIGKILL
    assert out == ""


# -- the extension and the spider ------------------------------------------------------


# Crawlers without the project's other extensions: the run owner would open output files.


def test_no_workers_is_not_configured_and_that_is_the_default():
    assert project_settings()["CARNEGIE_EXTRACT_WORKERS"] == 0
    for size in (0, -1):
        crawler = get_crawler(CommentarySpider, {"CARNEGIE_EXTRACT_WORKERS": size})
        with pytest.raises(NotConfigured):
            ExtractionWorkers.from_crawler(crawler)


@pytest_twisted.inlineCallbacks
def test_the_spider_counts_wrong_typed_fields_from_a_worker_and_from_this_process():
    crawler = get_crawler(CommentarySpider, {"CARNEGIE_EXTRACT_WORKERS": 1})
    crawler.stats.open_spider()
    workers = ExtractionWorkers.from_crawler(crawler)
    spider = CommentarySpider.from_crawler(crawler, start_urls="https://carnegieendowment.org/")
    in_process = CommentarySpider.from_crawler(crawler, start_urls="https://carnegieendowment.org/")
    spider.__dict__["workers"] = workers  # what crawler.get_extension finds in a crawl
    in_process.__dict__["workers"] = None

    async def scenario():
        workers.spider_opened()
        items = [await spider.extract(with_wrong_types()), await in_process.extract(with_wrong_types())]
        await workers.spider_closed()
        return items

    from_worker, from_here = yield run(scenario())
    assert comparable(from_worker) == comparable(from_here)
    stats = crawler.stats.get_stats()
    assert stats["carnegie/extraction/wrong_typed/authors"] == 2
    assert stats["carnegie/extraction/wrong_typed/topics"] == 2
    assert (stats["carnegie/extraction/in_workers"], stats["carnegie/extraction/in_process"]) == (1, 0)
    assert "carnegie/extraction/worker_crashes" not in stats
