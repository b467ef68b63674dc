"""The `commentary` spider: start pages, then Recent Work and More Work cards, nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from ..extensions.state import CrawlState
from ..extensions.workers import ExtractionWorkers
from ..extraction import extract_from_response
from ..extraction.vocab import KNOWN_TYPES
from ..items import Publication
from ..urls import host_key, is_excluded_section, is_publication_url, normalize_url, request_url

DEFAULT_START_URLS = (
    "https://carnegieendowment.org/middle-east/posts/2014/02/deadlock-in-geneva-puts-more-responsibility-on-the-west-and-russia",
    "https://carnegieendowment.org/russia-eurasia/politika/2026/02/russia-negotiations-purpose",
)


class SpiderArgumentError(ValueError):
    """A spider argument is unusable; the message says which and why."""


def parse_start_urls(start_urls: str | None = None, start_urls_file: str | None = None) -> list[str]:
    raw: list[tuple[str, str]] = []
    if start_urls:
        raw += [(u, "start_urls") for u in start_urls.split(",") if u.strip()]
    if start_urls_file:
        raw += [(u, f"{start_urls_file}") for u in _read_url_file(start_urls_file)]
    if not start_urls and not start_urls_file:
        raw = [(u, "default") for u in DEFAULT_START_URLS]
    urls: list[str] = []
    for value, origin in raw:
        url = normalize_url(value)
        if url is None:
            raise SpiderArgumentError(f"not an http(s) URL in {origin}: {value.strip()!r}")
        if url not in urls:
            urls.append(url)
    if not urls:
        raise SpiderArgumentError("no start URLs given")
    return urls


def _read_url_file(path: str) -> Iterator[str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpiderArgumentError(f"cannot read start_urls_file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SpiderArgumentError(f"start_urls_file {path} is not UTF-8 text") from None
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            yield line


def parse_types(types: str | None) -> frozenset[str] | None:
    """Comma-separated content types to emit; None means all."""
    if types is None or not types.strip():
        return None
    wanted = set()
    for value in types.split(","):
        key = value.strip().lower()
        if not key:
            continue
        if key not in KNOWN_TYPES:
            known = ", ".join(sorted(KNOWN_TYPES.values()))
            raise SpiderArgumentError(f"unknown content type {value.strip()!r} in types (known: {known})")
        wanted.add(KNOWN_TYPES[key])
    return frozenset(wanted)


def parse_bool(name: str, value: str | bool | None) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    key = value.strip().lower()
    if key in ("1", "true", "yes", "on"):
        return True
    if key in ("0", "false", "no", "off"):
        return False
    raise SpiderArgumentError(f"{name} must be true or false, not {value!r}")


def parse_since(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise SpiderArgumentError(f"since must be a date as YYYY-MM-DD, not {value!r}") from None


@dataclass(frozen=True)
class Arguments:
    start_pages: list[str]
    types: frozenset[str] | None
    incremental: bool | None
    since: str | None


class CommentarySpider(scrapy.Spider):
    name = "commentary"
    incremental = False  # set in from_crawler: the `incremental` argument, else CARNEGIE_INCREMENTAL

    def __init__(
        self,
        start_urls: str | None = None,
        start_urls_file: str | None = None,
        types: str | None = None,
        incremental: str | None = None,
        since: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        given = {"start_urls": start_urls, "start_urls_file": start_urls_file, "types": types}
        given |= {"incremental": incremental, "since": since}
        self.arguments = {k: v for k, v in given.items() if v is not None}
        args_ = self.check_arguments(**self.arguments)
        self.start_pages, self.emit_types, self.since = args_.start_pages, args_.types, args_.since
        self._incremental_arg = args_.incremental
        self.incremental = bool(args_.incremental)
        self.hosts = frozenset(host_key(urlsplit(u).hostname or "") for u in self.start_pages)
        # Card URLs already followed (or turned down) in this run. Most cards are listed on many
        # pages; Scrapy's dupefilter would drop the repeats too, but only after building a request
        # and passing it through every middleware, which costs more than reading the page's links.
        self.links_seen: set[str] = set()
        # Scrapy's offsite filter also applies to redirects.
        self.allowed_domains = sorted(self.hosts)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> CommentarySpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        # The argument wins over the setting, so one scheduled job can differ from the default.
        spider.incremental = (
            spider._incremental_arg
            if spider._incremental_arg is not None
            else crawler.settings.getbool("CARNEGIE_INCREMENTAL")
        )
        return spider

    @staticmethod
    def check_arguments(
        start_urls: str | None = None,
        start_urls_file: str | None = None,
        types: str | None = None,
        incremental: str | None = None,
        since: str | None = None,
        **_: Any,
    ) -> Arguments:
        """Validate the spider arguments; raises SpiderArgumentError with a one-line reason."""
        return Arguments(
            parse_start_urls(start_urls, start_urls_file),
            parse_types(types),
            parse_bool("incremental", incremental),
            parse_since(since),
        )

    async def start(self) -> AsyncIterator[Any]:
        for url in self.start_pages:
            yield scrapy.Request(url, callback=self.parse, errback=self.on_error, meta={"carnegie_start": True})

    async def parse(self, response: Response) -> AsyncIterator[Any]:
        stats = self.crawler.stats
        assert stats is not None
        if response.meta.get("carnegie_start"):
            stats.inc_value("carnegie/start_pages/fetched")
            job = getattr(self, "state", None)  # JOBDIR: a resumed run remembers its start pages
            if isinstance(job, dict):
                job["carnegie_start_pages_fetched"] = job.get("carnegie_start_pages_fetched", 0) + 1
        state = self.crawl_state
        if response.status == 304 and state is not None and (known := response.meta.get("carnegie_known")):
            stats.inc_value("carnegie/items/unchanged")
            state.stage_unchanged(known, response.request.url if response.request else response.url)
            # No body to read links from: follow the cards the page had last time.
            for request in self.follow_cards(known.links):
                yield request
            return
        if not isinstance(response, TextResponse) or b"html" not in (response.headers.get("Content-Type") or b"html"):
            stats.inc_value("carnegie/pages/not_html")
            self.logger.info("Skipped %s: not an HTML page (%s)", response.url, _content_type(response))
            if state is not None:
                state.stage_dead_end(response.url, f"not html: {_content_type(response)}")
            return
        if "dataloss" in response.flags:
            stats.inc_value("carnegie/pages/truncated")
            self.logger.warning("Truncated response from %s: extracting what arrived", response.url)
        item = await self.extract(response)
        if state is not None:
            state.remember_validators(response.url, _header(response, b"ETag"), _header(response, b"Last-Modified"))
            state.remember_aliases(response.url, response.meta.get("redirect_urls", []))
        for request in self.follow_cards([*item.related["recent_work"], *item.related["more_work"]]):
            yield request
        if not is_publication_url(response.url):
            stats.inc_value("carnegie/pages/not_publication")
            self.logger.warning("No item from %s: not a publication page", response.url)
        elif self.emit_types is not None and item.content_type not in self.emit_types:
            stats.inc_value("carnegie/items/skipped_type")
        else:
            stats.inc_value(f"carnegie/items/type/{item.content_type or 'unknown'}")
            yield item

    # Looked up once: every page and every card link asks, and the extensions never change in a crawl.
    @cached_property
    def crawl_state(self) -> CrawlState | None:
        return self.crawler.get_extension(CrawlState)

    @cached_property
    def workers(self) -> ExtractionWorkers | None:
        return self.crawler.get_extension(ExtractionWorkers)

    async def extract(self, response: TextResponse) -> Publication:
        """The page's `Publication`, from a worker process when CARNEGIE_EXTRACT_WORKERS runs some."""
        workers = self.workers
        if workers is None:
            return extract_from_response(response)
        return await workers.extract(response)

    def follow_cards(self, links: Iterable[str]) -> Iterable[scrapy.Request]:
        stats = self.crawler.stats
        assert stats is not None
        for url in filter(None, map(request_url, links)):
            if url in self.links_seen:
                continue
            self.links_seen.add(url)
            if host_key(urlsplit(url).hostname or "") not in self.hosts:
                stats.inc_value("carnegie/links/offsite")
                continue
            if is_excluded_section(url):
                stats.inc_value("carnegie/links/not_publication")
                continue
            request = self.incremental_request(url)
            if request is not None:
                stats.inc_value("carnegie/links/followed")
                yield request

    def incremental_request(self, url: str) -> scrapy.Request | None:
        """A request for *url*; in incremental runs, none for fresh documents, conditional for older ones."""
        request = scrapy.Request(url, callback=self.parse, errback=self.on_error)
        state = self.crawl_state
        if not self.incremental or state is None:
            return request
        if state.is_fresh_dead_end(url):
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("carnegie/incremental/skipped_dead_end")
            return None
        if (known := state.lookup_url(url)) is None:
            return request
        if state.is_fresh(known):
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("carnegie/incremental/skipped_fresh")
            return None
        headers = {}
        if known.etag:
            headers["If-None-Match"] = known.etag
        if known.last_modified:
            headers["If-Modified-Since"] = known.last_modified
        meta = {"carnegie_known": known, "handle_httpstatus_list": [304]}
        return request.replace(headers=headers, meta=meta)

    def on_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        stats = self.crawler.stats
        assert stats is not None
        kind = failure.type.__name__ if failure.type else "Exception"
        stats.inc_value(f"carnegie/errors/{kind}")
        if request.meta.get("carnegie_start"):
            stats.inc_value("carnegie/start_pages/failed")
        response = getattr(failure.value, "response", None)
        state = self.crawl_state
        if state is not None and response is not None and response.status in (404, 410):
            state.stage_dead_end(request.url, f"HTTP {response.status}")
        self.logger.warning("Failed %s: %s", request.url, failure.getErrorMessage() or kind)


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _content_type(response: Response) -> str:
    return (response.headers.get("Content-Type") or b"unknown").decode("latin-1")
