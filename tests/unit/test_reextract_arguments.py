"""`scrapy reextract`'s arguments: checked before anything runs, one clear line for a mistake."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy.settings import Settings
from warcio.warcwriter import WARCWriter

from carnegie_crawler.spiders.arguments import SpiderArgumentError
from carnegie_crawler.spiders.reextract import ReextractSpider
from carnegie_crawler.spiders.reextract_arguments import parse_arguments, resolve_archives


def warcinfo_only(path: Path) -> None:
    """A WARC file holding one warcinfo record: what a run that fetched nothing archives."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    writer.write_record(writer.create_warcinfo_record(path.name, {"software": "test"}))
    path.write_bytes(buffer.getvalue())


def test_defaults_every_archive_one_worker_per_core(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 6)
    arguments = parse_arguments({})
    assert arguments.archives is None
    assert arguments.since is None
    assert arguments.until is None
    assert arguments.workers == 6
    assert not arguments.filtered
    assert arguments.incremental is False
    assert arguments.given == {}


def test_every_argument_is_read():
    arguments = ReextractSpider.check_arguments(
        archives="a.warc.gz, b.warc.gz,", since="2026-01-01", until="2026-01-31T12:00:00Z", workers="3", _job="x"
    )
    assert arguments.archives == ("a.warc.gz", "b.warc.gz")
    assert arguments.since == datetime(2026, 1, 1, tzinfo=UTC)
    assert arguments.until == datetime(2026, 1, 31, 12, tzinfo=UTC)
    assert arguments.workers == 3
    assert arguments.filtered
    assert arguments.given["workers"] == "3"


def test_until_a_day_keeps_the_whole_day():
    assert parse_arguments({"until": "2026-01-31"}).until == datetime(2026, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"archive": "x"}, "unknown spider argument 'archive' (known: archives, since, until, workers)"),
        ({"start_urls": "http://x"}, "unknown spider argument 'start_urls'"),
        ({"archives": " , "}, "archives is empty"),
        ({"since": "yesterday"}, "since must be a date (YYYY-MM-DD)"),
        ({"until": "2026-13-01"}, "until must be a date"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "since (2026-02-01) must come before until (2026-01-01)"),
        ({"workers": "0"}, "workers must be a whole number of processes, at least 1, not '0'"),
        ({"workers": "two"}, "workers must be a whole number"),
    ],
)
def test_a_bad_argument_is_one_line(given, message):
    with pytest.raises(SpiderArgumentError) as caught:
        parse_arguments(given)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_spider_refuses_a_bad_argument_when_made():
    with pytest.raises(SpiderArgumentError):
        ReextractSpider(workers="-1")


def test_archives_are_found_by_path_by_name_in_the_archive_directory_or_by_directory(tmp_path):
    directory = tmp_path / "archive"
    directory.mkdir()
    for name in ("commentary-1.warc.gz", "commentary-2.warc.gz", "commentary-3.warc.gz.0a1b2c.part"):
        warcinfo_only(directory / name)
    settings = Settings({"CARNEGIE_ARCHIVE": str(directory)})

    every = resolve_archives(parse_arguments({}), settings)
    assert [p.name for p in every] == ["commentary-1.warc.gz", "commentary-2.warc.gz"], "published files only"
    by_name = resolve_archives(parse_arguments({"archives": "commentary-2.warc.gz"}), settings)
    assert by_name == [directory / "commentary-2.warc.gz"]
    part = directory / "commentary-3.warc.gz.0a1b2c.part"
    assert resolve_archives(parse_arguments({"archives": str(part)}), settings) == [part], "a part file when named"
    assert resolve_archives(parse_arguments({"archives": str(directory)}), Settings({"CARNEGIE_ARCHIVE": ""})) == every


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "is empty: no WARC record to read"),
        (b"hello, not an archive\n", "is not a WARC archive: not one record of it can be read"),
        (bytes(range(256)) * 8, "is not a WARC archive: not one record of it can be read"),
    ],
)
def test_a_named_file_that_is_no_warc_archive_is_refused(tmp_path, content, fragment):
    """Named, it is the whole input: read as a damaged archive it gave a healthy, empty run with exit 0
    (found by a review). In the archive directory such a file is read as damaged (one ERROR line)."""
    junk = tmp_path / "junk.warc.gz"
    junk.write_bytes(content)
    with pytest.raises(SpiderArgumentError, match=f"junk.warc.gz {fragment}"):
        resolve_archives(parse_arguments({"archives": str(junk)}), Settings({"CARNEGIE_ARCHIVE": ""}))


def test_no_archive_to_read_is_an_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SpiderArgumentError, match=f"no archive \\(\\*.warc.gz\\) in {empty}"):
        resolve_archives(parse_arguments({}), Settings({"CARNEGIE_ARCHIVE": str(empty)}))
    with pytest.raises(SpiderArgumentError, match="CARNEGIE_ARCHIVE is empty"):
        resolve_archives(parse_arguments({}), Settings({"CARNEGIE_ARCHIVE": ""}))
    with pytest.raises(SpiderArgumentError, match=r"archive not found: nope\.warc\.gz"):
        resolve_archives(parse_arguments({"archives": "nope.warc.gz"}), Settings({"CARNEGIE_ARCHIVE": str(empty)}))
