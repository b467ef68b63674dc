"""The extraction workers: framing, the worker loop, errors and crashes, on a plain asyncio loop."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import socket
import threading
from dataclasses import asdict

import pytest
import pytest_twisted
from scrapy.http import HtmlResponse
from scrapy.utils.defer import deferred_from_coro

from carnegie_crawler.extraction import extract_from_response
from carnegie_crawler.workers import _FRAME, _IN_FLIGHT, Page, WorkerError, WorkerPool, _Worker, serve
from tests.helpers import PAGES, fixture_cases, load_expected

VOLATILE = {"crawled_at"}


def response_for(name: str) -> HtmlResponse:
    url = load_expected(name)["fetched_url"]
    return HtmlResponse(url=url, body=(PAGES / f"{name}.html").read_bytes(), headers={"Content-Type": "text/html"})


def same_item(a, b) -> bool:
    return {k: v for k, v in asdict(a).items() if k not in VOLATILE} == {
        k: v for k, v in asdict(b).items() if k not in VOLATILE
    }


class Exploding(HtmlResponse):
    """A response class the worker cannot build: its error must come back as this page's error."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("boom in the worker")


async def ready(pool: WorkerPool) -> None:
    """Wait until the pool's workers have said they are ready (pages before that are extracted here)."""
    for _ in range(600):
        if pool.workers and all(w.ready for w in pool.workers):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the worker did not get ready within 30 s")


async def started_pool() -> WorkerPool:
    pool = WorkerPool(1)
    pool.start()
    await ready(pool)
    return pool


def run(coro):
    """A Deferred for *coro*, run on the reactor's own asyncio loop (the crawl's loop)."""
    return deferred_from_coro(coro)


def test_a_page_survives_the_trip_unchanged():
    response = response_for(fixture_cases()[0])
    page = pickle.loads(pickle.dumps(Page.of(response)))
    assert same_item(page.extract(), extract_from_response(response))


def test_serve_answers_each_page_and_stops_at_end_of_file():
    ours, theirs = socket.socketpair()
    thread = threading.Thread(target=serve, args=(theirs,))
    thread.start()
    names = fixture_cases()[:3]
    with ours, ours.makefile("rb") as replies:
        assert replies.read(_FRAME.size) == _FRAME.pack(0), "first: the empty 'ready' frame"
        for name in names:
            data = pickle.dumps(Page.of(response_for(name)))
            ours.sendall(_FRAME.pack(len(data)) + data)
        for name in names:
            size = _FRAME.unpack(replies.read(_FRAME.size))[0]
            ok, item = pickle.loads(replies.read(size))
            assert ok
            assert same_item(item, extract_from_response(response_for(name)))
        ours.shutdown(socket.SHUT_WR)
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_replies_split_and_merged_across_reads_are_matched_in_order():
    loop = asyncio.new_event_loop()
    worker = _Worker(on_lost=lambda w: None)
    futures = [loop.create_future() for _ in range(3)]
    for i, future in enumerate(futures):
        worker.pending.append((future, Page(HtmlResponse, f"https://carnegieendowment.org/{i}", b"", None)))
    replies = [(True, "first"), (False, "Traceback: second"), (True, "x" * 300_000)]  # the last one outgrows the buffer
    stream = _FRAME.pack(0) + b"".join(_FRAME.pack(len(d)) + d for d in (pickle.dumps(r) for r in replies))
    chunks = [stream[:3], stream[3:50], stream[50:200_000], stream[200_000:]]
    for chunk in chunks:
        buffer = worker.get_buffer(-1)
        buffer[: len(chunk)] = chunk
        del buffer  # asyncio drops its view before the next read
        worker.buffer_updated(len(chunk))
    assert futures[0].result() == "first"
    with pytest.raises(WorkerError, match="second"):
        futures[1].result()
    assert futures[2].result() == "x" * 300_000
    assert worker.ready
    assert worker.filled == 0
    assert not worker.pending
    loop.close()


@pytest_twisted.inlineCallbacks
def test_pool_extracts_in_a_worker_process_like_in_process():
    async def scenario():
        pool = await started_pool()
        names = fixture_cases()
        items = await asyncio.gather(*(pool.extract(response_for(n)) for n in names))
        worker_pid = pool.workers[0].process.pid
        await pool.close()
        return names, items, worker_pid, pool

    names, items, pid, pool = yield run(scenario())
    assert pid != os.getpid()
    for name, item in zip(names, items, strict=True):
        assert same_item(item, extract_from_response(response_for(name))), name
    assert pool.workers[0].process.poll() is not None, "the worker stopped with the pool"
    assert pool.crashes == 0
    assert pool.in_workers == len(names)
    assert pool.in_process == 0


@pytest_twisted.inlineCallbacks
def test_an_error_in_the_worker_fails_that_page_only():
    async def scenario():
        pool = await started_pool()
        good = response_for(fixture_cases()[0])
        bad = Exploding.__new__(Exploding)  # a real instance is never built in this process
        HtmlResponse.__init__(bad, url="https://carnegieendowment.org/x", body=b"<html></html>")
        results = await asyncio.gather(pool.extract(bad), pool.extract(good), return_exceptions=True)
        await pool.close()
        return results

    error, item = yield run(scenario())
    assert isinstance(error, WorkerError)
    assert "boom in the worker" in str(error)
    assert "https://carnegieendowment.org/x" in str(error)
    assert item.title


@pytest_twisted.inlineCallbacks
def test_a_killed_worker_loses_no_page():
    async def scenario():
        pool = await started_pool()
        names = fixture_cases()
        pending = [asyncio.ensure_future(pool.extract(response_for(n))) for n in names]
        await asyncio.sleep(0)  # the pages are on their way
        os.kill(pool.workers[0].process.pid, signal.SIGKILL)
        items = await asyncio.gather(*pending)
        after = await pool.extract(response_for(names[0]))
        await pool.close()
        return names, items, after, pool

    names, items, after, pool = yield run(scenario())
    assert pool.crashes == 1
    assert len(items) == len(names)
    for name, item in zip(names, items, strict=True):
        assert same_item(item, extract_from_response(response_for(name))), name
    assert same_item(after, extract_from_response(response_for(names[0])))


@pytest_twisted.inlineCallbacks
def test_no_workers_means_extraction_in_this_process():
    async def scenario():
        pool = WorkerPool(0)
        pool.start()
        item = await pool.extract(response_for(fixture_cases()[0]))
        await pool.close()
        return item, pool

    item, pool = yield run(scenario())
    assert item.title
    assert pool.workers == []


@pytest_twisted.inlineCallbacks
def test_pages_before_the_worker_is_ready_are_extracted_here():
    async def scenario():
        pool = WorkerPool(1)
        pool.start()
        item = await pool.extract(response_for(fixture_cases()[0]))  # at once: the worker is still importing
        counts = (pool.in_process, pool.in_workers)
        await pool.close()
        return item, counts

    item, (in_process, in_workers) = yield run(scenario())
    assert item.title
    assert (in_process, in_workers) == (1, 0)


def test_a_worker_whose_crawl_has_hung_up_exits_quietly():
    ours, theirs = socket.socketpair()
    ours.close()  # the crawl ended before the worker was up
    serve(theirs)  # no BrokenPipeError


@pytest_twisted.inlineCallbacks
def test_pages_past_the_in_flight_limit_wait_their_turn():
    async def scenario():
        pool = await started_pool()
        names = fixture_cases()[:12]
        most = 0
        tasks = [asyncio.ensure_future(pool.extract(response_for(n))) for n in names]
        while not all(t.done() for t in tasks):
            most = max(most, len(pool.workers[0].pending))
            await asyncio.sleep(0)
        await pool.close()
        return names, [t.result() for t in tasks], most

    names, items, most = yield run(scenario())
    assert most == _IN_FLIGHT  # never more on the socket, and the limit was reached
    for name, item in zip(names, items, strict=True):
        assert same_item(item, extract_from_response(response_for(name))), name


def test_a_page_cut_short_by_a_hang_up_ends_the_worker_quietly():
    ours, theirs = socket.socketpair()
    data = pickle.dumps(Page.of(response_for(fixture_cases()[0])))
    ours.sendall(_FRAME.pack(len(data)) + data[: len(data) // 2])
    ours.shutdown(socket.SHUT_WR)
    serve(theirs)  # returns, without a pickle error
    ours.close()
