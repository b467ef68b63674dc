"""Downloader middleware: every request, redirects included, goes out with a normalised URL."""

from __future__ import annotations

from scrapy import Request
from scrapy.crawler import Crawler

from .urls import normalize_url


class NormalizeUrlMiddleware:
    """A redirect to `...?utm_source=x` or to `www.` is rescheduled under its normal form.

    The rescheduled request passes the duplicate filter again, so a document the
    crawl already has is not fetched a second time.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NormalizeUrlMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> Request | None:
        normalized = normalize_url(request.url)
        if normalized is None or normalized == request.url:
            return None
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("carnegie/requests/renormalized")
        return request.replace(url=normalized)
