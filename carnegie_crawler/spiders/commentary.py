"""The `commentary` spider: start pages, then Recent Work and More Work cards, nothing else.

It navigates; extraction is `extraction.extract_from_response`, and what a run
writes, stages and publishes belongs to the run's owner (`run.owner.RunOwner`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from ..archive import provenance
from ..extensions.workers import ExtractionWorkers
from ..extraction import extract_with_report
from ..items import Publication
from ..run.ledger import Ledger
from ..run.owner import RunOwner
from ..urls import SITE_HOST, host_key, is_excluded_section, is_publication_url, request_url
from .arguments import SpiderArguments, parse_arguments


class CommentarySpider(scrapy.Spider):
    name = "commentary"

    def __init__(self, **kwargs: Any) -> None:
        # Not passed on: scrapy.Spider would set every argument as an attribute, typos included.
        super().__init__()
        self.arguments = parse_arguments(kwargs)
        self.start_pages = list(self.arguments.start_pages)
        self.hosts = frozenset(host_key(urlsplit(u).hostname or "") for u in self.start_pages)
        # Card URLs already followed (or turned down) in this run. Scrapy's dupefilter sees only
        # requests; an incremental run also walks the stored cards of documents it does not request
        # (follow_cards), and this set is what makes that walk end. Scrapy's dupefilter and offsite
        # middleware still apply to every request and redirect; the host check in follow_cards only
        # counts off-site cards (carnegie/links/offsite) before any request is built.
        self.links_seen: set[str] = set()
        # Scrapy's offsite filter also applies to redirects.
        self.allowed_domains = sorted(self.hosts)
        # A mirror serves pages whose links name carnegieendowment.org (items hold canonical URLs):
        # those are followed on the mirror (docs/site.md, "Mirrors").
        self.on_mirror = SITE_HOST not in self.hosts

    @staticmethod
    def check_arguments(**given: Any) -> SpiderArguments:
        """Validate the spider arguments; raises SpiderArgumentError with a one-line reason."""
        return parse_arguments(given)

    @property
    def incremental(self) -> bool:
        return self.run.incremental if self.run is not None else bool(self.arguments.incremental)

    async def start(self) -> AsyncIterator[Any]:
        for url in self.start_pages:
            yield scrapy.Request(url, callback=self.parse, errback=self.on_error, meta={"carnegie_start": True})

    async def parse(self, response: Response) -> AsyncIterator[Any]:
        stats = self.crawler.stats
        assert stats is not None
        if response.meta.get("carnegie_start"):
            stats.inc_value("carnegie/start_pages/fetched")
        ledger = self.run.ledger if self.run is not None else None
        if response.status == 304 and ledger is not None and (known := response.meta.get("carnegie_known")):
            stats.inc_value("carnegie/items/unchanged")
            if not response.meta.get("redirect_urls"):
                ledger.stage_unchanged(known, response.request.url if response.request else response.url)
            # else: the address redirected, and the 304 is about the page it landed on, which may be another
            # document's: it says nothing of this one, which is left as it was.
            # No body to read links from: follow the cards the page had last time.
            for request in self.follow_cards(self.capped(known.links, response.url), response.url):
                yield request
            return
        if not isinstance(response, TextResponse) or b"html" not in (response.headers.get("Content-Type") or b"html"):
            stats.inc_value("carnegie/pages/not_html")
            self.logger.info("Skipped %s: not an HTML page (%s)", response.url, _content_type(response))
            if ledger is not None:
                ledger.stage_dead_end(response.url, f"not html: {_content_type(response)}")
                self.note_redirected_away(response, ledger)  # a publication's address that now serves a file
            return
        if "dataloss" in response.flags:
            stats.inc_value("carnegie/pages/truncated")
            self.logger.warning("Truncated response from %s: extracting what arrived", response.url)
        item = await self.extract(response)
        if ledger is not None:
            # Not a truncated body's validators: they name the whole page, whose conditional requests would
            # answer 304 for good and keep what arrived as the document; without them it is fetched again.
            whole = "dataloss" not in response.flags
            ledger.remember_response(
                response.url, _header(response, b"ETag") if whole else None,
                _header(response, b"Last-Modified") if whole else None, response.meta.get("redirect_urls", []),
            )  # fmt: skip
        for request in self.follow_cards(self.cards_of(item, response.url), response.url):
            yield request
        if ledger is not None and not is_publication_url(response.url):
            self.note_redirected_away(response, ledger)
        if self.wanted(item, response.url):
            stats.inc_value(f"carnegie/items/type/{item.content_type or 'unknown'}")
            if self.run is not None:
                item.run_id = self.run.run_id  # lineage: every record names the run that wrote it
                item.archive = provenance(self.run.archive, response.meta)  # type: ignore[assignment]
            yield item
        elif ledger is not None:
            ledger.forget_response(response.url)

    def wanted(self, item: Publication, url: str) -> bool:
        """A publication page whose type and date pass the `types` and `since` arguments."""
        stats = self.crawler.stats
        assert stats is not None
        if not is_publication_url(url):
            stats.inc_value("carnegie/pages/not_publication")
            self.logger.warning("No item from %s: not a publication page", url)
            return False
        if self.arguments.types is not None and item.content_type not in self.arguments.types:
            stats.inc_value("carnegie/items/skipped_type")
            return False
        since = self.arguments.since
        if since is None:
            return True
        if item.content_type not in (self.run.config.stub_types if self.run is not None else ()):
            # What the health check needs to tell "nothing new since" from "no date read": an undated page
            # cannot pass the filter, and a broken date extraction would otherwise end healthy and empty.
            stats.inc_value("carnegie/items/since_judged")
            stats.inc_value("carnegie/items/undated", item.published_date is None)
        if item.published_date is None or item.published_date < since:
            stats.inc_value("carnegie/items/before_since")
            return False
        return True

    def cards_of(self, item: Publication, url: str) -> Sequence[str]:
        """The page's card links, at most CARNEGIE_MAX_CARDS_PER_PAGE of them."""
        return self.capped([*item.related["recent_work"], *item.related["more_work"]], url)

    def capped(self, cards: Sequence[str], url: str) -> Sequence[str]:
        """At most CARNEGIE_MAX_CARDS_PER_PAGE cards of the page at *url*, live or as stored last time."""
        limit = self.run.max_cards_per_page if self.run is not None else len(cards)
        if len(cards) > limit:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("carnegie/pages/too_many_cards")
            self.logger.warning(
                "%s lists %d cards; following the first %d (CARNEGIE_MAX_CARDS_PER_PAGE)", url, len(cards), limit
            )
            cards = cards[:limit]
        return cards

    def note_redirected_away(self, response: Response | scrapy.Request, ledger: Ledger) -> None:
        """Publication addresses that now redirect off the publications count as gone (docs/runs.md, "Removals")."""
        for origin in response.meta.get("redirect_urls", []):
            if is_publication_url(origin):
                ledger.stage_dead_end(origin, f"redirected away to {response.url}")

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> CommentarySpider:
        spider: CommentarySpider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.redirect_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(spider.redirect_dropped, signal=signals.request_dropped)
        return spider

    def redirect_scheduled(self, request: scrapy.Request, **kwargs: Any) -> None:
        """A redirect to another host never reaches a callback (Scrapy drops it as off-site when it is
        scheduled): the publication addresses it came from are gone from the site all the same."""
        if not request.meta.get("redirect_urls"):  # every request passes here: the cheap test first
            return
        ledger = self.run.ledger if self.run is not None else None
        if ledger is not None and host_key(urlsplit(request.url).hostname or "") not in self.hosts:
            self.note_redirected_away(request, ledger)

    def redirect_dropped(self, request: scrapy.Request, **kwargs: Any) -> None:
        """A redirect to a page or file this run already fetched is dropped as a duplicate: if it is no
        publication, the addresses it came from are gone (to a publication, they are its other addresses)."""
        ledger = self.run.ledger if self.run is not None else None
        if ledger is not None and request.meta.get("redirect_urls") and not is_publication_url(request.url):
            self.note_redirected_away(request, ledger)

    # Looked up once: every page and every card link asks, and the extensions never change in a crawl.
    @cached_property
    def run(self) -> RunOwner | None:
        return self.crawler.get_extension(RunOwner)

    @cached_property
    def workers(self) -> ExtractionWorkers | None:
        return self.crawler.get_extension(ExtractionWorkers)

    async def extract(self, response: TextResponse) -> Publication:
        """The page's `Publication`, from a worker process when CARNEGIE_EXTRACT_WORKERS runs some."""
        workers = self.workers
        if workers is not None:
            item, wrong_typed = await workers.extract(response)
        else:
            item, wrong_typed = extract_with_report(response)
        assert self.crawler.stats is not None
        for key in wrong_typed:  # logged by the extractor, once per page
            self.crawler.stats.inc_value(f"carnegie/extraction/wrong_typed/{key}")
        return item

    def follow_cards(self, links: Iterable[str], page_url: str) -> Iterator[scrapy.Request]:
        """Requests for the cards not seen yet in this run.

        In an incremental run a fresh document is not requested, but the cards it had
        last time are followed in its place, and theirs in turn: so the run reaches
        every document a full run would, a page that failed last time included.
        """
        stats = self.crawler.stats
        assert stats is not None
        pending = [self.on_serving_host(link, page_url) for link in links]
        while pending:
            url = request_url(pending.pop(0))
            if url is None or url in self.links_seen:
                continue
            self.links_seen.add(url)
            if host_key(urlsplit(url).hostname or "") not in self.hosts:
                stats.inc_value("carnegie/links/offsite")
                continue
            if is_excluded_section(url):
                stats.inc_value("carnegie/links/not_publication")
                continue
            request, stored_links = self.incremental_request(url)
            pending.extend(self.on_serving_host(link, url) for link in stored_links)
            if request is not None:
                stats.inc_value("carnegie/links/followed")
                yield request

    def on_serving_host(self, link: str, page_url: str) -> str:
        """On a mirror, a carnegieendowment.org link is followed on the mirror that served the page."""
        if not self.on_mirror or not link.startswith(f"https://{SITE_HOST}/"):
            return link
        parts = urlsplit(page_url)
        return f"{parts.scheme}://{parts.netloc}{link[len(SITE_HOST) + 8 :]}"

    def incremental_request(self, url: str) -> tuple[scrapy.Request | None, Sequence[str]]:
        """A request for *url* (none for fresh documents, conditional for older ones), and stored cards to follow."""
        request = scrapy.Request(url, callback=self.parse, errback=self.on_error)
        ledger = self.run.ledger if self.run is not None else None
        if not self.incremental or ledger is None:
            return request, ()
        stats = self.crawler.stats
        assert stats is not None
        if ledger.is_fresh_dead_end(url):
            stats.inc_value("carnegie/incremental/skipped_dead_end")
            return None, ()
        if (known := ledger.lookup_url(url)) is None:
            return request, ()
        if ledger.is_fresh(known):
            stats.inc_value("carnegie/incremental/skipped_fresh")
            return None, self.capped(known.links, url)
        headers = {}
        if known.etag:
            headers["If-None-Match"] = known.etag
        if known.last_modified:
            headers["If-Modified-Since"] = known.last_modified
        meta = {"carnegie_known": known, "handle_httpstatus_list": [304]}
        return request.replace(headers=headers, meta=meta), ()

    def on_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        stats = self.crawler.stats
        assert stats is not None
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            # robots.txt forbids it: an expected event, logged at INFO by our robots middleware
            # and counted as robotstxt/forbidden, not an error.
            return
        kind = failure.type.__name__ if failure.type else "Exception"
        stats.inc_value(f"carnegie/errors/{kind}")
        if request.meta.get("carnegie_start"):
            stats.inc_value("carnegie/start_pages/failed")
        response = getattr(failure.value, "response", None)
        ledger = self.run.ledger if self.run is not None else None
        if response is not None and response.status in (404, 410):
            # An expected event on a living site: a card to a page that was taken down. An old
            # address that redirected here is gone with it.
            if ledger is not None:
                for url in (request.url, *request.meta.get("redirect_urls", [])):
                    ledger.stage_dead_end(url, f"HTTP {response.status}")
            self.logger.info("Gone (HTTP %d): %s", response.status, request.url)
            return
        self.logger.warning("Failed %s: %s", request.url, failure.getErrorMessage() or kind)


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _content_type(response: Response) -> str:
    return (response.headers.get("Content-Type") or b"unknown").decode("latin-1")
