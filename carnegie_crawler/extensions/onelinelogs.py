"""Failures of the network are facts to report, not program errors: one warning line, no traceback."""

from __future__ import annotations

import logging

from scrapy import signals
from scrapy.crawler import Crawler

# Scrapy components that log a failed download with a full traceback at ERROR level.
_LOGGERS = ("scrapy.downloadermiddlewares.robotstxt",)


class _OneLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.levelno >= logging.ERROR:
            record.msg = f"{record.getMessage()} (robots.txt unavailable: crawling without it)"
            record.args = None
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class OneLineNetworkErrors:
    def __init__(self) -> None:
        self.filter = _OneLine()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OneLineNetworkErrors:
        ext = cls()
        crawler.signals.connect(ext.engine_started, signal=signals.engine_started)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def engine_started(self) -> None:
        for name in _LOGGERS:
            logging.getLogger(name).addFilter(self.filter)

    def engine_stopped(self) -> None:
        for name in _LOGGERS:
            logging.getLogger(name).removeFilter(self.filter)
