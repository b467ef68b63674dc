"""Re-extraction's batches: the chosen pages go to the pool a batch at a time, and their outcomes come back in
the archive's order (so a duplicate is dropped as the crawl dropped it), whichever batch a worker finishes
first. A few batches are in flight at most, so memory stays flat however large the archive.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Iterable
from typing import TYPE_CHECKING

from ..urls import is_publication_url
from .extract import Failed, Outcome

if TYPE_CHECKING:
    from .extract import BatchPool
    from .reader import ArchivedResponse

BATCH_SIZE = 32  # pages a worker takes at a time (extract.py says why)
BATCHES_PER_WORKER = 2  # in a worker's hands at once: one busy, the next waiting

Batch = list["ArchivedResponse"]


def skip_reason(entry: ArchivedResponse) -> str | None:
    """Why a chosen response is not re-extracted (a stat's name), or None for a publication page's success."""
    if not 200 <= entry.status < 300:  # the URL's latest answer is a redirect, a 404...
        return "not_ok"
    if not is_publication_url(entry.url):
        return "not_publication"
    return None


class Batches:
    """Batches of pages in a `BatchPool`, their outcomes in order."""

    def __init__(self, pool: BatchPool, size: int | None = None) -> None:
        self.pool = pool
        self.size = size or BATCH_SIZE
        self.in_flight = max(1, pool.size) * BATCHES_PER_WORKER
        self._pending: deque[tuple[Batch, asyncio.Future[list[Outcome]]]] = deque()

    async def outcomes(self, batches: Iterable[Batch]) -> AsyncGenerator[tuple[Batch, list[Outcome]], None]:
        """Each of *batches* with its outcomes, in order."""
        for batch in batches:
            self._pending.append((batch, asyncio.ensure_future(self.pool.extract(batch))))
            while len(self._pending) >= self.in_flight:
                yield await self._next()
        while self._pending:
            yield await self._next()

    async def _next(self) -> tuple[Batch, list[Outcome]]:
        batch, task = self._pending.popleft()
        try:
            outcomes = await task
        except Exception as exc:  # the whole batch (a result that would not cross back, say)
            outcomes = [Failed(f"{type(exc).__name__}: {exc}")] * len(batch)
        return batch, outcomes

    def cancel(self) -> None:
        """The run ends early: what is still in flight is not waited for."""
        for _, task in self._pending:
            task.cancel()
        self._pending.clear()
