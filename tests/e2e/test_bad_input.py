"""Bad local input and a full disk: a clear outcome, and earlier output intact."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys

import pytest_twisted
from scrapy.utils.test import get_crawler

from carnegie_crawler.output import JsonLinesFile
from carnegie_crawler.spiders.commentary import CommentarySpider
from tests.e2e.crawling import crawl_settings, run_crawl, start_urls
from tests.e2e.test_smoke import REPO, scrapy


@pytest_twisted.inlineCallbacks
def test_disk_full_stops_the_run_keeps_earlier_output_and_marks_nothing_seen(site_server, tmp_path, monkeypatch):
    output = tmp_path / "dataset.jsonl"
    output.write_text('{"from": "last week"}\n')
    real_write = JsonLinesFile.write_line  # every line goes through it

    def write_until_full(self, line):
        if self.lines >= 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, line)

    monkeypatch.setattr(JsonLinesFile, "write_line", write_until_full)
    crawler, _ = yield run_crawl(
        crawl_settings(tmp_path, CARNEGIE_OUTPUT=str(output), CONCURRENT_REQUESTS=1), start_urls=start_urls(site_server)
    )
    stats = crawler.stats.get_stats()
    assert stats["finish_reason"] == "output_error"
    assert stats["carnegie/output/error"] == "No space left on device"
    assert stats["carnegie/health/ok"] is False
    assert output.read_text() == '{"from": "last week"}\n', "the committed dataset is untouched"
    [part_file] = tmp_path.glob("dataset.jsonl.*.part")
    part = [json.loads(line) for line in part_file.read_text().splitlines()]
    assert len(part) == 3, "the lines written before the disk filled stay whole"
    with sqlite3.connect(tmp_path / "state.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == 0


def one_line_error(result, fragment: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stderr.startswith("Error: ")
    assert fragment in result.stderr


def test_corrupt_state_file_is_refused_before_any_request_and_kept(tmp_path):
    state = tmp_path / "state.sqlite3"
    state.write_bytes(b"SQLite format 3\x00" + b"\x13" * 500)
    result = scrapy(
        "crawl", "commentary", "-s", f"CARNEGIE_STATE={state}", "-s", f"CARNEGIE_OUTPUT={tmp_path}/o.jsonl",
        "-s", f"CARNEGIE_DATASET={tmp_path}/dataset", "-s", f"CARNEGIE_ARCHIVE={tmp_path}/archive",
    )  # fmt: skip
    one_line_error(result, "is corrupt")
    assert state.read_bytes() == b"SQLite format 3\x00" + b"\x13" * 500


def test_missing_schema_is_refused(tmp_path):
    result = scrapy("crawl", "commentary", "-s", f"CARNEGIE_SCHEMA={tmp_path / 'gone.json'}")
    one_line_error(result, "cannot read schema")


def test_invalid_schema_is_refused(tmp_path):
    schema = tmp_path / "schema.json"
    schema.write_text('{"type": 12}')
    result = scrapy("crawl", "commentary", "-s", f"CARNEGIE_SCHEMA={schema}")
    one_line_error(result, "is not a valid JSON Schema")


def test_unwritable_rejects_path_is_refused(tmp_path):
    (tmp_path / "file").write_text("")
    result = scrapy("crawl", "commentary", "-s", f"CARNEGIE_REJECTS={tmp_path / 'file' / 'r.jsonl'}")
    one_line_error(result, "cannot create directory")


def test_malformed_start_url_is_refused():
    one_line_error(scrapy("crawl", "commentary", "-a", "start_urls=not a url"), "not an http(s) URL")


def test_non_http_scheme_is_refused():
    one_line_error(scrapy("crawl", "commentary", "-a", "start_urls=file:///etc/passwd"), "not an http(s) URL")


def test_bad_since_and_incremental_values_are_refused():
    one_line_error(scrapy("crawl", "commentary", "-a", "since=last week"), "since must be a date")
    one_line_error(scrapy("crawl", "commentary", "-a", "incremental=maybe"), "incremental must be true or false")


def test_cards_to_other_hosts_and_private_addresses_are_never_requested(tmp_path):
    crawler = get_crawler(CommentarySpider, {"CARNEGIE_STATE": ""})
    crawler.stats.open_spider()
    spider = CommentarySpider.from_crawler(crawler, start_urls="https://carnegieendowment.org/posts/2020/01/a")
    requests = list(
        spider.follow_cards(
            [
                "http://127.0.0.1/posts/2020/01/local",
                "http://10.0.0.8/posts/2020/01/intranet",
                "http://169.254.169.254/latest/meta-data",
                "http://[::1]/posts/2020/01/v6",
                "https://evil.example/posts/2020/01/x",
                "file:///etc/passwd",
                "https://www.carnegieendowment.org/posts/2020/01/ok?utm_source=x",
            ],
            "https://carnegieendowment.org/posts/2020/01/a",
        )
    )
    assert [r.url for r in requests] == ["https://carnegieendowment.org/posts/2020/01/ok"]
    assert crawler.stats.get_value("carnegie/links/offsite") == 5


FAILS_AT_START = """
import sys
from scrapy.cmdline import execute
from carnegie_crawler.output import OutputError
from carnegie_crawler.run.files import RunFiles

def refused(self, resume):
    raise OutputError("cannot open out.jsonl.part: File exists")

RunFiles.open = refused  # past the checks made before the crawl starts
sys.argv = ["scrapy", *sys.argv[1:]]
execute()
"""


def test_a_run_refused_when_its_owner_starts_is_one_error_line(tmp_path):
    """Scrapy runs the crawl as an asyncio task: an error of the run's start came out as a traceback."""
    script = tmp_path / "fails_at_start.py"
    script.write_text(FAILS_AT_START, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script), "crawl", "commentary", "-a", "start_urls=http://127.0.0.1:9/x",
         "-s", f"CARNEGIE_OUTPUT={tmp_path}/out.jsonl", "-s", f"CARNEGIE_STATE={tmp_path}/state.sqlite3",
         "-s", "CARNEGIE_DATASET=", "-s", f"CARNEGIE_ARCHIVE={tmp_path}/archive", "-s", "LOG_LEVEL=WARNING"],
        cwd=REPO, env=os.environ | {"PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    one_line_error(result, "cannot open out.jsonl.part: File exists")
