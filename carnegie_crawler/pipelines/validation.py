"""Validate each item against the JSON Schema; reject, record and count the invalid ones."""

from __future__ import annotations

from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from ..fastschema import RecordValidator
from ..records import plain_record
from ..run.owner import RunOwner, owner_of
from ..schema import load_schema


class ValidationPipeline:
    def __init__(self, crawler: Crawler, run: RunOwner | None = None) -> None:
        self.crawler = crawler
        self.run = run
        self.validator = RecordValidator(load_schema(crawler.settings.get("CARNEGIE_SCHEMA") or None))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidationPipeline:
        return cls(crawler, owner_of(crawler))

    def process_item(self, item: Any) -> Any:
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value("carnegie/validation/checked")
        plain = plain_record(item)
        if plain is not None and self.validator.is_valid(plain):
            return item  # the common case: jsonschema-rs alone, no copy of the item
        record = ItemAdapter(item).asdict()
        errors = self.validator.describe(record)
        if not errors:
            return item
        stats.inc_value("carnegie/validation/dropped")
        for error in errors:
            stats.inc_value(f"carnegie/validation/errors/{error['path'].split('[')[0]}")
        url = record.get("url") or record.get("fetched_url")
        self._record_reject(url, record, errors)
        reasons = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
        raise DropItem(f"invalid item {url}: {reasons}", log_level="WARNING")

    def _record_reject(self, url: Any, record: dict[str, Any], errors: list[dict[str, str]]) -> None:
        if self.run is not None:
            self.run.reject({"url": url, "fetched_url": record.get("fetched_url"), "errors": errors, "item": record})
