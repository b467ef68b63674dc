"""The robots.txt middleware against a stand-in engine: settings, meta, user agents, what each answer means.

The real crawls (the waiting-requests bug, 503, a hang-up, 404) are in tests/e2e/test_robots.py.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import pytest_twisted
from scrapy import Request, signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import TextResponse
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.test import get_crawler
from twisted.internet.error import ConnectionRefusedError

from carnegie_crawler.robots import RobotsTxtMiddleware

HOST = "http://example.org"
ROBOTS = b"User-agent: *\nDisallow: /private/\n\nUser-agent: strictbot\nDisallow: /\n"


class FakeEngine:
    """`download_async` for robots.txt: answers `answer` (a status, or an exception to raise)."""

    def __init__(self, answer: int | Exception, body: bytes = ROBOTS) -> None:
        self.answer = answer
        self.body = body
        self.requests: list[Request] = []
        self.release = asyncio.Event()
        self.release.set()

    async def download_async(self, request: Request) -> TextResponse:
        self.requests.append(request)
        await self.release.wait()
        if isinstance(self.answer, Exception):
            raise self.answer
        return TextResponse(request.url, status=self.answer, body=self.body, request=request)


def on_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., Any]:
    """Run an async test as an asyncio task on the reactor's loop, as Scrapy runs the middleware."""

    @pytest_twisted.inlineCallbacks
    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        yield deferred_from_coro(test(*args, **kwargs))

    return wrapper


def middleware(engine: FakeEngine, **settings: Any) -> RobotsTxtMiddleware:
    crawler = get_crawler(settings_dict={"ROBOTSTXT_OBEY": True, "USER_AGENT": "carnegie", **settings})
    crawler.engine = engine  # type: ignore[assignment]
    return RobotsTxtMiddleware.from_crawler(crawler)


async def allowed(mw: RobotsTxtMiddleware, url: str, **kwargs: Any) -> bool:
    try:
        await mw.process_request(Request(url, **kwargs))
    except IgnoreRequest:
        return False
    return True


def test_robotstxt_obey_false_disables_the_middleware():
    with pytest.raises(NotConfigured):
        middleware(FakeEngine(200), ROBOTSTXT_OBEY=False)


@on_loop
async def test_rules_are_fetched_once_per_host_and_applied():
    engine = FakeEngine(200)
    mw = middleware(engine)
    assert await allowed(mw, f"{HOST}/public")
    assert not await allowed(mw, f"{HOST}/private/x")
    assert await allowed(mw, f"{HOST}/public/2")
    assert not await allowed(mw, "http://other.example.org/private/x")
    assert [r.url for r in engine.requests] == [f"{HOST}/robots.txt", "http://other.example.org/robots.txt"]
    assert engine.requests[0].meta["dont_obey_robotstxt"]
    assert mw.crawler.stats.get_value("robotstxt/forbidden") == 2


@on_loop
async def test_requests_waiting_on_robots_txt_all_get_the_rules():
    engine = FakeEngine(200)
    engine.release.clear()
    mw = middleware(engine)
    urls = [f"{HOST}/a", f"{HOST}/private/1", f"{HOST}/private/2", f"{HOST}/private/3"]
    checks = [asyncio.ensure_future(allowed(mw, url)) for url in urls]
    await asyncio.sleep(0)  # each task runs up to its wait: the first on the engine, the others on it
    assert len(engine.requests) == 1
    engine.release.set()
    assert await asyncio.gather(*checks) == [True, False, False, False]


@on_loop
async def test_meta_and_non_http_urls_skip_robots_txt():
    engine = FakeEngine(200)
    mw = middleware(engine)
    assert await allowed(mw, f"{HOST}/private/x", meta={"dont_obey_robotstxt": True})
    assert await allowed(mw, "data:,hello")
    assert engine.requests == []


@on_loop
async def test_robotstxt_user_agent_wins_over_the_request_header():
    assert not await allowed(middleware(FakeEngine(200)), f"{HOST}/a", headers={"User-Agent": "strictbot/1.0"})
    assert await allowed(
        middleware(FakeEngine(200), ROBOTSTXT_USER_AGENT="carnegie"),
        f"{HOST}/a",
        headers={"User-Agent": "strictbot/1.0"},
    )
    assert not await allowed(middleware(FakeEngine(200), USER_AGENT="strictbot"), f"{HOST}/a")


@pytest.mark.parametrize(
    ("answer", "is_allowed", "level"),
    [
        (404, True, logging.INFO),
        (410, True, logging.INFO),
        (500, False, logging.WARNING),
        (ConnectionRefusedError(), False, logging.WARNING),
        (IgnoreRequest("dropped"), True, logging.INFO),
    ],
)
@on_loop
async def test_what_a_failed_robots_txt_means(caplog, answer, is_allowed, level):
    caplog.set_level(logging.INFO, logger="carnegie_crawler.robots")
    mw = middleware(FakeEngine(answer, body=b"User-agent: *\nDisallow: /\n"))
    # The 4xx body is not rules (RFC 9309): this one would forbid everything if it were parsed.
    assert await allowed(mw, f"{HOST}/a") is is_allowed
    assert await allowed(mw, f"{HOST}/b") is is_allowed
    about_host = [r for r in caplog.records if r.getMessage().startswith("robots.txt of example.org ")]
    assert [r.levelno for r in about_host] == [level], "one line per host, however many requests"
    forbidden = [r.levelno for r in caplog.records if r.getMessage().startswith("Forbidden by robots.txt")]
    assert forbidden == ([] if is_allowed else [logging.INFO, logging.INFO])


@on_loop
async def test_robots_parsed_is_sent_for_parsed_rules():
    mw = middleware(FakeEngine(200))
    parsed: list[Any] = []

    def on_parsed(robotparser: Any, request: Request) -> None:
        parsed.append((robotparser, request.url))

    mw.crawler.signals.connect(on_parsed, signal=signals.robots_parsed)
    await allowed(mw, f"{HOST}/a")
    assert len(parsed) == 1
    assert parsed[0][1] == f"{HOST}/a"
    assert not parsed[0][0].allowed(f"{HOST}/private/x", "carnegie")
