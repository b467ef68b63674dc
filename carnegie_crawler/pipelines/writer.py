"""Write items as JSON Lines to CARNEGIE_OUTPUT, renamed into place when the crawl closes."""

from __future__ import annotations

import logging
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro

from ..output import JsonLinesFile, OutputError, render_path

logger = logging.getLogger(__name__)


class JsonLinesWriterPipeline:
    def __init__(self, crawler: Crawler, template: str) -> None:
        self.crawler = crawler
        self.template = template
        self.file: JsonLinesFile | None = None
        self.failed = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> JsonLinesWriterPipeline:
        template = crawler.settings.get("CARNEGIE_OUTPUT")
        if not template:
            raise NotConfigured("CARNEGIE_OUTPUT is empty")
        return cls(crawler, template)

    def open_spider(self) -> None:
        self.file = JsonLinesFile(render_path(self.template, self.crawler, self.crawler.spidercls.name))
        self.file.open()
        logger.info("Writing items to %s", self.file.part)

    def process_item(self, item: Any) -> Any:
        assert self.file is not None
        assert self.crawler.stats is not None
        if self.failed:
            return item
        try:
            self.file.write(ItemAdapter(item).asdict())
        except OSError as exc:
            # Disk full or similar: stop rather than carry on with a hole in the dataset.
            self.failed = True
            logger.error("Cannot write to %s: %s; stopping the crawl", self.file.part, exc.strerror or exc)
            self.crawler.stats.set_value("carnegie/output/error", str(exc))
            assert self.crawler.engine is not None
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="output_error"))
            return item
        self.crawler.stats.inc_value("carnegie/output/items")
        return item

    def close_spider(self) -> None:
        if self.file is None or not self.file.is_open:
            return
        if self.failed:
            self.file.close()
            logger.error("Output left incomplete in %s", self.file.part)
            return
        try:
            path = self.file.commit()
        except OSError as exc:
            raise OutputError(f"cannot finish {self.file.part}: {exc.strerror or exc}") from None
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("carnegie/output/path", str(path))
        logger.info("Wrote %d item(s) to %s", self.file.lines, path)
