"""One item per document: later copies of a (canonical URL, language) are dropped."""

from __future__ import annotations

import hashlib
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from ..run.owner import RunOwner, owner_of
from ..urls import key_path


def document_key(url: str, language: str | None) -> bytes:
    """Path and query of the canonical URL, plus the language.

    The host is left out: a run stays on one site (or its mirror), where a page
    without rel=canonical keeps the mirror's host and a copy with one names
    carnegieendowment.org. `?lang=` is left out too: the language is its own part.
    """
    raw = f"{key_path(url)}\n{language or ''}"
    # A fixed-size digest keeps memory flat on long crawls.
    return hashlib.blake2b(raw.encode("utf-8"), digest_size=16).digest()


class DedupePipeline:
    def __init__(self, crawler: Crawler, run: RunOwner | None) -> None:
        self.crawler = crawler
        self.run = run
        self.seen: set[bytes] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupePipeline:
        return cls(crawler, owner_of(crawler))

    def open_spider(self) -> None:
        # A resumed JOBDIR run: the documents its paused part already wrote are not written again.
        for record in self.run.resumed_records() if self.run is not None else ():
            self.seen.add(document_key(record["url"], record.get("language")))

    def process_item(self, item: Any) -> Any:
        record = ItemAdapter(item)
        key = document_key(record["url"], record.get("language"))
        if key in self.seen:
            if self.run is not None and self.run.ledger is not None:
                # Another address of a document already written: known from now on, so an
                # incremental run does not fetch it again while the document is fresh.
                self.run.ledger.stage_item(item, emitted=False)
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("carnegie/dedupe/dropped")
            raise DropItem(
                f"duplicate of {record['url']} ({record.get('language')}), fetched from {record.get('fetched_url')}",
                log_level="INFO",
            )
        self.seen.add(key)
        return item
