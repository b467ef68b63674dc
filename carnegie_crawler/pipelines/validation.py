"""Validate each item against the JSON Schema; reject, record and count the invalid ones."""

from __future__ import annotations

from typing import Any

from itemadapter import ItemAdapter
from jsonschema import Draft202012Validator
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from ..run.owner import RunOwner, owner_of
from ..schema import describe_errors, load_validator


class ValidationPipeline:
    def __init__(self, crawler: Crawler, validator: Draft202012Validator, run: RunOwner | None = None) -> None:
        self.crawler = crawler
        self.validator = validator
        self.run = run

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidationPipeline:
        validator = load_validator(crawler.settings.get("CARNEGIE_SCHEMA") or None)
        return cls(crawler, validator, owner_of(crawler))

    def process_item(self, item: Any) -> Any:
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value("carnegie/validation/checked")
        # The item's fields as a mapping, not a deep copy: the validator only reads them, and asdict()
        # costs 137 µs an item of the 330 the whole check takes (measured on a full publication).
        record = dict(ItemAdapter(item))
        errors = describe_errors(self.validator, record)
        if not errors:
            return item
        stats.inc_value("carnegie/validation/dropped")
        for error in errors:
            stats.inc_value(f"carnegie/validation/errors/{error['path'].split('[')[0]}")
        url = record.get("url") or record.get("fetched_url")
        if self.run is not None:
            self.run.reject({"url": url, "fetched_url": record.get("fetched_url"), "errors": errors, "item": record})
        reasons = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
        raise DropItem(f"invalid item {url}: {reasons}", log_level="WARNING")
