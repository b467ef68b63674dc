import json
import os

import pytest
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.test import get_crawler

from carnegie_crawler.items import Publication
from carnegie_crawler.output import OutputError
from carnegie_crawler.pipelines.dedupe import DedupePipeline
from carnegie_crawler.pipelines.validation import ValidationPipeline
from carnegie_crawler.pipelines.writer import JsonLinesWriterPipeline
from carnegie_crawler.schema import SchemaLoadError
from carnegie_crawler.spiders.commentary import CommentarySpider
from tests.helpers import valid_record


def make_crawler(tmp_path, **settings):
    base = {
        "CARNEGIE_OUTPUT": str(tmp_path / "out" / "%(name)s-%(time)s.jsonl"),
        "CARNEGIE_REJECTS": str(tmp_path / "out" / "%(name)s-%(time)s.rejects.jsonl"),
        "CARNEGIE_STATE": str(tmp_path / "state.sqlite3"),
    }
    crawler = get_crawler(CommentarySpider, base | settings)
    crawler.stats.open_spider()
    return crawler


def publication(**changes) -> Publication:
    return Publication(**(valid_record() | changes))


# -- validation ---------------------------------------------------------------


def test_valid_items_pass_unchanged(tmp_path):
    pipe = ValidationPipeline.from_crawler(make_crawler(tmp_path))
    pipe.open_spider()
    item = publication()
    assert pipe.process_item(item) is item
    pipe.close_spider()
    assert not list((tmp_path / "out").glob("*.rejects.jsonl*")), "no rejects file without rejects"


def test_invalid_item_is_dropped_counted_and_written_with_every_reason(tmp_path, caplog):
    crawler = make_crawler(tmp_path)
    pipe = ValidationPipeline.from_crawler(crawler)
    pipe.open_spider()
    bad = publication(title=None, published_date="2014-02-30")
    with pytest.raises(DropItem) as raised:
        pipe.process_item(bad)
    message = str(raised.value)
    assert bad.url in message
    assert "$.title" in message
    assert "$.published_date" in message
    assert crawler.stats.get_value("carnegie/validation/dropped") == 1
    assert crawler.stats.get_value("carnegie/validation/errors/$.title") == 1
    pipe.close_spider()
    [rejects] = list((tmp_path / "out").glob("*.rejects.jsonl"))
    [line] = rejects.read_text(encoding="utf-8").splitlines()
    reject = json.loads(line)
    assert reject["url"] == bad.url
    assert {e["path"] for e in reject["errors"]} == {"$.title", "$.published_date"}
    assert reject["item"]["fetched_url"] == bad.fetched_url


def test_missing_schema_is_a_clear_error(tmp_path):
    with pytest.raises(SchemaLoadError, match="cannot read schema"):
        ValidationPipeline.from_crawler(make_crawler(tmp_path, CARNEGIE_SCHEMA=str(tmp_path / "nope.json")))


def test_invalid_schema_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "objekt"}')
    with pytest.raises(SchemaLoadError, match="not a valid JSON Schema"):
        ValidationPipeline.from_crawler(make_crawler(tmp_path, CARNEGIE_SCHEMA=str(broken)))


# -- dedupe -------------------------------------------------------------------


def test_later_copies_of_a_document_are_dropped_and_counted(tmp_path):
    crawler = make_crawler(tmp_path)
    pipe = DedupePipeline.from_crawler(crawler)
    first = publication()
    assert pipe.process_item(first) is first
    copy = publication(fetched_url="https://carnegieendowment.org/en/russia-eurasia/posts/2014/02/deadlock?lang=en")
    with pytest.raises(DropItem, match="duplicate of"):
        pipe.process_item(copy)
    assert crawler.stats.get_value("carnegie/dedupe/dropped") == 1


def test_a_translation_is_a_separate_document(tmp_path):
    pipe = DedupePipeline.from_crawler(make_crawler(tmp_path))
    english = publication()
    arabic = publication(url=english.url.replace("lang=en", "lang=ar"), language="ar")
    assert pipe.process_item(english) is english
    assert pipe.process_item(arabic) is arabic


def test_lang_parameter_does_not_split_one_document(tmp_path):
    pipe = DedupePipeline.from_crawler(make_crawler(tmp_path))
    pipe.process_item(publication())
    with pytest.raises(DropItem):
        pipe.process_item(publication(url="https://carnegieendowment.org/posts/2014/02/deadlock"))


# -- writer -------------------------------------------------------------------


def test_writer_uses_a_part_file_and_renames_it_at_close(tmp_path):
    crawler = make_crawler(tmp_path)
    pipe = JsonLinesWriterPipeline.from_crawler(crawler)
    pipe.open_spider()
    pipe.process_item(publication(title="Türkiye’s “choice”"))
    pipe.process_item(publication(url="https://carnegieendowment.org/posts/2020/01/other?lang=en"))
    [part] = list((tmp_path / "out").glob("*.jsonl.part"))
    lines = part.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2, "each item is flushed as soon as it is written"
    assert not list((tmp_path / "out").glob("*.jsonl")), "no final file before close"
    pipe.close_spider()
    [final] = list((tmp_path / "out").glob("*.jsonl"))
    assert final.name.startswith("commentary-")
    assert not part.exists()
    raw = final.read_text(encoding="utf-8")
    assert "Türkiye’s “choice”" in raw, "UTF-8, not ASCII escapes"
    assert next(json.loads(line)["title"] for line in raw.splitlines()) == "Türkiye’s “choice”"
    assert crawler.stats.get_value("carnegie/output/items") == 2


def test_writer_keeps_a_leftover_part_file(tmp_path):
    crawler = make_crawler(tmp_path, CARNEGIE_OUTPUT=str(tmp_path / "fixed.jsonl"))
    (tmp_path / "fixed.jsonl.part").write_text('{"from": "a crashed run"}\n')
    pipe = JsonLinesWriterPipeline.from_crawler(crawler)
    pipe.open_spider()
    pipe.close_spider()
    leftovers = list(tmp_path.glob("fixed.jsonl.part.*"))
    assert len(leftovers) == 1
    assert "crashed run" in leftovers[0].read_text()
    assert (tmp_path / "fixed.jsonl").read_text() == ""


def test_writer_is_off_when_output_is_empty(tmp_path):
    with pytest.raises(NotConfigured):
        JsonLinesWriterPipeline.from_crawler(make_crawler(tmp_path, CARNEGIE_OUTPUT=""))


def test_unwritable_output_directory_is_a_clear_error(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    # CI runs as root, which ignores permission bits: ask os.access for the answer a user would get.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if str(path) == str(locked) else real_access(path, mode))
    pipe = JsonLinesWriterPipeline.from_crawler(make_crawler(tmp_path, CARNEGIE_OUTPUT=str(locked / "x.jsonl")))
    with pytest.raises(OutputError, match="not writable"):
        pipe.open_spider()


def test_output_path_that_is_a_directory_is_a_clear_error(tmp_path):
    pipe = JsonLinesWriterPipeline.from_crawler(make_crawler(tmp_path, CARNEGIE_OUTPUT=str(tmp_path)))
    with pytest.raises(OutputError, match="is a directory"):
        pipe.open_spider()


def test_output_under_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    pipe = JsonLinesWriterPipeline.from_crawler(
        make_crawler(tmp_path, CARNEGIE_OUTPUT=str(tmp_path / "file" / "o.jsonl"))
    )
    with pytest.raises(OutputError, match="cannot create directory"):
        pipe.open_spider()


# -- URL normalisation middleware ---------------------------------------------


def test_redirect_targets_are_rescheduled_in_normal_form(tmp_path):
    from scrapy import Request

    from carnegie_crawler.middlewares import NormalizeUrlMiddleware

    crawler = make_crawler(tmp_path)
    mw = NormalizeUrlMiddleware.from_crawler(crawler)
    clean = Request("https://carnegieendowment.org/posts/2020/01/b?lang=en")
    assert mw.process_request(clean) is None
    redirected = Request("http://www.carnegieendowment.org/posts/2020/01/b?utm_source=redirect&lang=en#x")
    again = mw.process_request(redirected)
    assert again is not None
    assert again.url == clean.url
    assert crawler.stats.get_value("carnegie/requests/renormalized") == 1
