"""Extraction in worker processes: the standard library's process pool, awaited on the crawl's loop.

Scrapy runs every callback on its one reactor thread, so parsing and reading pages there
leaves a second core idle. Where that matters (a mirror crawl, not a polite one) a
`concurrent.futures.ProcessPoolExecutor` takes the pages: only plain data crosses (URL,
body and the encoding Scrapy settled on, so the worker decodes the same text), and the
result is the `(Publication, wrong-typed keys)` pair of `extract_with_report`. The pool
uses "spawn": a fresh interpreter that imports this package by name (from an egg too),
never a fork of the running reactor and its threads; and unlike plain "spawn", it does not
run the crawl's main module again (see `_WithoutMain`). Re-extraction's pool, whose workers
start while the run does, forks them from a fork server instead (`forkserver`).

A worker that dies (SIGKILL, the OOM killer, a crash in lxml) loses nothing: the pool
fails every page it held with BrokenProcessPool, and each of those pages is extracted in
the crawl's own process instead. One warning per crash; a new pool takes the later pages,
up to MAX_CRASHES crashes in a crawl, after which the crawl extracts in its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import types
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import forkserver as _forkserver
from multiprocessing.context import BaseContext, ForkServerContext, ForkServerProcess, SpawnContext, SpawnProcess
from multiprocessing.process import BaseProcess

from scrapy.http import TextResponse

from .extraction import extract_with_report
from .items import Publication

logger = logging.getLogger(__name__)
MAX_CRASHES = 3  # pools that may break in one crawl; after that, every page is extracted in process
# Workers yield the CPU to the crawl's own process: it is the one that keeps requests in flight.
_WORKER_NICENESS = 5

LogLine = tuple[str, int, str]  # logger name, level, message


# -- in the worker process ---------------------------------------------------------


class _Recorder(logging.Handler):
    """Keeps what extraction logs in a worker, to be logged again in the crawl (and its log file)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[LogLine] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, record.levelno, record.getMessage()))


_recorder = _Recorder()


def _start_worker() -> None:
    # Ctrl-C reaches the whole process group; the crawl decides when its workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):  # where lowering is not permitted, run at the same priority
        os.nice(_WORKER_NICENESS)
    logging.getLogger().addHandler(_recorder)
    threading.Thread(target=_exit_with_the_crawl, name="exit-with-the-crawl", daemon=True).start()


def _exit_with_the_crawl() -> None:
    """End this worker when the crawl's process ends without stopping it (SIGKILL, the OOM killer).

    A pool's worker holds both ends of its task queue, so it would wait for tasks forever.
    """
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()  # returns when the parent's end of the start-up pipe closes: the parent is gone
        os._exit(1)


def extract_page(url: str, body: bytes, encoding: str) -> tuple[Publication, list[str], list[LogLine]]:
    """`extract_with_report` of the page, and the lines it logged.

    With its encoding given, a `TextResponse` decodes the body to the same text as the
    crawl's response did (a BOM still wins, as there), whatever class that one was.
    """
    _recorder.lines = []
    item, wrong_typed = extract_with_report(TextResponse(url=url, body=body, encoding=encoding))
    lines, _recorder.lines = _recorder.lines, []
    return item, wrong_typed, lines


def _ready() -> None:
    """Nothing: submitted once per worker when the pool starts, so the workers start at once."""


class _WithoutMain(BaseProcess):
    """A worker that does not import the crawl's `__main__` module a second time.

    "spawn" (and a fork server's child) runs the parent's main module again in the child (as
    `__mp_main__`), for functions defined there. A worker runs this package's functions only, and
    the crawl's entry point (scrapyd's runner or a deployment's own, a script that starts a crawl)
    need not be safe to run twice: each worker starts as if the crawl had been started from an
    interactive prompt.
    """

    def start(self) -> None:
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")  # no spec, no file: nothing to re-run
        try:
            super().start()  # writes the child's preparation data, then returns
        finally:
            sys.modules["__main__"] = main


class _Worker(_WithoutMain, SpawnProcess):
    pass


class _WorkerContext(SpawnContext):
    Process = _Worker


_SPAWN = _WorkerContext()


class _ForkedWorker(_WithoutMain, ForkServerProcess):
    pass


class _ForkServerContext(ForkServerContext):
    Process = _ForkedWorker


def forkserver(preload: list[str]) -> BaseContext:
    """The standard library's "forkserver" start method, with *preload* imported once in the server, and the
    server started now (it imports while the caller goes on); "spawn" where there is no fork server.

    A fork server is a fresh interpreter, like a spawned worker, never a fork of the running reactor and
    its threads; but its workers are forks of it, so they share its imports instead of each importing
    Scrapy, lxml and the extractor again (0.42-0.45 s of CPU a worker). On the benchmark box (2 cores,
    2,000 pages) a re-extraction with spawned workers took 0.35-0.4 s longer (median and best of 6 runs).
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return _SPAWN
    context = _ForkServerContext()
    # The server is the process's one (multiprocessing.forkserver's): the preload applies when it starts.
    context.set_forkserver_preload(preload)
    with contextlib.suppress(OSError):  # no process to be had: the pool's first start says so
        _forkserver.ensure_running()
    return context


# -- in the crawl's process ---------------------------------------------------------


class WorkerPool:
    """A process pool for `extract_with_report`, falling back to this process when a worker dies."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.executor: ProcessPoolExecutor | None = None  # None: extract in this process
        self.crashes = 0
        self.in_workers = 0  # pages extracted by a worker...
        self.in_process = 0  # ...and here (a worker died holding them, or no pool is left)
        self._executors: list[ProcessPoolExecutor] = []  # every pool started, each shut down at close
        self._closed = False

    def start(self) -> None:
        """Start the workers now, so they import while robots.txt is fetched."""
        if self.executor is not None or self._closed or self.size <= 0 or self.crashes >= MAX_CRASHES:
            return
        executor = ProcessPoolExecutor(self.size, mp_context=_SPAWN, initializer=_start_worker)
        self._executors.append(executor)
        try:
            for _ in range(self.size):  # the pool starts a process per task while none is idle
                executor.submit(_ready)
        except OSError as exc:  # no processes to be had (a limit on processes or memory)
            logger.warning("Could not start extraction workers (%s): extracting in this process", exc)
            executor.shutdown(wait=False, cancel_futures=True)
            return
        self.executor = executor

    @property
    def processes(self) -> list[BaseProcess]:
        """The current pool's worker processes (for tests and diagnostics)."""
        executor = self.executor
        return list((executor._processes or {}).values()) if executor is not None else []

    async def extract(self, response: TextResponse) -> tuple[Publication, list[str]]:
        """What `extract_with_report(response)` gives, from a worker when there is a pool."""
        executor = self.executor
        if executor is not None:
            try:  # submitting forks a worker while none is idle: it can fail (EAGAIN, ENOMEM)
                future = executor.submit(extract_page, response.url, response.body, response.encoding)
            except BrokenProcessPool as exc:  # a broken pool refuses at once
                self._broken(executor, exc)
            except OSError as exc:
                self._no_fork(executor, exc)
            else:
                try:
                    item, wrong_typed, lines = await asyncio.wrap_future(future)
                except BrokenProcessPool as exc:  # a worker died holding this page
                    self._broken(executor, exc)
                else:
                    self.in_workers += 1
                    for name, level, message in lines:
                        logging.getLogger(name).log(level, message)
                    return item, wrong_typed
        self.in_process += 1
        return extract_with_report(response)

    def _no_fork(self, executor: ProcessPoolExecutor, exc: OSError) -> None:
        """No worker could be forked: warn once; this page and every later one are extracted here."""
        if executor is not self.executor:
            return
        self.executor = None
        executor.shutdown(wait=False)  # the pages its workers hold still finish there
        logger.warning("Could not start an extraction worker (%s): extracting in this process from now on", exc)

    def _broken(self, executor: ProcessPoolExecutor, exc: BrokenProcessPool) -> None:
        """A worker died: count it and warn once, however many pages it held; then a new pool, or none."""
        if executor is not self.executor:
            return  # reported by the first page that found out
        self.crashes += 1
        self.executor = None
        executor.shutdown(wait=False)  # broken: its processes are stopped already
        restart = self.crashes < MAX_CRASHES
        logger.warning(
            "Extraction worker ended unexpectedly (%s): the pages it held are extracted in this process, %s",
            exc,
            "and new workers take the next ones" if restart else f"and so is every later page ({self.crashes} crashes)",
        )
        if restart:
            self.start()

    async def close(self) -> None:
        """Stop the workers once they have finished every page they hold (nothing is cancelled)."""
        self._closed = True
        self.executor = None
        executors, self._executors = self._executors, []
        for executor in executors:  # in a thread: the reactor keeps running while the workers finish
            await asyncio.to_thread(executor.shutdown, wait=True)
