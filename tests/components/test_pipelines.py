import json
import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from carnegie_crawler.items import Publication
from carnegie_crawler.pipelines.dedupe import DedupePipeline
from carnegie_crawler.pipelines.validation import ValidationPipeline
from carnegie_crawler.pipelines.writer import JsonLinesWriterPipeline
from carnegie_crawler.run.config import ConfigError, RunConfig, check_paths
from carnegie_crawler.run.owner import RunOwner
from carnegie_crawler.schema import SchemaLoadError, load_validator
from carnegie_crawler.spiders.commentary import CommentarySpider
from tests.helpers import project_settings, valid_record


def make_crawler(tmp_path, with_run: bool = False, **settings):
    """A crawler with the project's settings; the run owner only *with_run* (it opens the run's files)."""
    base = {
        "CARNEGIE_OUTPUT": str(tmp_path / "out" / "%(run_id)s.jsonl"),
        "CARNEGIE_REJECTS": str(tmp_path / "out" / "rejects" / "%(run_id)s.jsonl"),
        "CARNEGIE_STATE": str(tmp_path / "state.sqlite3"),
        "CARNEGIE_DATASET": "",  # the dataset has tests of its own
        "CARNEGIE_ARCHIVE": str(tmp_path / "archive"),
    }
    if not with_run:
        base["EXTENSIONS"] = {}
    crawler = get_crawler(CommentarySpider, project_settings(**(base | settings)))
    crawler.stats.open_spider()
    return crawler


@contextmanager
def open_run(tmp_path, **settings) -> Iterator[tuple[Crawler, RunOwner]]:
    """A crawler and its run owner, as Scrapy makes them, with the run's files open; released after."""
    crawler = make_crawler(tmp_path, with_run=True, **settings)
    run = crawler.get_extension(RunOwner)  # get_crawler builds the extensions, as a crawl does
    run.spider_opened()
    try:
        yield crawler, run
    finally:
        run._release()


def finish(crawler: Crawler, run: RunOwner) -> None:
    """End the run as a healthy crawl of one start page would."""
    crawler.stats.set_value("carnegie/start_pages/fetched", 1)
    run.spider_closed(crawler.spidercls(), "finished")


def publication(**changes) -> Publication:
    return Publication(**(valid_record() | changes))


# -- validation ---------------------------------------------------------------


def test_valid_items_pass_unchanged(tmp_path):
    with open_run(tmp_path) as (crawler, run):
        pipe = ValidationPipeline(crawler, load_validator(), run)
        item = publication()
        assert pipe.process_item(item) is item
        finish(crawler, run)
    assert not list((tmp_path / "out").rglob("rejects/*")), "no rejects file without rejects"


def test_invalid_item_is_dropped_counted_and_written_with_every_reason(tmp_path, caplog):
    with open_run(tmp_path) as (crawler, run):
        pipe = ValidationPipeline(crawler, load_validator(), run)
        bad = publication(title=None, published_date="2014-02-30")
        with pytest.raises(DropItem) as raised:
            pipe.process_item(bad)
        message = str(raised.value)
        assert bad.url in message
        assert "$.title" in message
        assert "$.published_date" in message
        assert crawler.stats.get_value("carnegie/validation/dropped") == 1
        assert crawler.stats.get_value("carnegie/validation/errors/$.title") == 1
        finish(crawler, run)
    assert run.exit_code == 1, "all items invalid: an unhealthy run, whose files stay unpublished"
    [rejects] = list((tmp_path / "out" / "rejects").glob("*.jsonl.*.part"))
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


def test_writer_uses_a_part_file_and_renames_it_when_a_healthy_run_ends(tmp_path):
    with open_run(tmp_path) as (crawler, run):
        pipe = JsonLinesWriterPipeline(crawler, run)
        pipe.process_item(publication(title="Türkiye’s “choice”"))
        pipe.process_item(publication(url="https://carnegieendowment.org/posts/2020/01/other?lang=en"))
        [part] = list((tmp_path / "out").glob("*.jsonl.*.part"))
        lines = part.read_text(encoding="utf-8").splitlines()
        assert len(lines) == 2, "each item is written as soon as it comes"
        assert not list((tmp_path / "out").glob("*.jsonl")), "no final file before the end"
        finish(crawler, run)
    assert run.exit_code == 0
    [final] = list((tmp_path / "out").glob("*.jsonl"))
    assert final.name == f"{run.run_id}.jsonl"
    assert final.name.startswith("commentary-")
    assert not part.exists()
    raw = final.read_text(encoding="utf-8")
    assert "Türkiye’s “choice”" in raw, "UTF-8, not ASCII escapes"
    assert next(json.loads(line)["title"] for line in raw.splitlines()) == "Türkiye’s “choice”"
    assert crawler.stats.get_value("carnegie/output/items") == 2


def test_an_unhealthy_run_keeps_its_lines_unpublished_and_commits_no_state(tmp_path):
    with open_run(tmp_path) as (crawler, run):
        JsonLinesWriterPipeline(crawler, run).process_item(publication())
        run.spider_closed(crawler.spidercls(), "finished")  # no start page fetched: unhealthy
    assert run.exit_code == 1
    assert not list((tmp_path / "out").glob("*.jsonl"))
    [part] = list((tmp_path / "out").glob("*.jsonl.*.part"))
    assert len(part.read_text().splitlines()) == 1, "the lines are kept, named in the manifest"
    manifest = json.loads((tmp_path / "out" / f"{run.run_id}.manifest.json").read_text())
    assert (manifest["published"], manifest["output"]["path"]) == (False, part.name)
    import sqlite3

    with sqlite3.connect(tmp_path / "state.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM documents").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM staging").fetchone() == (0,), "the unhealthy run's rows are dropped"


def test_a_run_never_touches_another_runs_part_file(tmp_path):
    other = tmp_path / "fixed.jsonl.0a0b0c.part"
    other.write_text('{"from": "a crashed or live run"}\n')
    with open_run(tmp_path, CARNEGIE_OUTPUT=str(tmp_path / "fixed.jsonl")) as (crawler, run):
        run.write(publication())
        finish(crawler, run)
    assert other.read_text() == '{"from": "a crashed or live run"}\n'
    assert json.loads((tmp_path / "fixed.jsonl").read_text())["url"] == publication().url


def test_two_runs_in_the_same_second_get_different_ids_and_part_files(tmp_path):
    with open_run(tmp_path, CARNEGIE_STATE="") as (_, first), open_run(tmp_path, CARNEGIE_STATE="") as (_, second):
        assert first.run_id != second.run_id
        assert first.output.part != second.output.part


def test_without_an_output_file_items_are_still_staged(tmp_path):
    with open_run(tmp_path, CARNEGIE_OUTPUT="") as (crawler, run):
        assert run.output is None
        assert run.write(publication())
        finish(crawler, run)
    assert run.exit_code == 0
    assert not (tmp_path / "out").exists()


def check(tmp_path, **settings) -> None:
    crawler = make_crawler(tmp_path, **settings)
    check_paths(RunConfig.from_settings(crawler.settings), crawler.settings, "commentary")


def test_two_settings_naming_one_file_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="CARNEGIE_STATE and CARNEGIE_MANIFEST are the same file"):
        check(tmp_path, CARNEGIE_MANIFEST=str(tmp_path / "state.sqlite3"))
    with pytest.raises(ConfigError, match="CARNEGIE_REJECTS and CARNEGIE_OUTPUT are the same file"):
        check(tmp_path, CARNEGIE_OUTPUT=str(tmp_path / "o.jsonl"), CARNEGIE_REJECTS=str(tmp_path / "o.jsonl"))


def test_an_output_name_too_long_for_its_part_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="longer than"):
        check(tmp_path, CARNEGIE_OUTPUT=str(tmp_path / ("x" * 240 + ".jsonl")))


def test_unwritable_output_directory_is_a_clear_error(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    # CI runs as root, which ignores permission bits: ask os.access for the answer a user would get.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if str(path) == str(locked) else real_access(path, mode))
    with pytest.raises(ConfigError, match="not writable"):
        check(tmp_path, CARNEGIE_OUTPUT=str(locked / "x.jsonl"))


def test_output_path_that_is_a_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        check(tmp_path, CARNEGIE_OUTPUT=str(tmp_path))


def test_output_under_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="cannot create directory"):
        check(tmp_path, CARNEGIE_OUTPUT=str(tmp_path / "file" / "o.jsonl"))


def test_a_feed_export_path_is_checked_too(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="feed: cannot create directory"):
        check(tmp_path, FEEDS={str(tmp_path / "file" / "feed.jsonl"): {"format": "jsonlines"}})


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


def test_the_placeholder_contact_is_flagged_before_crawling_the_live_site(tmp_path, caplog):
    with open_run(tmp_path, CARNEGIE_STATE="") as (crawler, run):
        crawler.spider = CommentarySpider()  # the default start pages, on carnegieendowment.org
        run.spider_opened()
    assert "USER_AGENT still names the placeholder contact" in caplog.text


def test_a_mirror_crawl_or_a_real_contact_is_not_flagged(tmp_path, caplog):
    for spider, agent in ((CommentarySpider(start_urls="http://127.0.0.1:9/posts/2020/01/a"), None),
                          (CommentarySpider(), "carnegie-crawler/0.1 (+mailto:data@our.org)")):  # fmt: skip
        crawler = make_crawler(
            tmp_path / str(id(spider)), CARNEGIE_STATE="", **({"USER_AGENT": agent} if agent else {})
        )
        crawler.spider = spider
        run = RunOwner.from_crawler(crawler)
        run.spider_opened()
        run._release()
    assert "placeholder contact" not in caplog.text


@pytest.mark.parametrize("error", [RuntimeError("pyarrow broke"), OSError(28, "No space left on device")])
def test_a_failing_dataset_update_leaves_the_run_published_and_committed_and_exits_5(tmp_path, monkeypatch, error):
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr("carnegie_crawler.dataset.update_dataset", broken)
    with open_run(tmp_path, CARNEGIE_DATASET=str(tmp_path / "dataset")) as (crawler, run):
        run.write(publication())
        finish(crawler, run)
    assert run.exit_code == 5, run.summary
    assert "published and committed, but the dataset is behind" in run.summary
    [final] = (tmp_path / "out").glob("*.jsonl")
    assert json.loads(final.read_text())["url"] == publication().url
    import sqlite3

    with sqlite3.connect(tmp_path / "state.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM documents").fetchone() == (1,)
    manifest = json.loads((tmp_path / "out" / f"{run.run_id}.manifest.json").read_text())
    assert manifest["published"] is True
