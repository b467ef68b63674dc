"""Reading archives back: the latest response of each URL, by file and date, rebuilt as the crawl had it."""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy import Request, Spider
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.http import Headers, TextResponse
from scrapy.responsetypes import responsetypes
from scrapy.utils.test import get_crawler

from carnegie_crawler.archive import reader, scan, selection
from carnegie_crawler.archive import warc as warc_module
from carnegie_crawler.archive.reader import ArchiveError, ArchiveReader
from carnegie_crawler.archive.selection import choose, in_order, parse_moment
from tests.unit.test_archive_warc import exchange, write_archive

BASE = "http://127.0.0.1:8000/posts/2020/01"


@pytest.fixture
def clock(monkeypatch):
    """Set the WARC-Dates the next records get: `clock("2026-01-01T00:00:00", ...)`, one per record written
    (the warcinfo record, then one per exchange)."""

    def set_dates(*moments: str) -> None:
        dates: Iterator[str] = iter(f"{m}.000000Z" for m in moments)
        monkeypatch.setattr(warc_module, "warc_date", lambda moment=None: next(dates))

    return set_dates


def page(name: str, version: str = "v1") -> bytes:
    return f"<html><body><h1>{name}</h1><p>{version}</p></body></html>".encode()


@pytest.fixture
def two_runs(tmp_path, clock) -> tuple[Path, Path]:
    """January's run saw four pages; February's saw one changed, one 503, one gone (404), one 304."""
    january, february = tmp_path / "commentary-jan.warc.gz", tmp_path / "commentary-feb.warc.gz"
    clock(*(f"2026-01-01T00:00:0{i}" for i in range(5)))
    write_archive(january, [exchange(f"{BASE}/p{i}", page(f"p{i}")) for i in range(1, 5)])
    clock(*(f"2026-02-01T00:00:0{i}" for i in range(5)))
    write_archive(
        february,
        [
            exchange(f"{BASE}/p1", page("p1", "v2")),
            exchange(f"{BASE}/p2", b"busy", 503, {"Content-Type": "text/plain"}),
            exchange(f"{BASE}/p3", b"<h1>Not found</h1>", 404),
            exchange(f"{BASE}/p4", b"", 304, {"ETag": '"x"'}),
        ],
    )
    return january, february


def test_the_latest_response_of_each_url_wins(two_runs):
    january, february = two_runs
    chosen = choose([february, january]).entries
    got = [(e.url.rsplit("/", 1)[1], e.file, e.status) for e in chosen]
    # The newest file first, in its own order; then what only the older file has.
    assert got == [
        ("p1", february.name, 200),  # changed: February's
        ("p3", february.name, 404),  # gone: the 404 hides January's page
        ("p2", january.name, 200),  # a 503 says nothing of the page: January's stays
        ("p4", january.name, 200),  # a 304 has no content: January's stays
    ]
    with ArchiveReader() as archive:
        assert b"v2" in archive.read(chosen[0]).body
        assert b"v1" in archive.read(chosen[2]).body


def test_since_and_until_choose_by_archive_date(two_runs):
    january, february = two_runs
    files = [january, february]
    later = choose(files, since=parse_moment("2026-01-15")).entries
    assert [(e.url.rsplit("/", 1)[1], e.status) for e in later] == [("p1", 200), ("p3", 404)]
    earlier = choose(files, until=parse_moment("2026-01-31", end=True))
    # p1 and p3 have a newer answer (after until): January's would undo it. A 503 and a 304 say nothing.
    assert [(e.url.rsplit("/", 1)[1], e.file) for e in earlier.entries] == [("p2", january.name), ("p4", january.name)]
    assert (earlier.responses, earlier.in_range, earlier.superseded) == (8, 4, 2)
    day = choose(files, since=parse_moment("2026-02-01"), until=parse_moment("2026-02-01", end=True))
    assert {e.file for e in day.entries} == {february.name}
    assert choose(files, since=parse_moment("2027-01-01")).entries == []


def test_an_older_archive_chosen_gives_only_the_urls_whose_newest_response_it_holds(two_runs, caplog):
    """The newest response of each URL is looked for in every archive; a URL whose newest response is outside
    the chosen files is left out (re-extracting its older one would roll the state back), counted and said."""
    january, february = two_runs
    with caplog.at_level(logging.INFO, logger=selection.__name__):
        older = choose([january], others=[january, february])
    assert [(e.url.rsplit("/", 1)[1], e.file) for e in older.entries] == [("p2", january.name), ("p4", january.name)]
    assert older.files == [january]
    assert (older.responses, older.in_range, older.superseded) == (4, 4, 2), "February's records are not counted"
    [line] = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert line.startswith("2 URL(s) left out"), line
    assert "newer response outside the selection" in line

    newer = choose([february], others=[january, february])
    assert [(e.url.rsplit("/", 1)[1], e.status) for e in newer.entries] == [("p1", 200), ("p3", 404)]
    assert newer.superseded == 0, "a 503 or a 304 in the chosen file is no page: nothing is left out for it"
    assert choose([january], others=[february]).entries == older.entries


@pytest.mark.parametrize("name", ["same", "a-backup.warc.gz", "zz-backup.warc.gz"])
def test_a_named_copy_of_the_newest_archive_is_not_superseded_by_itself(two_runs, tmp_path, name):
    """Whatever the copy's name sorts like: a copy under a name before the original's was superseded by
    it, so a re-extraction of the copy re-extracted nothing (found by a review)."""
    january, february = two_runs
    (tmp_path / "copy").mkdir()
    copy = tmp_path / "copy" / (february.name if name == "same" else name)
    copy.write_bytes(february.read_bytes())
    chosen = choose([copy], others=[january, february])
    assert [(e.url.rsplit("/", 1)[1], e.path) for e in chosen.entries] == [("p1", copy), ("p3", copy)]
    assert chosen.superseded == 0


@pytest.mark.parametrize("named", [None, "february", "january"])
def test_a_damaged_newer_archive_never_lets_an_older_response_stand_in(tmp_path, clock, caplog, named):
    """February's archive is cut after its first page: what it held for p2 and p3 cannot be read. January's
    older responses of them would have been re-extracted as the newest (a damaged newest archive took
    1,504 of 3,000 documents back in time, found by a review). They are left out, counted and said."""
    january, february = tmp_path / "commentary-jan.warc.gz", tmp_path / "commentary-feb.warc.gz"
    clock(*(f"2026-01-01T00:00:0{i}" for i in range(4)))
    write_archive(january, [exchange(f"{BASE}/p{i}", page(f"p{i}")) for i in range(1, 4)])
    clock(*(f"2026-02-01T00:00:0{i}" for i in range(4)))
    _, ids = write_archive(february, [exchange(f"{BASE}/p{i}", page(f"p{i}", "v2")) for i in range(1, 4)])
    data = february.read_bytes()
    february.write_bytes(data[: data.index(b"\x1f\x8b", len(data) // 2) - 1])  # inside the second exchange
    [first] = choose([february]).entries
    assert first.url.endswith("/p1")
    assert first.record_id == ids[0], "February's readable part holds p1 only"

    with caplog.at_level(logging.INFO, logger=selection.__name__):
        if named is None:
            chosen = choose([january, february])
        elif named == "february":
            chosen = choose([february], others=[january, february])
        else:
            chosen = choose([january], others=[january, february])
    got = [(e.url.rsplit("/", 1)[1], e.file) for e in chosen.entries]
    assert got == ([] if named == "january" else [("p1", february.name)])
    assert chosen.uncertain == (0 if named == "february" else 2)
    if chosen.uncertain:
        [line] = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
        assert line.startswith("2 URL(s) left out")
        assert february.name in line
    if named == "january":
        assert chosen.superseded == 1  # p1: February's readable response is newer


@pytest.mark.parametrize("keep", [60, 0])
def test_a_newest_archive_damaged_in_its_first_record_still_sorts_as_the_newest(tmp_path, clock, keep):
    """With no first record to date it, the damaged file sorted as the oldest, and January's responses were
    taken as the newest (found by a review). Named as a run's archive, it sorts by the run id in its name."""
    january = tmp_path / "commentary-2026-01-01T00-00-00-aaaaaa.warc.gz"
    february = tmp_path / "commentary-2026-02-01T00-00-00-bbbbbb.warc.gz"
    clock(*(f"2026-01-01T00:00:0{i}" for i in range(4)))
    write_archive(january, [exchange(f"{BASE}/p{i}", page(f"p{i}")) for i in range(1, 4)])
    clock(*(f"2026-02-01T00:00:0{i}" for i in range(4)))
    write_archive(february, [exchange(f"{BASE}/p{i}", page(f"p{i}", "v2")) for i in range(1, 4)])
    february.write_bytes(february.read_bytes()[:keep])
    assert in_order([february, january]) == [january, february]
    chosen = choose([january, february])
    assert chosen.entries == []
    assert chosen.uncertain == 3
    junk = tmp_path / "notes.warc.gz"  # a name that is no run's: it says nothing of when, and hides nothing
    junk.write_bytes(b"")
    assert [e.url.rsplit("/", 1)[1] for e in choose([january, junk]).entries] == ["p1", "p2", "p3"]


def test_files_are_read_oldest_first_whatever_the_order_given(two_runs):
    january, february = two_runs
    assert in_order([february, january, february]) == [january, february]


def test_moments_are_whole_utc_days_or_iso_times():
    assert parse_moment("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_moment("2026-03-01", end=True) == datetime(2026, 3, 2, tzinfo=UTC)
    assert parse_moment("2026-03-01T10:30:00Z") == datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    assert parse_moment("2026-03-01T10:30:00") == datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="Invalid"):
        parse_moment("March")


def compressed(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    return body


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"}, page("p", "Café")),
        ({"Content-Type": "text/html", "Content-Encoding": "deflate"}, page("p", "Café")),
        ({"Content-Type": "text/html"}, b'<html><head><meta charset="windows-1251"></head><p>\xcf\xf0\xe8</p></html>'),
        ({}, b"<!DOCTYPE html><html><body>no content type</body></html>"),
        ({"Content-Type": "text/html", "Content-Encoding": "identity-ish"}, page("p")),
        ({"Content-Type": "application/pdf"}, b"%PDF-1.4 ..."),
    ],
)
def test_a_rebuilt_response_is_the_one_the_crawl_had(tmp_path, headers, body):
    """The same class, body, headers and text encoding as HttpCompressionMiddleware hands the spider."""
    url = f"{BASE}/page?lang=en"
    encoding = headers.get("Content-Encoding", "")
    # As the download handler builds it, then as the middleware hands it on.
    raw_body = compressed(body, encoding)
    raw_class = responsetypes.from_args(headers=Headers(headers), url=url, body=raw_body)
    raw = raw_class(url=url, status=200, headers=headers, body=raw_body)
    # Archived first, as the archive middleware (950) sees it before HttpCompressionMiddleware (590),
    # which edits the headers in place.
    write_archive(tmp_path / "run.warc.gz", [(Request(url), raw)])
    crawler = get_crawler(Spider)
    expected = HttpCompressionMiddleware.from_crawler(crawler).process_response(Request(url), raw)

    [(entry, rebuilt)] = list(reader.iter_archived([tmp_path / "run.warc.gz"]))
    assert entry.url == url
    assert entry.status == 200
    assert type(rebuilt) is type(expected)
    assert rebuilt.body == expected.body
    assert rebuilt.headers.to_unicode_dict() == expected.headers.to_unicode_dict()
    if isinstance(expected, TextResponse):
        assert isinstance(rebuilt, TextResponse)
        assert rebuilt.encoding == expected.encoding
        assert rebuilt.text == expected.text


def test_an_archive_that_ends_torn_is_read_up_to_the_tear_an_error_when_published(tmp_path, caplog):
    path = tmp_path / "run.warc.gz"
    _archive, ids = write_archive(path, [exchange(f"{BASE}/p{i}") for i in range(3)])
    torn = path.read_bytes()[:-25]
    published = tmp_path / "torn.warc.gz"
    published.write_bytes(torn)
    part = tmp_path / "crashed.warc.gz.abcdef.part"
    part.write_bytes(torn)
    for damaged, level, said in ((published, "ERROR", "is damaged"), (part, "WARNING", "ends in a torn record")):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            selection = choose([damaged])
        assert [e.record_id for e in selection.entries] == ids[:2]
        assert damaged in selection.torn
        [record] = [r for r in caplog.records if damaged.name in r.getMessage()]
        assert record.levelname == level
        assert said in record.getMessage()
    assert scan.complete_prefix(part).responses == 2


def test_a_file_that_is_not_an_archive_is_reported_and_costs_no_other_file_its_pages(tmp_path, caplog):
    good = tmp_path / "run.warc.gz"
    _archive, ids = write_archive(good, [exchange(f"{BASE}/p{i}") for i in range(2)])
    junk = tmp_path / "notes.warc.gz"
    junk.write_bytes(gzip.compress(b"just some text\n\x00\xff binary\n"))
    with caplog.at_level(logging.ERROR):
        selection = choose([good, junk])
    assert sorted(e.record_id for e in selection.entries) == sorted(ids)
    assert list(selection.torn) == [junk]
    [line] = [r.getMessage() for r in caplog.records if "notes.warc.gz" in r.getMessage()]
    assert line.isprintable(), line
    assert len(line) < 400, line
    with pytest.raises(ArchiveError, match="cannot read archive"):
        choose([tmp_path / "missing.warc.gz"])


def test_a_record_is_read_back_only_from_its_own_offset(tmp_path):
    path = tmp_path / "run.warc.gz"
    write_archive(path, [exchange(f"{BASE}/p{i}") for i in range(2)])
    first, second = choose([path]).entries
    wrong = reader.ArchivedResponse(**{**{f: getattr(first, f) for f in first.__slots__}, "offset": second.offset})
    with ArchiveReader() as archive, pytest.raises(ArchiveError, match="has no record"):
        archive.read(wrong)


def test_the_archive_directory_lists_published_files_and_parts_only_when_asked(tmp_path):
    write_archive(tmp_path / "a.warc.gz", [exchange(f"{BASE}/a")])
    write_archive(tmp_path / "b.warc.gz", [exchange(f"{BASE}/b")], publish=False)  # b.warc.gz.part
    (tmp_path / "c.warc.gz.0a1b2c.part").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in reader.archive_files(tmp_path)] == ["a.warc.gz"]
    assert [p.name for p in reader.archive_files(tmp_path, include_parts=True)] == [
        "a.warc.gz",
        "c.warc.gz.0a1b2c.part",
    ]
    assert reader.archive_files(tmp_path / "nowhere") == []
