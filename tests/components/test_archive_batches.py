"""Re-extraction's batches: outcomes in the archive's order, whichever finishes first, and a few in flight."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest_twisted
from scrapy.utils.defer import deferred_from_coro

from carnegie_crawler.archive import batches as batches_module
from carnegie_crawler.archive.batches import Batches, skip_reason
from carnegie_crawler.archive.reader import ArchivedResponse

PAGE = "https://carnegieendowment.org/posts/2024/01/page-{}?lang=en"


def entry(n: int, url: str | None = None, status: int = 200) -> ArchivedResponse:
    return ArchivedResponse(
        url=url or PAGE.format(n), date=datetime(2026, 1, 1, tzinfo=UTC), record_id=f"<urn:uuid:{n}>",
        file="run.warc.gz", path=Path("run.warc.gz"), offset=1000 * n, status=status,
    )  # fmt: skip


class FakePool:
    """A BatchPool's interface: `size` workers; each batch's outcomes are its pages' offsets. A batch can be
    held back (`hold`) to finish after the ones behind it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.extracted: list[list[int]] = []  # every batch started, in order
        self.held: dict[int, asyncio.Event] = {}

    def hold(self, first_offset: int) -> asyncio.Event:
        self.held[first_offset] = event = asyncio.Event()
        return event

    async def extract(self, batch: list[ArchivedResponse]) -> list[Any]:
        self.extracted.append([e.offset for e in batch])
        if (event := self.held.get(batch[0].offset)) is not None:
            await event.wait()
        return [e.offset for e in batch]


def batched(entries: list[ArchivedResponse], size: int) -> list[list[ArchivedResponse]]:
    return [entries[i : i + size] for i in range(0, len(entries), size)]


async def collect(batches: Batches, final: list[list[ArchivedResponse]]) -> list[tuple[list[int], list[Any]]]:
    return [([e.offset for e in batch], outcomes) async for batch, outcomes in batches.outcomes(final)]


def run(coro):
    return deferred_from_coro(coro)


def test_what_is_not_a_publication_pages_success_is_skipped_with_a_reason():
    assert skip_reason(entry(1)) is None
    assert skip_reason(entry(1, status=301)) == "not_ok"
    assert skip_reason(entry(1, status=404)) == "not_ok"
    assert skip_reason(entry(1, url="https://carnegieendowment.org/robots.txt")) == "not_publication"


@pytest_twisted.inlineCallbacks
def test_outcomes_come_in_order_whichever_batch_finishes_first():
    async def scenario():
        pool = FakePool(2)
        batches = Batches(pool, size=2)
        release = pool.hold(0)  # the first batch finishes last
        final = batched([entry(n) for n in range(7)], 2)
        results = asyncio.ensure_future(collect(batches, final))
        await asyncio.sleep(0.05)
        assert not results.done()
        release.set()
        return pool, await results

    pool, results = yield run(scenario())
    assert results == [([0, 1000], [0, 1000]), ([2000, 3000], [2000, 3000]),
                       ([4000, 5000], [4000, 5000]), ([6000], [6000])]  # fmt: skip
    assert len(pool.extracted) == 4


@pytest_twisted.inlineCallbacks
def test_no_more_batches_are_in_flight_than_two_a_worker():
    async def scenario():
        pool = FakePool(1)
        batches = Batches(pool, size=1)
        release = pool.hold(0)
        results = asyncio.ensure_future(collect(batches, batched([entry(n) for n in range(5)], 1)))
        await asyncio.sleep(0.05)
        started = len(pool.extracted)
        release.set()
        await results
        return started

    started = yield run(scenario())
    assert started == batches_module.BATCHES_PER_WORKER


@pytest_twisted.inlineCallbacks
def test_cancel_cancels_what_is_in_flight():
    """As the spider does when the run closes early, between two items."""

    async def scenario():
        pool = FakePool(1)
        batches = Batches(pool, size=1)
        pool.hold(1000)  # the second batch never finishes
        outcomes = batches.outcomes(batched([entry(n) for n in range(5)], 1))
        first = await outcomes.__anext__()
        in_flight = [task for _, task in batches._pending]
        batches.cancel()
        await outcomes.aclose()
        await asyncio.sleep(0)
        return first, in_flight

    first, in_flight = yield run(scenario())
    assert first == ([entry(0)], [0])
    assert len(in_flight) == 1
    assert in_flight[0].cancelled()


@pytest_twisted.inlineCallbacks
def test_a_batch_that_fails_as_a_whole_fails_each_of_its_pages():
    class Broken(FakePool):
        async def extract(self, batch: list[ArchivedResponse]) -> list[Any]:
            raise ValueError("would not cross back")

    results = yield run(collect(Batches(Broken(1), size=2), batched([entry(n) for n in range(3)], 2)))
    assert [len(outcomes) for _, outcomes in results] == [2, 1]
    assert {o.error for _, outcomes in results for o in outcomes} == {"ValueError: would not cross back"}
