"""Feed exporters for `-o`/`-O`: CSV with nested fields as JSON text.

Scrapy's CSV exporter writes a list of strings joined by commas (ambiguous when a
value holds a comma, as "Thomas Graham, Jr." does) and anything else as its
Python repr (`[{'name': ...}]`), which no CSV reader can parse back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from scrapy.exporters import CsvItemExporter
from scrapy.item import Field


class JsonFieldsCsvItemExporter(CsvItemExporter):
    """Lists and objects become JSON strings; `json.loads` on the cell gives the value back."""

    def serialize_field(self, field: Mapping[str, Any] | Field, name: str, value: Any) -> Any:
        if isinstance(value, list | tuple | dict):
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return super().serialize_field(field, name, value)
