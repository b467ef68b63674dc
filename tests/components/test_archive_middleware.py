"""The archive middleware: every response into the run's WARC file, its record id left for the spider."""

from __future__ import annotations

import errno
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy import Spider
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from carnegie_crawler.archive import RECORD_META, WarcFile, provenance
from carnegie_crawler.archive import warc as warc_module
from carnegie_crawler.archive.middleware import PRIORITY, ArchiveMiddleware
from carnegie_crawler.spiders.commentary import CommentarySpider
from tests.helpers import project_settings
from tests.unit.test_archive_warc import exchange, read_records


class FakeRun:
    """The owner's side the middleware uses: `archive`, and `stop` when the archive cannot be written."""

    def __init__(self, archive: WarcFile | None) -> None:
        self.archive = archive
        self.stopped: list[BaseException] = []

    def stop(self, exc: BaseException) -> None:
        self.stopped.append(exc)


@pytest.fixture
def archive(tmp_path):
    file = WarcFile(tmp_path / "run.warc.gz", warcinfo={"run_id": "r"})
    file.open()
    yield file
    file.close()


def middleware(archive: WarcFile) -> tuple[ArchiveMiddleware, Any]:
    crawler = get_crawler(Spider)
    crawler.stats = SimpleNamespace(values={}, inc_value=None, set_value=None)
    values: dict[str, Any] = crawler.stats.values
    crawler.stats.inc_value = lambda key, count=1: values.__setitem__(key, values.get(key, 0) + count)
    crawler.stats.set_value = values.__setitem__
    run = FakeRun(archive)
    return ArchiveMiddleware(crawler, archive, run), run


def test_off_without_an_archive():
    """CARNEGIE_ARCHIVE empty, or a spider that fetches nothing: no archive on the owner, the middleware is off."""
    crawler = get_crawler(
        CommentarySpider,
        project_settings(CARNEGIE_OUTPUT="", CARNEGIE_STATE="", CARNEGIE_REJECTS="", CARNEGIE_ARCHIVE=""),
    )
    with pytest.raises(NotConfigured, match="no archive"):
        ArchiveMiddleware.from_crawler(crawler)


def test_sits_next_to_the_downloader():
    """process_response runs from the highest priority down: ours before redirects (600), decompression (590),
    retries (550) and the robots.txt middleware (100) see the response."""
    assert PRIORITY > 900  # and after HttpCacheMiddleware's process_request


def test_every_response_is_written_and_its_record_left_in_meta(archive):
    mw, run = middleware(archive)
    pairs = [
        exchange("http://127.0.0.1/robots.txt", b"User-agent: *\n", 200, {"Content-Type": "text/plain"}),
        exchange("http://127.0.0.1/old", b"", 301, {"Location": "/posts/2020/01/new"}),
        exchange("http://127.0.0.1/posts/2020/01/new"),
        exchange("http://127.0.0.1/posts/2020/01/gone", b"no", 404),
        exchange("http://127.0.0.1/posts/2020/01/busy", b"busy", 503, {}),
    ]
    for request, response in pairs:
        assert mw.process_response(request, response) is response
        assert response.meta[RECORD_META].startswith("<urn:uuid:")
        assert provenance(archive, response.meta) == {"file": "run.warc.gz", "record_id": response.meta[RECORD_META]}
    assert mw.crawler.stats.values["carnegie/archive/responses"] == len(pairs)
    assert mw.crawler.stats.values["carnegie/archive/bytes"] == archive.part.stat().st_size
    archive.close()
    records = [r for r in read_records(archive.part) if r["type"] == "response"]
    assert [r["headers"]["WARC-Record-ID"] for r in records] == [resp.meta[RECORD_META] for _, resp in pairs]
    assert [int(r["http"].get_statuscode()) for r in records] == [200, 301, 200, 404, 503]
    assert not run.stopped


def test_a_full_disk_stops_the_run_once_and_the_crawl_goes_on_unarchived(archive, monkeypatch):
    mw, run = middleware(archive)

    def full(fd: int, data: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(warc_module.os, "write", full)
    for i in range(3):
        request, response = exchange(f"http://127.0.0.1/posts/2020/01/p{i}")
        assert mw.process_response(request, response) is response
        assert RECORD_META not in response.meta
    assert len(run.stopped) == 1
    assert "cannot write the archive" in str(run.stopped[0])
    assert "No space" in str(run.stopped[0])
    assert mw.crawler.stats.values["carnegie/archive/error"] == "No space left on device"


def test_a_closed_archive_is_left_alone(archive):
    mw, run = middleware(archive)
    archive.close()  # the run is ending
    request, response = exchange("http://127.0.0.1/posts/2020/01/late")
    assert mw.process_response(request, response) is response
    assert RECORD_META not in response.meta
    assert not run.stopped
