"""Run the crawl's extraction in worker processes (CARNEGIE_EXTRACT_WORKERS)."""

from __future__ import annotations

import logging

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import TextResponse
from scrapy.utils.reactor import is_asyncio_reactor_installed

from ..items import Publication
from ..process_pool import WorkerPool
from ..run.config import MAX_EXTRACT_WORKERS
from ..run.outcome import EXIT_BAD_INPUT, RunStartError

logger = logging.getLogger(__name__)


class ExtractionWorkers:
    """Starts the pool when the spider opens and stops it when it closes; 0 workers: off."""

    def __init__(self, crawler: Crawler, size: int) -> None:
        self.crawler = crawler
        self.pool = WorkerPool(size)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractionWorkers:
        # The run commands check it before the crawl (run/config.py); this is for a crawl started otherwise.
        try:
            size: int | None = crawler.settings.getint("CARNEGIE_EXTRACT_WORKERS")
        except ValueError:  # "two": one line, not a traceback
            size = None
        if size is None or size > MAX_EXTRACT_WORKERS:
            raw = crawler.settings.get("CARNEGIE_EXTRACT_WORKERS")
            bounds = f"a whole number between 0 and {MAX_EXTRACT_WORKERS}"
            raise RunStartError(f"CARNEGIE_EXTRACT_WORKERS must be {bounds}, not {raw!r}", EXIT_BAD_INPUT)
        if size <= 0:
            raise NotConfigured("CARNEGIE_EXTRACT_WORKERS is 0: pages are extracted in the crawl's own process")
        if not is_asyncio_reactor_installed():
            logger.info("Extraction workers need the asyncio reactor: pages are extracted in the crawl's own process")
            raise NotConfigured("not the asyncio reactor")
        ext = cls(crawler, size)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self) -> None:
        self.pool.start()

    async def spider_closed(self) -> None:
        await self.pool.close()
        stats = self.crawler.stats
        if stats is not None:
            stats.set_value("carnegie/extraction/in_workers", self.pool.in_workers)
            stats.set_value("carnegie/extraction/in_process", self.pool.in_process)
            if self.pool.crashes:
                stats.set_value("carnegie/extraction/worker_crashes", self.pool.crashes)

    async def extract(self, response: TextResponse) -> tuple[Publication, list[str]]:
        """`extract_with_report(response)`, from a worker process (or this one, if a worker died)."""
        return await self.pool.extract(response)
