"""Re-extraction's unit of work: a batch of archived responses, read and extracted in one call.

`extract_batch` runs in a worker process of the re-extraction pool (or, with one process, in the
run's own): it reads each record from the archive itself (so only a file name and an offset
cross to the worker, never a body), rebuilds the response as the crawl had it, and extracts it
with `process_pool.extract_page`, the crawl's own worker entry. Pages go in batches because a page
takes ~3 ms to extract: handing them over one by one, the round trips through the pool (and the
crawl process's GIL, busy with the pipelines) would cost as much as the extraction.

A page that cannot be read or extracted comes back as a `Failed` outcome: one bad page never
costs its batch.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.context import BaseContext

from scrapy.http import Response, TextResponse

from .. import process_pool
from ..items import Publication
from ..process_pool import MAX_CRASHES, LogLine, extract_page
from .reader import ArchivedResponse, ArchiveReader

logger = logging.getLogger(__name__)
_NO_WORKERS = "Could not start re-extraction workers (%s): extracting in this process"


@dataclass(frozen=True, slots=True)
class Extracted:
    item: Publication
    wrong_typed: list[str]
    lines: list[LogLine]  # what extraction logged in a worker, to be logged again in the run
    etag: str | None
    last_modified: str | None
    truncated: bool  # the archived response was cut short (WARC-Truncated)


@dataclass(frozen=True, slots=True)
class Skipped:
    reason: str  # not_html


@dataclass(frozen=True, slots=True)
class Failed:
    error: str  # "ExceptionType: message"


Outcome = Extracted | Skipped | Failed


def extract_batch(entries: Sequence[ArchivedResponse]) -> list[Outcome]:
    """Each entry's outcome, in order."""
    outcomes: list[Outcome] = []
    with ArchiveReader() as reader:
        for entry in entries:
            try:
                outcomes.append(_extract_one(reader, entry))
            except Exception as exc:  # one page's problem, never its batch's
                outcomes.append(Failed(f"{type(exc).__name__}: {exc}"))
    return outcomes


def _in_worker(entries: Sequence[ArchivedResponse]) -> tuple[list[Outcome], int, float]:
    """`extract_batch` in a worker, with the worker's process id and CPU seconds so far: a fork server's workers
    are not the run's children, so no resource count of the run's process includes them."""
    return extract_batch(entries), os.getpid(), time.process_time()


def _extract_one(reader: ArchiveReader, entry: ArchivedResponse) -> Outcome:
    response = reader.read(entry)
    if not isinstance(response, TextResponse) or b"html" not in (response.headers.get("Content-Type") or b"html"):
        return Skipped("not_html")
    item, wrong_typed, lines = extract_page(response.url, response.body, response.encoding)
    return Extracted(
        item, wrong_typed, lines, _header(response, b"ETag"), _header(response, b"Last-Modified"),
        "dataloss" in response.flags,
    )  # fmt: skip


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _start_worker() -> None:
    """As the crawl's extraction workers start (`process_pool._start_worker`), at the crawl's priority: here the
    workers do the run's work, rather than lend a hand to a process that keeps requests in flight."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the process group; the run stops its workers
    logging.getLogger().addHandler(process_pool._recorder)
    threading.Thread(target=process_pool._exit_with_the_crawl, name="exit-with-the-run", daemon=True).start()


class BatchPool:
    """`extract_batch` in worker processes (forked from a fork server: `process_pool.forkserver`), or here.

    A worker that dies (the OOM killer, a crash in lxml) costs nothing: the batches it held are
    extracted in this process, with one warning, and a new pool takes the next ones, up to
    MAX_CRASHES crashes, after which everything is extracted here. Where no worker can be forked
    (a limit on processes, memory short), at the start, at a restart or later, one warning too,
    and the pages are extracted here.
    """

    def __init__(self, size: int) -> None:
        self.size = size  # worker processes; 0: none, everything in this process
        self.executor: ProcessPoolExecutor | None = None
        self.crashes = 0
        self.in_workers = 0  # pages extracted by a worker...
        self.in_process = 0  # ...and here
        self._executors: list[ProcessPoolExecutor] = []
        self._context: BaseContext | None = None
        self._cpu: dict[int, float] = {}  # each worker's CPU seconds, as of its last batch

    @property
    def worker_cpu(self) -> float:
        """CPU seconds the workers spent, up to their last batch (the fork server's imports not included)."""
        return sum(self._cpu.values())

    def prepare(self) -> None:
        """Start the fork server now, as early in the run as can be: it imports what the workers need while
        the run starts, so the workers that `start` forks from it later are ready at once."""
        if self.size > 0 and self._context is None:
            self._context = process_pool.forkserver([__name__])

    def start(self) -> None:
        if self.size <= 0 or self.executor is not None or self.crashes >= MAX_CRASHES:
            return
        self.prepare()
        executor: ProcessPoolExecutor | None = None
        try:
            executor = ProcessPoolExecutor(self.size, mp_context=self._context, initializer=_start_worker)
            self._executors.append(executor)
            # The pool forks a worker per task while none is idle (so here, not in its constructor): every worker
            # starts now, and imports while the archive's index is read.
            for _ in range(self.size):
                executor.submit(process_pool._ready)
        except OSError as exc:  # no process to be had (a limit on processes or memory), as in WorkerPool.start
            logger.warning(_NO_WORKERS, exc)
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)  # the workers it did fork end
            return
        self.executor = executor

    async def extract(self, entries: Sequence[ArchivedResponse]) -> list[Outcome]:
        executor = self.executor
        if executor is not None:
            try:
                # Submitted apart from the wait, so that only the pool's own failures are caught: an exception
                # the batch ends with fails its pages (in `Batches`), never extracted again here.
                future = executor.submit(_in_worker, entries)
            except BrokenProcessPool as exc:
                self._broken(executor, exc)
            except OSError as exc:  # a worker forked on submit (none idle) could not be
                self._no_fork(executor, exc)
            else:
                try:
                    outcomes, pid, cpu = await asyncio.wrap_future(future)
                except BrokenProcessPool as exc:
                    self._broken(executor, exc)
                else:
                    self._cpu[pid] = cpu
                    self.in_workers += len(entries)
                    for outcome in outcomes:
                        if isinstance(outcome, Extracted):
                            for name, level, message in outcome.lines:
                                logging.getLogger(name).log(level, message)
                    return outcomes
        return self.extract_here(entries)

    def extract_here(self, entries: Sequence[ArchivedResponse]) -> list[Outcome]:
        self.in_process += len(entries)
        return extract_batch(entries)

    def _broken(self, executor: ProcessPoolExecutor, exc: BrokenProcessPool) -> None:
        if executor is not self.executor:
            return  # reported by the first batch that found out
        self.crashes += 1
        self.executor = None
        executor.shutdown(wait=False)
        restart = self.crashes < MAX_CRASHES
        logger.warning(
            "Re-extraction worker ended unexpectedly (%s): the pages it held are extracted in this process, %s",
            exc,
            "and new workers take the next ones" if restart else f"and so is every later page ({self.crashes} crashes)",
        )
        if restart:
            self.start()

    def _no_fork(self, executor: ProcessPoolExecutor, exc: OSError) -> None:
        """Memory or processes ran short mid-run: this pool finishes the batches it holds, the rest are extracted
        here (a pool kept would try to fork again on every batch)."""
        if executor is not self.executor:
            return
        self.executor = None
        executor.shutdown(wait=False)  # nothing cancelled: other batches await what it holds
        logger.warning(_NO_WORKERS, exc)

    async def close(self) -> None:
        """Stop the workers once they have finished what they hold."""
        self.executor = None
        executors, self._executors = self._executors, []
        for executor in executors:  # in a thread: the reactor keeps running while the workers finish
            await asyncio.to_thread(executor.shutdown, wait=True)
