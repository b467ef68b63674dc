"""What changed since the last run: set `crawl_status`, and in incremental runs emit only changes."""

from __future__ import annotations

from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from ..run.owner import RunOwner, owner_of


class ChangesPipeline:
    def __init__(self, crawler: Crawler, run: RunOwner) -> None:
        self.crawler = crawler
        self.run = run

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ChangesPipeline:
        run = owner_of(crawler)
        if run is None or run.ledger is None:
            raise NotConfigured("no cross-run state (CARNEGIE_STATE is empty)")
        return cls(crawler, run)

    def process_item(self, item: Any) -> Any:
        stats = self.crawler.stats
        assert stats is not None
        assert self.run.ledger is not None
        adapter = ItemAdapter(item)
        known = self.run.ledger.lookup_document(adapter["url"], adapter.get("language"))
        if known is None:
            status = "new"
        elif known.content_hash == adapter["content_hash"]:
            status = "unchanged"
        else:
            status = "updated"
        adapter["crawl_status"] = status
        # An emitted item is counted by the writer once its line is written, so that the counts
        # (new + updated + unchanged) never exceed the lines written when the writing fails.
        if status == "unchanged" and self.run.incremental:
            stats.inc_value("carnegie/items/unchanged")
            self.run.ledger.stage_item(item, emitted=False)
            raise DropItem(f"unchanged since the last run: {adapter['url']}", log_level="DEBUG")
        return item
