"""Real crawls of a bare spider against a 127.0.0.1 server whose robots.txt we control.

The project's own crawls (test_crawl.py) obey robots.txt too; these pin down the middleware alone:
every request waiting on robots.txt gets its rules, and what a failed robots.txt means.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import pytest_twisted
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler

OURS = "carnegie_crawler.robots.RobotsTxtMiddleware"
SCRAPYS = "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"
PAGES = ["/a", "/b", "/c", "/d"]
# Start requests go out in order (a FIFO start queue, pinned below). Scrapy's own middleware gives
# the rules to the first page (it fetches robots.txt) and to the first waiting on it (/b); /c and /d
# get "allowed". So the last one is the page its bug lets through.
DISALLOWED = "/d"
ROBOTS = f"User-agent: *\nDisallow: {DISALLOWED}\n".encode()


class RobotsServer(ThreadingHTTPServer):
    """Pages answer 200; robots.txt answers `robots_status` (None: hang up), once `gate` is set."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.robots_status: int | None = 200
        self.gate = threading.Event()
        self.gate.set()
        self.requests: list[str] = []
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the hang-up robots.txt resets its own connections


class _Handler(BaseHTTPRequestHandler):
    server: RobotsServer

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests.append(self.path)
        status, body = 200, b"<html><body>page</body></html>"
        if self.path == "/robots.txt":
            # Held until the crawl has all its pages waiting on it (see GateMiddleware); the
            # timeout only keeps a broken test from hanging.
            self.server.gate.wait(10)
            if self.server.robots_status is None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            status = self.server.robots_status
            body = ROBOTS if status == 200 else b"error"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class GateMiddleware:
    """Runs just before the robots.txt middleware: once every start page has reached it, lets robots.txt through.

    So all four pages are waiting on robots.txt when it arrives, however fast the machine is.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.seen = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> GateMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        spider = self.crawler.spider
        assert isinstance(spider, BareSpider)
        if not request.url.endswith("/robots.txt"):
            self.seen += 1
            if self.seen == len(spider.start_urls):
                spider.robots_gate.set()


class BareSpider(Spider):
    name = "bare"
    # Both given as spider arguments by crawl().
    start_urls: list[str]
    robots_gate: threading.Event

    def parse(self, response: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[RobotsServer]:
    httpd = RobotsServer()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.gate.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest_twisted.inlineCallbacks
def crawl(server: RobotsServer, middleware: str, **settings: Any):
    other = SCRAPYS if middleware == OURS else OURS
    crawler = get_crawler(
        BareSpider,
        {
            "ROBOTSTXT_OBEY": True,
            "DOWNLOADER_MIDDLEWARES": {
                f"{__name__}.GateMiddleware": 90,
                other: None,
                middleware: 100,
            },
            "SCHEDULER_START_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
            "CONCURRENT_REQUESTS": 16,  # all four pages in the downloader at once
            "RETRY_TIMES": 1,
            # As in the project: the retry middleware's give-up line is not ours to count.
            "RETRY_GIVE_UP_LOG_LEVEL": "DEBUG",
            "LOG_LEVEL": "INFO",
            **settings,
        },
    )
    yield crawler.crawl(start_urls=[server.base_url + p for p in PAGES], robots_gate=server.gate)
    return crawler


def pages_fetched(server: RobotsServer) -> set[str]:
    return set(server.requests) - {"/robots.txt"}


@pytest_twisted.inlineCallbacks
def test_scrapys_middleware_lets_a_disallowed_page_through_when_pages_wait_on_robots_txt(server):
    server.gate.clear()
    yield crawl(server, SCRAPYS)
    assert DISALLOWED in pages_fetched(server), "the Scrapy bug this module works around is gone: drop the module?"


@pytest_twisted.inlineCallbacks
def test_every_page_waiting_on_robots_txt_gets_its_rules(server, caplog):
    server.gate.clear()
    caplog.set_level(logging.INFO)
    crawler = yield crawl(server, OURS)
    assert pages_fetched(server) == set(PAGES) - {DISALLOWED}
    assert server.requests.count("/robots.txt") == 1
    stats = crawler.stats.get_stats()
    assert stats["robotstxt/forbidden"] == 1
    forbidden = [r for r in caplog.records if r.getMessage().startswith("Forbidden by robots.txt")]
    assert [r.levelno for r in forbidden] == [logging.INFO], "an expected event, not a warning"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize(("status", "what"), [(503, "answered HTTP 503"), (None, "could not be fetched")])
@pytest_twisted.inlineCallbacks
def test_an_unreachable_robots_txt_disallows_the_whole_host_with_one_warning(server, caplog, status, what):
    server.robots_status = status
    caplog.set_level(logging.INFO)
    crawler = yield crawl(server, OURS)
    assert pages_fetched(server) == set()
    assert server.requests.count("/robots.txt") == 2, "RETRY_TIMES=1: fetched twice"
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    netloc = server.base_url.removeprefix("http://")
    assert len(warnings) == 1
    assert warnings[0].startswith(f"robots.txt of {netloc} {what}")
    assert warnings[0].endswith(": treating the whole host as disallowed (RFC 9309)")
    stats = crawler.stats.get_stats()
    assert stats["robotstxt/forbidden"] == len(PAGES)
    assert stats["robotstxt/unreachable"] == 1


@pytest_twisted.inlineCallbacks
def test_a_robots_txt_answering_404_allows_the_whole_host(server, caplog):
    server.robots_status = 404
    caplog.set_level(logging.INFO)
    crawler = yield crawl(server, OURS)
    assert pages_fetched(server) == set(PAGES)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len([r for r in caplog.records if r.getMessage().startswith("robots.txt of")]) == 1
    assert "robotstxt/forbidden" not in crawler.stats.get_stats()
