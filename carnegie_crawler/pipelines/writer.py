"""Write items as JSON Lines to CARNEGIE_OUTPUT; the file appears at its path only when published.

Lines go to `<path>.part`. At close the `RunFinalizer` extension publishes the
file (rename) and then commits the cross-run state, in that order. A JOBDIR
run that is paused keeps its `.part` file and appends to it when resumed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro

from ..output import JsonLinesFile, check_writable, item_line, render_path

logger = logging.getLogger(__name__)
_STATE_KEY = "carnegie_output"


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
        # Fail before the first request; the file itself opens with the first item,
        # once a resumed JOBDIR run has its saved state back.
        check_writable(render_path(self.template, self.crawler, self.crawler.spidercls.name))

    def _open(self) -> JsonLinesFile:
        state = getattr(self.crawler.spider, "state", None)
        saved = state.get(_STATE_KEY) if isinstance(state, dict) else None
        if saved:
            self.file = JsonLinesFile(Path(saved))
            self.file.open(resume=True)
            logger.info("Resuming output in %s (%d lines so far)", self.file.part, self.file.lines)
        else:
            self.file = JsonLinesFile(render_path(self.template, self.crawler, self.crawler.spidercls.name))
            self.file.open()
            logger.info("Writing items to %s", self.file.part)
        if isinstance(state, dict):
            state[_STATE_KEY] = str(self.file.path)
        return self.file

    def process_item(self, item: Any) -> Any:
        stats = self.crawler.stats
        assert stats is not None
        if self.failed:
            return item
        out = self.file or self._open()
        try:
            out.write_line(item_line(item))
        except OSError as exc:
            # Disk full or similar: stop rather than carry on with a hole in the dataset.
            self.failed = True
            logger.error("Cannot write to %s: %s; stopping the crawl", out.part, exc.strerror or exc)
            stats.set_value("carnegie/output/error", str(exc.strerror or exc))
            assert self.crawler.engine is not None
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="output_error"))
            return item
        stats.inc_value("carnegie/output/items")
        return item

    def close_spider(self) -> None:
        if self.file is None and not self.failed:
            self._open()  # an empty run still publishes an (empty) file
        assert self.file is not None
        self.file.close()
        from ..extensions.finalizer import RunFinalizer

        if self.crawler.get_extension(RunFinalizer) is None:
            self.publish()

    @property
    def path(self) -> Path | None:
        return self.file.path if self.file is not None else None

    def publish(self) -> Path | None:
        """Move the finished file into place; None if writing failed (the `.part` stays)."""
        if self.file is None or self.failed:
            if self.file is not None:
                logger.error("Output left incomplete in %s", self.file.part)
            return None
        path = self.file.commit()
        state = getattr(self.crawler.spider, "state", None)
        if isinstance(state, dict):
            state.pop(_STATE_KEY, None)
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("carnegie/output/path", str(path))
        self.crawler.stats.set_value("carnegie/output/lines", self.file.lines)
        logger.info("Wrote %d item(s) to %s", self.file.lines, path)
        return path
