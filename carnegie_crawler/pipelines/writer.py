"""Write each item as one JSON line, through the run's owner (`run.owner.RunOwner.write`).

The owner keeps the line whole or absent, stages the document in the cross-run
state, and publishes the file only when the run ends healthy.
"""

from __future__ import annotations

from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from ..run.owner import RunOwner, owner_of


class JsonLinesWriterPipeline:
    def __init__(self, crawler: Crawler, run: RunOwner) -> None:
        self.crawler = crawler
        self.run = run

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> JsonLinesWriterPipeline:
        run = owner_of(crawler)
        if run is None:
            raise NotConfigured("the run owner extension is off")
        return cls(crawler, run)

    def process_item(self, item: Any) -> Any:
        if self.run.write(item):
            stats = self.crawler.stats
            assert stats is not None
            stats.inc_value("carnegie/output/items")
            if status := ItemAdapter(item).get("crawl_status"):  # set by ChangesPipeline, with a state
                stats.inc_value(f"carnegie/items/{status}")
        return item
