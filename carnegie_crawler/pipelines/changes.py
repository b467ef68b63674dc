"""What changed since the last run: set `crawl_status`, and in incremental runs emit only changes.

Also applies the spider's `since` argument: only documents published on or
after that date are emitted.
"""

from __future__ import annotations

from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from ..extensions.state import CrawlState


class ChangesPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ChangesPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        stats = self.crawler.stats
        assert stats is not None
        adapter = ItemAdapter(item)
        since = getattr(self.crawler.spider, "since", None)
        published = adapter.get("published_date")
        if since and (published is None or published < since):
            stats.inc_value("carnegie/items/before_since")
            raise DropItem(f"published {published or 'on an unknown date'}, before since={since}", log_level="DEBUG")
        state = self.crawler.get_extension(CrawlState)
        if state is None:
            return item
        known = state.lookup_document(adapter["url"], adapter.get("language"))
        if known is None:
            status = "new"
        elif known.content_hash == adapter["content_hash"]:
            status = "unchanged"
        else:
            status = "updated"
        adapter["crawl_status"] = status
        stats.inc_value(f"carnegie/items/{status}")
        if status == "unchanged" and getattr(self.crawler.spider, "incremental", False):
            state.stage_item(item, emitted=False)
            raise DropItem(f"unchanged since the last run: {adapter['url']}", log_level="DEBUG")
        return item
