"""Re-extraction when no worker process can be had (fork fails: EAGAIN under a process limit, ENOMEM under the
memory pressure that brings the OOM killer), at the start or when a dead worker is replaced: one warning, and
every page is extracted in the run's own process. A batch whose extraction itself fails still fails its pages."""

from __future__ import annotations

import errno
import logging
import os
import signal as signal_module
from concurrent.futures import Future
from multiprocessing import forkserver
from typing import Any

import pytest_twisted
from scrapy.utils.defer import deferred_from_coro

from carnegie_crawler.archive import batches as batches_module
from carnegie_crawler.archive import extract as extract_module
from carnegie_crawler.archive.batches import Batches
from carnegie_crawler.archive.extract import BatchPool, Failed, Skipped
from carnegie_crawler.archive.reader import read_response
from carnegie_crawler.extraction import extract_with_report
from carnegie_crawler.run.owner import owner_of
from carnegie_crawler.spiders import reextract as reextract_module
from tests.components.test_reextract_spider import (  # noqa: F401 - archive_dir is a fixture
    archive_dir,
    fixture_response,
    fixture_url,
    reextract,
    settings_for,
)
from tests.helpers import fixture_cases

NOT_STARTED = "Could not start re-extraction workers"
CRASHED = "Re-extraction worker ended unexpectedly"


def no_fork(*args: Any, **kwargs: Any) -> Any:
    raise OSError(errno.EAGAIN, "Resource temporarily unavailable")


def warnings(caplog: Any, text: str) -> int:
    return sum(text in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def expected() -> dict[tuple[str, str | None], str]:
    return {
        (fixture_url(n), item.language): item.content_hash
        for n in fixture_cases()
        for item in [extract_with_report(fixture_response(n))[0]]
    }


def pages(archive_dir: Any) -> list[Any]:  # noqa: F811
    [path] = archive_dir.iterdir()
    return [e for e in reextract_module.choose([path]).entries if e.url.endswith("lang=en") and e.status == 200][:4]


def hashes_of(entries: list[Any]) -> list[str]:
    return [extract_with_report(r)[0].content_hash for r in map(read_response, entries)]


def assert_every_page_in_the_output(crawler: Any, items: list[Any], dropped: list[Any]) -> None:
    stats = crawler.stats.get_stats()
    owner = owner_of(crawler)
    assert stats.get("carnegie/reextract/failed", 0) == 0
    assert stats["carnegie/reextract/pages"] == len(fixture_cases()), "no page lost or doubled"
    assert {(i.fetched_url, i.language): i.content_hash for i in items + dropped} == expected()
    assert owner.exit_code == 0, owner.summary


@pytest_twisted.inlineCallbacks
def test_no_process_to_be_had_at_the_start_extracts_every_page_here(tmp_path, archive_dir, monkeypatch, caplog):  # noqa: F811
    monkeypatch.setattr(forkserver, "connect_to_new_process", no_fork)
    with caplog.at_level(logging.WARNING):
        crawler, items, dropped = yield reextract(settings_for(tmp_path, archive_dir), workers="2")
    assert_every_page_in_the_output(crawler, items, dropped)
    assert warnings(caplog, NOT_STARTED) == 1
    stats = crawler.stats.get_stats()
    assert stats["carnegie/extraction/in_workers"] == 0
    assert stats["carnegie/extraction/in_process"] == len(fixture_cases())


@pytest_twisted.inlineCallbacks
def test_a_pool_that_starts_one_worker_of_two_is_not_used(archive_dir, monkeypatch, caplog):  # noqa: F811
    """The first fork works, the second does not (or a later one, if the first worker was idle by then)."""
    real = forkserver.connect_to_new_process
    forks: list[int] = []

    def one_fork(*args: Any, **kwargs: Any) -> Any:
        forks.append(1)
        return real(*args, **kwargs) if len(forks) == 1 else no_fork()

    monkeypatch.setattr(forkserver, "connect_to_new_process", one_fork)
    entries = pages(archive_dir)
    pool = BatchPool(2)
    try:
        with caplog.at_level(logging.WARNING):
            pool.start()
            outcomes = yield deferred_from_coro(pool.extract(entries))
            again = yield deferred_from_coro(pool.extract(entries))
        assert [o.item.content_hash for o in outcomes + again] == hashes_of(entries) * 2
        assert pool.executor is None
        assert warnings(caplog, NOT_STARTED) == 1
    finally:
        yield deferred_from_coro(pool.close())


@pytest_twisted.inlineCallbacks
def test_a_worker_killed_when_no_new_one_can_be_started_costs_no_page(archive_dir, monkeypatch, caplog):  # noqa: F811
    entries = pages(archive_dir)
    pool = BatchPool(2)
    pool.start()
    try:
        yield deferred_from_coro(pool.extract(entries))  # the workers are up
        for process in list(pool.executor._processes.values()):
            os.kill(process.pid, signal_module.SIGKILL)  # the OOM killer...
        monkeypatch.setattr(forkserver, "connect_to_new_process", no_fork)  # ...and no fork to be had

        async def run() -> list[Any]:
            got = []
            async for _batch, outcomes in Batches(pool, size=2).outcomes([entries[:2], entries[2:], entries]):
                got += outcomes
            return got

        with caplog.at_level(logging.WARNING):
            outcomes = yield deferred_from_coro(run())
        assert [o.item.content_hash for o in outcomes] == hashes_of(entries) * 2
        assert (pool.crashes, pool.executor) == (1, None)
        assert warnings(caplog, CRASHED) == 1
        assert warnings(caplog, NOT_STARTED) == 1
    finally:
        yield deferred_from_coro(pool.close())


@pytest_twisted.inlineCallbacks
def test_a_run_whose_workers_die_and_cannot_be_replaced_still_gives_every_page(
    tmp_path,
    archive_dir,  # noqa: F811
    monkeypatch,
    caplog,
):
    monkeypatch.setattr(batches_module, "BATCH_SIZE", 4)
    real = BatchPool.extract
    calls: list[int] = []

    async def extract(self: BatchPool, entries: Any) -> Any:
        calls.append(len(entries))
        if len(calls) == 3 and self.executor is not None:  # mid-run: the OOM killer takes the workers...
            for process in list(self.executor._processes.values()):
                os.kill(process.pid, signal_module.SIGKILL)
            monkeypatch.setattr(forkserver, "connect_to_new_process", no_fork)  # ...and memory is short
        return await real(self, entries)

    monkeypatch.setattr(BatchPool, "extract", extract)
    with caplog.at_level(logging.WARNING):
        crawler, items, dropped = yield reextract(settings_for(tmp_path, archive_dir), workers="2")
    assert len(calls) > 3, "the workers died mid-run"
    assert_every_page_in_the_output(crawler, items, dropped)
    assert crawler.stats.get_value("carnegie/extraction/worker_crashes") == 1
    assert warnings(caplog, NOT_STARTED) == 1


class FakeExecutor:
    """A started pool whose `submit` raises (no process for the worker it would add) or gives *result*."""

    def __init__(self, result: Future | None = None) -> None:
        self.result = result
        self.submitted = 0
        self.shut_down = False

    def submit(self, fn: Any, *args: Any) -> Future:
        self.submitted += 1
        if self.result is None:
            no_fork()
        assert self.result is not None
        return self.result

    def shutdown(self, wait: bool = True, **kwargs: Any) -> None:
        self.shut_down = True


def pool_with(executor: FakeExecutor, monkeypatch: Any) -> tuple[BatchPool, list[int]]:
    here: list[int] = []

    def extract_batch(entries: list[Any]) -> list[Any]:
        here.append(len(entries))
        return [Skipped("here")] * len(entries)

    monkeypatch.setattr(extract_module, "extract_batch", extract_batch)
    pool = BatchPool(2)
    pool.executor = executor  # type: ignore[assignment]
    pool._executors.append(executor)  # type: ignore[arg-type]
    return pool, here


@pytest_twisted.inlineCallbacks
def test_a_batch_the_pool_cannot_take_is_extracted_here(archive_dir, monkeypatch, caplog):  # noqa: F811
    entries = pages(archive_dir)
    executor = FakeExecutor()
    pool, here = pool_with(executor, monkeypatch)
    with caplog.at_level(logging.WARNING):
        first = yield deferred_from_coro(pool.extract(entries))
        later = yield deferred_from_coro(pool.extract(entries[:1]))
    assert first == [Skipped("here")] * len(entries)
    assert later == [Skipped("here")]
    assert here == [len(entries), 1]
    assert (executor.submitted, executor.shut_down, pool.executor) == (1, True, None)
    assert warnings(caplog, NOT_STARTED) == 1
    assert pool.crashes == 0, "no worker died"


@pytest_twisted.inlineCallbacks
def test_a_batch_whose_extraction_fails_in_a_worker_fails_its_pages_once(archive_dir, monkeypatch):  # noqa: F811
    entries = pages(archive_dir)
    failed: Future = Future()
    failed.set_exception(OSError(errno.EIO, "Input/output error"))
    executor = FakeExecutor(failed)
    pool, here = pool_with(executor, monkeypatch)

    async def run() -> list[Any]:
        return [
            o async for _batch, outcomes in Batches(pool, size=2).outcomes([entries[:2], entries[2:]]) for o in outcomes
        ]

    outcomes = yield deferred_from_coro(run())
    assert outcomes == [Failed("OSError: [Errno 5] Input/output error")] * len(entries)
    assert here == [], "not extracted again here"
    assert (executor.submitted, executor.shut_down, pool.executor) == (2, False, executor)
