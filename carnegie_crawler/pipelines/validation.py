"""Validate each item against the JSON Schema; reject, record and count the invalid ones."""

from __future__ import annotations

import logging
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from ..fastschema import RecordValidator
from ..output import JsonLinesFile, render_path
from ..records import plain_record
from ..schema import load_schema

logger = logging.getLogger(__name__)


class ValidationPipeline:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.validator = RecordValidator(load_schema(settings.get("CARNEGIE_SCHEMA") or None))
        self.rejects_template: str = settings.get("CARNEGIE_REJECTS") or ""
        self.rejects: JsonLinesFile | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidationPipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        if self.rejects_template:
            path = render_path(self.rejects_template, self.crawler, self.crawler.spidercls.name)
            self.rejects = JsonLinesFile(path)

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
        if self.rejects is None:
            return
        if not self.rejects.is_open:
            self.rejects.open()
        self.rejects.write({"url": url, "fetched_url": record.get("fetched_url"), "errors": errors, "item": record})

    def close_spider(self) -> None:
        if self.rejects is not None and self.rejects.is_open:
            path = self.rejects.commit()
            logger.warning("Wrote %d rejected item(s) to %s", self.rejects.lines, path)
