"""Output lines are compact JSON in UTF-8, one per item; the content hash keeps its first recipe."""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

import pytest
from itemadapter import ItemAdapter

from carnegie_crawler.items import _VOLATILE, compute_content_hash
from carnegie_crawler.output import encode_line, item_line
from tests.helpers import fixture_cases, page_item

EVERY_CHARACTER = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)


def json_line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


@pytest.mark.parametrize("name", fixture_cases())
def test_an_item_is_one_line_of_its_fields_in_order_on_every_page(name):
    item = page_item(name)
    line = item_line(item)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1, "newlines in the text are escaped"
    record = json.loads(line)
    assert record == ItemAdapter(item).asdict()
    assert list(record) == list(ItemAdapter(item).asdict()), "the schema's field order"


def test_text_is_written_as_utf8_not_escaped():
    from tests.components.test_pipelines import publication

    line = item_line(publication(title="Türkiye’s “choice”", regions=["日本", "𝔘"]))
    assert "Türkiye’s “choice”".encode() in line
    assert '["日本","𝔘"]'.encode() in line
    assert b"\\u" not in line
    assert b'"title":"T' in line, "compact separators"


def test_every_character_round_trips():
    record = {EVERY_CHARACTER[:3000]: [EVERY_CHARACTER, {"": EVERY_CHARACTER[::-1]}], "n": [0, -1, 2**70, None]}
    line = encode_line(record)
    assert line == json_line(record)
    assert json.loads(line.decode("utf-8")) == record


def test_a_lone_surrogate_fails_as_it_always_did():
    from tests.components.test_pipelines import publication

    with pytest.raises(UnicodeEncodeError):
        item_line(publication(title="\ud800"))


def test_the_writer_writes_every_item_as_asdict_and_json_do(tmp_path):
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


def test_content_hash_is_unchanged_on_every_character():
    from tests.components.test_pipelines import publication

    item = publication(body=EVERY_CHARACTER, topics=[EVERY_CHARACTER[:5000]], image={"é": 1, "a": None, "z": [2**63]})
    assert compute_content_hash(item) == old_content_hash(item)
    # The digest the orjson-era code gave for tests.helpers.valid_record(): stored hashes stay comparable.
    assert compute_content_hash(publication()) == "bfcb36bb4b437693553cb4c4de54ace244c4fb93900dcb799cacae74a943e6d5"
