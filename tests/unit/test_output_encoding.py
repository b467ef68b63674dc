"""`encode_line` writes what `json.dumps(..., ensure_ascii=False, separators=(",", ":"))` writes.

Byte for byte, on every saved page, on every character, and on records that are
not plain JSON (which json itself writes). The writer's `item_line` writes the same
bytes for every item json can write as valid JSON; floats, Enums and UUIDs are
orjson's (tested below).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import sys
import uuid
from typing import Any

import pytest
import scrapy
from itemadapter import ItemAdapter

from carnegie_crawler.items import _VOLATILE, compute_content_hash
from carnegie_crawler.output import encode_line, item_line
from carnegie_crawler.records import is_plain, json_bytes, plain_record
from tests.helpers import fixture_cases, page_item


class Label(str):
    pass


def json_line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


@pytest.mark.parametrize("name", fixture_cases())
def test_encode_line_writes_what_json_writes_on_every_page(name):
    item = page_item(name)
    expected = json_line(ItemAdapter(item).asdict())
    assert encode_line(ItemAdapter(item).asdict()) == expected
    assert encode_line(plain_record(item), plain=True) == expected


def test_encode_line_writes_every_character_as_json_does():
    text = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    record = {text[:3000]: [text, {"": text[::-1]}], "n": [0, -1, 2**63 - 1, -(2**63), True, False, None], "e": {}}
    assert is_plain(record)
    assert encode_line(record) == json_line(record)


@pytest.mark.parametrize(
    "record",
    [{"n": 1e16}, {"n": 1e-7}, {"n": float("nan")}, {"n": 2**70}, {"n": (1, "a")}, {Label("k"): Label("v")}],
    ids=["exponent", "small", "nan", "huge", "tuple", "subclass"],
)
def test_records_that_are_not_plain_are_written_by_json(record):
    assert encode_line(record) == json_line(record)


def test_a_lone_surrogate_fails_as_it_always_did():
    with pytest.raises(UnicodeEncodeError):
        json_line({"title": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        encode_line({"title": "\ud800"})


def test_the_writer_writes_every_item_as_asdict_and_json_did(tmp_path):
    from carnegie_crawler.pipelines.writer import JsonLinesWriterPipeline
    from tests.components.test_pipelines import finish, open_run, publication

    items = [page_item(name) for name in fixture_cases()]
    items += [publication(word_count=3.0), publication(topics=("Security", "Energy")), publication(word_count=2**70)]
    with open_run(tmp_path, CARNEGIE_OUTPUT=str(tmp_path / "o.jsonl"), CARNEGIE_STATE="") as (crawler, run):
        pipe = JsonLinesWriterPipeline(crawler, run)
        for item in items:
            pipe.process_item(item)
        finish(crawler, run)
    assert (tmp_path / "o.jsonl").read_bytes() == b"".join(json_line(ItemAdapter(i).asdict()) for i in items)


def old_content_hash(item) -> str:
    """The content hash as first defined: json.dumps with sorted keys, sha256."""
    content = {k: v for k, v in vars(item).items() if k not in _VOLATILE}
    blob = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@pytest.mark.parametrize("name", fixture_cases())
def test_content_hash_is_unchanged_on_every_page(name):
    item = page_item(name)
    assert compute_content_hash(item) == old_content_hash(item)


def test_sorted_keys_write_every_character_as_json_does():
    text = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    record = {"b": text, "a": {"z": [text[:5000]], "y": None, "é": 1}, text[:50]: [2**63 - 1], "A": False}
    expected = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert json_bytes(record, sort_keys=True) == expected


@pytest.mark.parametrize("name", fixture_cases())
def test_item_line_writes_what_json_writes_on_every_page(name):
    item = page_item(name)
    assert item_line(item) == json_line(ItemAdapter(item).asdict())


@dataclasses.dataclass
class Person:
    name: str


class Kind(enum.Enum):
    COMMENTARY = "commentary"


ODD_VALUES = {
    "tuple": {"topics": ("Security", "Energy")},
    "str subclass": {"title": Label("Deadlock")},
    "nested dataclass": {"authors": [Person("A")]},
    "big int": {"word_count": 2**70},
    "int key": {"image": {1: "x"}},
    "integral float": {"word_count": 3.0},
    "nested dict subclass": {"related": {"recent_work": [], "more_work": [], "x": scrapy.Item()}},
}


@pytest.mark.parametrize("change", ODD_VALUES.values(), ids=ODD_VALUES)
def test_item_line_writes_odd_values_as_asdict_and_json_do(change):
    from tests.components.test_pipelines import publication

    item = publication(**change)
    assert item_line(item) == json_line(ItemAdapter(item).asdict())


def test_item_line_writes_floats_as_valid_json_of_the_same_value():
    from tests.components.test_pipelines import publication

    item = publication(word_count=1e-7)
    line = item_line(item)
    assert b'"word_count":1e-7,' in line  # json would spell it 1e-07
    assert json.loads(line)["word_count"] == 1e-7
    assert json.loads(item_line(publication(word_count=float("nan"))))["word_count"] is None  # json: NaN, not JSON


def test_item_line_writes_what_json_cannot():
    from tests.components.test_pipelines import publication

    item = publication(content_type=Kind.COMMENTARY, source=uuid.UUID(int=1))
    with pytest.raises(TypeError):
        json_line(ItemAdapter(item).asdict())
    record = json.loads(item_line(item))
    assert (record["content_type"], record["source"]) == ("commentary", "00000000-0000-0000-0000-000000000001")


def test_item_line_fails_on_a_lone_surrogate_as_json_did():
    from tests.components.test_pipelines import publication

    with pytest.raises(UnicodeEncodeError):
        item_line(publication(title="\ud800"))


def test_item_line_writes_values_nested_deeper_than_orjson_goes_as_json_does():
    from carnegie_crawler.records import fields
    from tests.components.test_pipelines import publication

    nested: Any = "leaf"
    for _ in range(600):  # orjson stops at 255 levels; ItemAdapter's copy would overflow the stack
        nested = [nested]
    item = publication(topics=nested)
    assert item_line(item) == json_line(fields(item))
