"""Extraction in worker processes, so the crawl's own process only fetches and follows links.

Scrapy runs every callback on its one reactor thread: parsing and reading a page
there (about 2 ms) costs as much again as Scrapy's own work per page, and a second
core stays idle. A worker is a plain child process (`python -m carnegie_crawler.workers
FD`) that reads pages from a socket and answers with `Publication`s, one
length-prefixed pickle each way. The crawler side is an asyncio protocol on the
reactor's own loop: no threads, no locks, nothing blocks.

A worker that dies (killed, out of memory, a crash in lxml) loses nothing: the pages
it held are extracted in the crawler's process, and so is every page after that.
The pickles only ever travel between this process and the children it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import traceback
from collections import deque
from dataclasses import dataclass
from typing import Any

from scrapy.http import TextResponse

from .extraction import extract_from_response
from .items import Publication

logger = logging.getLogger(__name__)
_FRAME = struct.Struct("!I")  # payload length, then the pickle
_CLOSE_TIMEOUT = 5.0
_READ_SIZE = 256 * 1024
_IN_FLIGHT = 8  # pages per worker sent and not yet answered
# Workers yield the CPU to the crawl's own process: it is the one that keeps requests in flight.
_WORKER_NICENESS = 5


class WorkerError(Exception):
    """Extraction raised in a worker; the message carries the worker's traceback."""


@dataclass(frozen=True)
class Page:
    """Everything needed to rebuild the response in another process, exactly as Scrapy built it."""

    response_class: type[TextResponse]
    url: str
    body: bytes
    content_type: bytes | None

    @classmethod
    def of(cls, response: TextResponse) -> Page:
        return cls(type(response), response.url, response.body, response.headers.get(b"Content-Type"))

    def extract(self) -> Publication:
        headers = {b"Content-Type": self.content_type} if self.content_type else None
        return extract_from_response(self.response_class(url=self.url, body=self.body, headers=headers))


def _frame(payload: Any) -> bytes:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    return _FRAME.pack(len(data)) + data


# -- the worker process ------------------------------------------------------------


def serve(sock: socket.socket) -> None:
    """Answer each page with (True, Publication) or (False, traceback) until the crawler hangs up.

    First an empty frame: "imported and ready". Until then the crawler extracts pages itself,
    so the first pages of a crawl do not wait for this process to start.
    """
    with sock, sock.makefile("rb") as incoming, contextlib.suppress(BrokenPipeError, ConnectionResetError):
        # (A crawl may end, and hang up, before this process has even started: nothing to report.)
        sock.sendall(_FRAME.pack(0))
        while len(header := incoming.read(_FRAME.size)) == _FRAME.size:
            size = _FRAME.unpack(header)[0]
            if len(data := incoming.read(size)) < size:
                return  # the crawl hung up in the middle of a page
            page = pickle.loads(data)
            try:
                reply = _frame((True, page.extract()))
            except Exception:  # any error: the crawler reports it as a spider error for this page
                reply = _frame((False, traceback.format_exc()))
            sock.sendall(reply)


# -- the crawler side ----------------------------------------------------------------


class _Worker(asyncio.BufferedProtocol):
    """One child process and its socket; replies come back in the order pages were sent.

    Buffered: replies are read into one reused buffer, where a plain protocol would get
    a fresh 256 KiB bytes object from every read.
    """

    def __init__(self, on_lost: Any) -> None:
        self.pending: deque[tuple[asyncio.Future[Publication], Page]] = deque()
        self.buffer = bytearray(_READ_SIZE)
        self.filled = 0
        self.ready = False  # the worker has said it is ready (an empty frame)
        self.transport: asyncio.Transport | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.closing = False
        self.on_lost = on_lost

    async def start(self, loop: asyncio.AbstractEventLoop) -> None:
        ours, theirs = socket.socketpair()
        with theirs:
            env = os.environ | {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}  # the crawler's own code
            self.process = subprocess.Popen(
                [sys.executable, "-m", "carnegie_crawler.workers", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # `scrapy crawl -o -` may be writing the feed to our stdout
            )
        await loop.connect_accepted_socket(lambda: self, ours)

    def submit(self, page: Page) -> asyncio.Future[Publication]:
        assert self.transport is not None
        future: asyncio.Future[Publication] = asyncio.get_running_loop().create_future()
        self.pending.append((future, page))
        self.transport.write(_frame(page))
        return future

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        if len(self.buffer) - self.filled < _READ_SIZE // 2:  # a reply bigger than the buffer: grow it
            self.buffer.extend(bytes(len(self.buffer)))
        return memoryview(self.buffer)[self.filled :]

    def buffer_updated(self, nbytes: int) -> None:
        self.filled += nbytes
        start = 0
        with memoryview(self.buffer) as view:
            while self.filled - start >= _FRAME.size:
                size = _FRAME.unpack_from(view, start)[0]
                end = start + _FRAME.size + size
                if end > self.filled:
                    break
                if size == 0:
                    self.ready = True
                else:
                    self._reply(*pickle.loads(view[start + _FRAME.size : end]))
                start = end
        if start:  # keep the partial reply, at the front (same-size assignment: the buffer is exported)
            rest = self.filled - start
            self.buffer[:rest] = self.buffer[start : self.filled]
            self.filled = rest

    def _reply(self, ok: bool, value: Any) -> None:
        future, page = self.pending.popleft()
        if future.done():  # the request was cancelled meanwhile
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(WorkerError(f"extraction failed for {page.url}:\n{value}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.closing:
            self.on_lost(self)

    @property
    def alive(self) -> bool:
        return self.transport is not None and not self.closing and self.ready

    async def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()  # the worker reads end-of-file and exits
        if self.process is None:
            return
        if not self.ready:  # still starting up, so it holds nothing: no need to wait for it
            self.process.kill()
        for _ in range(int(_CLOSE_TIMEOUT / 0.05)):
            if self.process.poll() is not None:
                return
            await asyncio.sleep(0.05)
        self.process.kill()
        self.process.wait()


class WorkerPool:
    """Hands pages to worker processes; extracts in this process when there are none."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.workers: list[_Worker] = []
        self.crashes = 0
        self.in_workers = 0  # pages extracted by a worker...
        self.in_process = 0  # ...and here (no worker, or it died holding them)
        self._started: asyncio.Task[None] | None = None
        # Pages handed out but not answered: enough to keep every worker busy. The rest wait
        # here as the responses Scrapy holds anyway, not as copies queued on the sockets.
        self._slots = asyncio.Semaphore(max(1, size) * _IN_FLIGHT)

    def start(self) -> None:
        """Start the workers in the background, so they load while robots.txt is fetched."""
        if self._started is None and self.size > 0:
            self._started = asyncio.ensure_future(self._start())

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(self.size):
            worker = _Worker(self._lost)
            try:
                await worker.start(loop)
            except OSError as exc:
                logger.warning("Could not start an extraction worker (%s): extracting in this process", exc)
                return
            self.workers.append(worker)

    async def extract(self, response: TextResponse) -> Publication:
        if self._started is not None:
            await asyncio.shield(self._started)
        async with self._slots:
            live = [w for w in self.workers if w.alive]
            if not live:
                self.in_process += 1
                return extract_from_response(response)
            worker = min(live, key=lambda w: len(w.pending))
            self.in_workers += 1
            return await worker.submit(Page.of(response))

    def _lost(self, worker: _Worker) -> None:
        """A worker died: its pages are extracted here, now; it is not restarted."""
        self.crashes += 1
        code = worker.process.poll() if worker.process is not None else None
        logger.warning(
            "Extraction worker %s ended unexpectedly (exit status %s): %d page(s) it held are extracted in "
            "this process, and so is every page it would have taken",
            worker.process.pid if worker.process is not None else "?",
            code,
            len(worker.pending),
        )
        while worker.pending:
            future, page = worker.pending.popleft()
            if future.done():
                continue
            self.in_workers -= 1
            self.in_process += 1
            try:
                future.set_result(page.extract())
            except Exception as exc:  # reported by the spider like any extraction error
                future.set_exception(exc)

    async def close(self) -> None:
        if self._started is not None:
            await asyncio.shield(self._started)
        await asyncio.gather(*(w.close() for w in self.workers))


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group; the crawler decides when its workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):  # where lowering is not permitted, run at the same priority
        os.nice(_WORKER_NICENESS)
    serve(socket.socket(fileno=int(sys.argv[1])))
