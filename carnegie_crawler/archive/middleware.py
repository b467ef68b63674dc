"""Write every response the crawl fetches to the run's archive, as Scrapy received it.

A downloader middleware placed next to the downloader (DOWNLOADER_MIDDLEWARES priority 950:
above RedirectMiddleware at 600, HttpCompressionMiddleware at 590 and RetryMiddleware at 550,
whose `process_response` run after ours), so it sees every raw response: each redirect
before it is followed, each retried 5xx, each 404, the body still compressed if it was sent
so, and the robots.txt fetch, which goes through the same middlewares. The request record
holds the request as sent (the headers every earlier middleware added).

The record id goes into `request.meta[RECORD_META]` (the response shares the request's meta),
so the spider can name, in each item, the record its page came from (`warc.provenance`).
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from ..run.owner import owner_of
from .warc import RECORD_META, WarcFile

logger = logging.getLogger(__name__)

PRIORITY = 950


class ArchiveMiddleware:
    def __init__(self, crawler: Crawler, archive: WarcFile, run: Any = None) -> None:
        self.crawler = crawler
        self.archive = archive
        self.run = run
        self.failed = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveMiddleware:
        run = owner_of(crawler)
        archive = getattr(run, "archive", None)
        if archive is None:
            raise NotConfigured("no archive (CARNEGIE_ARCHIVE is empty, or the run fetches nothing)")
        return cls(crawler, archive, run)

    def process_response(self, request: Request, response: Response) -> Response:
        if self.failed or not self.archive.is_open:
            return response
        try:
            record_id = self.archive.write_exchange(request, response)
        except OSError as exc:
            self._failed(exc)
            return response
        request.meta[RECORD_META] = record_id
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value("carnegie/archive/responses")
            stats.set_value("carnegie/archive/bytes", self.archive.size)
        return response

    def _failed(self, exc: OSError) -> None:
        """A full disk: the archive would miss pages from here on, so the run stops (and so is unhealthy)."""
        self.failed = True
        reason = exc.strerror or str(exc)
        if self.crawler.stats is not None:
            self.crawler.stats.set_value("carnegie/archive/error", reason)
        self.run.stop(OSError(exc.errno, f"cannot write the archive {self.archive.part}: {reason}"))
