"""Obey robots.txt: a drop-in for Scrapy's `RobotsTxtMiddleware` that gives every request the rules.

Scrapy 2.19's middleware parks the requests that arrive while robots.txt is being fetched on one
shared Deferred; awaiting a Deferred consumes its result, so only the first of them gets the rules
and the others get None, "allowed". Here each waiting request gets its own Deferred.

What the answer for robots.txt means (RFC 9309 §2.3.1), after `RetryMiddleware` has retried it:
- 2xx (or a 3xx Scrapy did not follow): the body is parsed with `ROBOTSTXT_PARSER`, and Scrapy's
  `robots_parsed` signal is sent with the parser.
- 4xx: "unavailable", no rules, the whole host is allowed. One INFO line per host.
- 5xx: "unreachable", the whole host is disallowed. One WARNING line per host.
- A network failure (connection refused or reset, timeout, DNS): the RFC's "unreachable due to
  server or network errors" too, so also disallowed, with one WARNING line and no traceback. A
  crawler that cannot read the rules does not know what it may fetch; crawling on regardless is
  what the RFC rules out.
- `IgnoreRequest` (a downloader middleware dropped the robots.txt request, or it redirected more
  than REDIRECT_MAX_TIMES): allowed, as Scrapy does and as RFC 9309 §2.3.1.2 permits. One INFO line.

Rules are fetched once per host (netloc) and kept for the crawl, like Scrapy's. A request robots.txt
forbids is an expected event: one INFO line, the `robotstxt/forbidden` stat, and `IgnoreRequest`.
Hosts taken as disallowed are counted in `robotstxt/unreachable`; Scrapy's other `robotstxt/*`
stats are kept as they were.

Settings: ROBOTSTXT_OBEY (NotConfigured when false), ROBOTSTXT_USER_AGENT, ROBOTSTXT_PARSER;
`dont_obey_robotstxt` in a request's meta skips the check.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self

from scrapy import Request, signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http.request import NO_CALLBACK
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler, load_object
from twisted.internet.defer import Deferred

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

# None stands for "no rules: everything allowed", as in Scrapy's middleware.
Rules = RobotParser | None


class _DisallowAll(RobotParser):
    """The rules of a host whose robots.txt is unreachable: nothing on it may be fetched."""

    @classmethod
    def from_crawler(cls, crawler: Crawler, robotstxt_body: bytes) -> Self:
        return cls()

    def allowed(self, url: str | bytes, user_agent: str | bytes) -> bool:
        return False


DISALLOW_ALL = _DisallowAll()


def _describe(exc: BaseException) -> str:
    """A download failure's root cause, in one line: Scrapy wraps Twisted's errors, which wrap Failures."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    reasons = getattr(exc, "reasons", None)  # ResponseNeverReceived and kin: a list of Failures
    if reasons:
        exc = getattr(reasons[0], "value", exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class RobotsTxtMiddleware:
    # The same priority Scrapy gives robots.txt: it goes out before the pages waiting on it.
    DOWNLOAD_PRIORITY = 1000

    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured
        assert crawler.stats is not None
        self.crawler = crawler
        self._stats = crawler.stats
        self._default_useragent: str = crawler.settings["USER_AGENT"]
        self._robotstxt_useragent: str | None = crawler.settings["ROBOTSTXT_USER_AGENT"]
        self._parserimpl: type[RobotParser] = load_object(crawler.settings["ROBOTSTXT_PARSER"])
        # Build one parser now, so a missing parser library fails the start, not the first page.
        build_from_crawler(self._parserimpl, crawler, b"")
        self._rules: dict[str, Rules] = {}
        # Requests waiting for a robots.txt being fetched, one Deferred each (see the module doc).
        self._waiting: dict[str, list[Deferred[Rules]]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        if request.meta.get("dont_obey_robotstxt") or request.url.startswith(("data:", "file:")):
            return
        rules = await self.robot_parser(request)
        if rules is None or rules.allowed(request.url, self._useragent(request)):
            return
        logger.info("Forbidden by robots.txt: %(request)s", {"request": request}, extra={"spider": self.crawler.spider})
        self._stats.inc_value("robotstxt/forbidden")
        raise IgnoreRequest("Forbidden by robots.txt")

    def _useragent(self, request: Request) -> str | bytes:
        return self._robotstxt_useragent or request.headers.get(b"User-Agent") or self._default_useragent

    async def robot_parser(self, request: Request) -> Rules:
        """The rules for the request's host, fetching its robots.txt the first time."""
        url = urlparse_cached(request)
        netloc = url.netloc
        if netloc in self._rules:
            return self._rules[netloc]
        if netloc in self._waiting:
            waiter: Deferred[Rules] = Deferred()
            self._waiting[netloc].append(waiter)
            return await maybe_deferred_to_future(waiter)
        self._waiting[netloc] = []
        # Only a cancelled fetch (the crawl shutting down) leaves this: rules never learnt allow nothing.
        rules: Rules = DISALLOW_ALL
        try:
            rules = await self._fetch(f"{url.scheme}://{netloc}/robots.txt", netloc, request)
        finally:
            # Cache first: a waiter resumed by callback() may already ask for this host again.
            self._rules[netloc] = rules
            for waiter in self._waiting.pop(netloc):
                waiter.callback(rules)
        return rules

    async def _fetch(self, robotsurl: str, netloc: str, request: Request) -> Rules:
        robotsreq = Request(
            robotsurl, priority=self.DOWNLOAD_PRIORITY, meta={"dont_obey_robotstxt": True}, callback=NO_CALLBACK
        )
        assert self.crawler.engine is not None
        self._stats.inc_value("robotstxt/request_count")
        try:
            response: Response = await self.crawler.engine.download_async(robotsreq)
        except IgnoreRequest as exc:
            self._log(logging.INFO, netloc, f"was not fetched ({exc})", "crawling the host without it")
            return None
        except Exception as exc:  # every failure to get an answer, after RetryMiddleware's retries
            self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
            return self._unreachable(netloc, f"could not be fetched ({_describe(exc)})")
        self._stats.inc_value("robotstxt/response_count")
        self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
        if response.status >= 500:
            return self._unreachable(netloc, f"answered HTTP {response.status}")
        if response.status >= 400:
            self._log(logging.INFO, netloc, f"answered HTTP {response.status}", "no rules, the whole host is allowed")
            return None
        rules = build_from_crawler(self._parserimpl, self.crawler, response.body)
        await self.crawler.signals.send_catch_log_async(
            signal=signals.robots_parsed, robotparser=rules, request=request
        )
        return rules

    def _unreachable(self, netloc: str, what: str) -> Rules:
        # Logged once per host: robots.txt is fetched once per host and its answer kept.
        self._log(logging.WARNING, netloc, what, "treating the whole host as disallowed")
        self._stats.inc_value("robotstxt/unreachable")
        return DISALLOW_ALL

    def _log(self, level: int, netloc: str, what: str, outcome: str) -> None:
        logger.log(
            level,
            "robots.txt of %s %s: %s (RFC 9309)",
            netloc,
            what,
            outcome,
            extra={"spider": self.crawler.spider},
        )
