"""One item per document: later copies of a (canonical URL, language) are dropped."""

from __future__ import annotations

import hashlib
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from ..urls import without_param


def document_key(url: str, language: str | None) -> bytes:
    """The language lives in its own field, so `?lang=` in the URL does not split a document."""
    raw = f"{without_param(url, 'lang')}\n{language or ''}"
    # A fixed-size digest keeps memory flat on long crawls.
    return hashlib.blake2b(raw.encode("utf-8"), digest_size=16).digest()


class DedupePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.seen: set[bytes] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        key = document_key(adapter["url"], adapter.get("language"))
        if key in self.seen:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("carnegie/dedupe/dropped")
            raise DropItem(
                f"duplicate of {adapter['url']} ({adapter.get('language')}), fetched from {adapter.get('fetched_url')}",
                log_level="INFO",
            )
        self.seen.add(key)
        return item
