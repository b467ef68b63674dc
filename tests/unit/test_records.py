"""`plain_record` and `fields` give what `ItemAdapter` gives: same values, same key order.

Checked on every saved page and on items built to differ.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import scrapy
from itemadapter import ItemAdapter

from carnegie_crawler.items import Publication
from carnegie_crawler.records import fields, plain_record
from tests.helpers import fixture_cases, page_item, valid_record


def adapter_fields(item: Any) -> dict[str, Any]:
    adapter = ItemAdapter(item)
    return {key: adapter[key] for key in adapter}


@pytest.mark.parametrize("name", fixture_cases())
def test_plain_record_is_asdict_on_every_page(name):
    item = page_item(name)
    record = plain_record(item)
    assert record is not None
    assert record == ItemAdapter(item).asdict()
    assert list(record) == list(ItemAdapter(item).asdict())  # the key order is the JSON's order


@dataclasses.dataclass
class Nested:
    name: str


class Label(str):
    pass


NOT_PLAIN = {
    "tuple": {"topics": ("Security",)},
    "float": {"word_count": 3.0},
    "big int": {"word_count": 2**63},
    "int key": {"image": {1: "x"}},
    "str subclass": {"title": Label("Deadlock")},
    "nested item": {"authors": [Nested("A")]},
    "set": {"topics": {"Security"}},
}


@pytest.mark.parametrize("change", NOT_PLAIN.values(), ids=NOT_PLAIN)
def test_a_record_that_is_not_plain_json_is_left_to_asdict(change):
    assert plain_record(Publication(**(valid_record() | change))) is None


class ScrapyPublication(scrapy.Item):
    url = scrapy.Field()
    title = scrapy.Field()


@dataclasses.dataclass
class WithProperty:
    url: str
    title: str = "t"

    def __post_init__(self) -> None:
        self.cache = "not a field"


def test_fields_reads_what_itemadapter_reads_whatever_the_item():
    extra = Publication(**valid_record())
    extra.note = "not a field"  # type: ignore[attr-defined]
    deleted = Publication(**valid_record())
    del deleted.fetched_url
    class_default = Publication(**(valid_record() | {"subtitle": "A dek"}))
    del class_default.subtitle  # ItemAdapter then reads the class's default
    reordered = Publication(**valid_record())
    del reordered.url
    reordered.url = "https://carnegieendowment.org/x"
    items = [
        Publication(**valid_record()),
        extra,
        deleted,
        class_default,
        reordered,
        valid_record(),
        ScrapyPublication(url="https://a.example/", title="T"),
        WithProperty(url="https://a.example/"),
    ]
    for item in items:
        record = fields(item)
        assert record == adapter_fields(item)
        assert list(record) == list(adapter_fields(item)), type(item)
    assert "note" not in fields(extra)
    assert "fetched_url" not in fields(deleted)
    assert fields(class_default)["subtitle"] is None


def test_fields_is_a_new_dict():
    item = valid_record()
    record = fields(item)
    record["title"] = "changed"
    assert item["title"] == valid_record()["title"]


def test_a_publication_is_read_without_an_adapter(monkeypatch):
    import carnegie_crawler.records

    def no_adapter(item):
        raise AssertionError("the shortcut was not taken")

    monkeypatch.setattr(carnegie_crawler.records, "ItemAdapter", no_adapter)
    assert fields(Publication(**valid_record())) == valid_record()
