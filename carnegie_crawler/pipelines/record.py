"""Stage each written item in the cross-run state (committed with the output at close)."""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from ..extensions.state import CrawlState


class StatePipeline:
    def __init__(self, state: CrawlState) -> None:
        self.state = state

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StatePipeline:
        state = crawler.get_extension(CrawlState)
        if state is None:
            raise NotConfigured("CARNEGIE_STATE is empty")
        return cls(state)

    def process_item(self, item: Any) -> Any:
        self.state.stage_item(item, emitted=True)
        return item
