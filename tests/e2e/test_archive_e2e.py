"""The archive and re-extraction end to end, in process: crawl the local site with the archive on, stop the
server, re-extract. Where the run owner does not keep an archive yet (the project's wiring), `ArchivingOwner`
stands in for it, so these tests run either way."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest_twisted
from scrapy import signals
from scrapy.utils.test import get_crawler
from warcio.archiveiterator import ArchiveIterator

from carnegie_crawler.archive import WarcFile
from carnegie_crawler.devserver import SiteServer
from carnegie_crawler.extraction import page as page_module
from carnegie_crawler.run.files import part_path
from carnegie_crawler.run.outcome import EXIT_OK
from carnegie_crawler.run.owner import RunOwner, owner_of
from carnegie_crawler.spiders.reextract import ReextractSpider
from tests.e2e.crawling import EXPECTED, crawl_settings, run_crawl, start_urls
from tests.helpers import SITE

# Does the run owner keep an archive itself (the project's wiring)? Then the tests use the project's own.
WIRED = hasattr(RunOwner, "archive")


class ArchivingOwner(RunOwner):
    """The run owner with an archive, as the wiring does it: opened at the start, closed at the end, published
    with a healthy run's output. Used only where the owner does not keep one itself."""

    def _start(self, name: str) -> None:
        super()._start(name)
        self.archive: WarcFile | None = None
        directory = self.crawler.settings.get("CARNEGIE_ARCHIVE")
        if directory and getattr(self.crawler.spidercls, "fetches", True):
            path = Path(directory) / f"{self.run_id}.warc.gz"
            self.archive = WarcFile(path, part_path(path, self._token()), {"run_id": self.run_id})
            self.archive.open()

    def _finish(self, reason: str) -> None:
        if self.archive is not None:
            self.archive.close()
        super()._finish(reason)
        if self.archive is not None and self.committed:  # published with the output
            self.archive.publish()


def archive_settings(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    settings = crawl_settings(
        tmp_path,
        CARNEGIE_ARCHIVE=str(tmp_path / "archive"),
        CARNEGIE_OUTPUT=str(tmp_path / "out" / "%(run_id)s.jsonl"),
        CARNEGIE_REJECTS=str(tmp_path / "out" / "rejects" / "%(run_id)s.jsonl"),
        FEEDS={},
        **overrides,
    )
    if WIRED:
        return settings
    extensions = dict(settings.get("EXTENSIONS") or {})
    extensions |= {"carnegie_crawler.run.owner.RunOwner": None, f"{__name__}.ArchivingOwner": 100}
    middlewares = dict(settings.get("DOWNLOADER_MIDDLEWARES") or {})
    middlewares["carnegie_crawler.archive.middleware.ArchiveMiddleware"] = 950
    return settings | {"EXTENSIONS": extensions, "DOWNLOADER_MIDDLEWARES": middlewares}


def records_of(path: Path) -> list[Any]:
    """(type, WARC headers, HTTP status) of every record, digests checked."""
    out = []
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh, check_digests="raise"):
            record.raw_stream.read()
            status = record.http_headers.get_statuscode() if record.rec_type == "response" else None
            out.append((record.rec_type, dict(record.rec_headers.headers), status))
    return out


@pytest_twisted.inlineCallbacks
def crawl_with_archive(tmp_path: Path):
    """A crawl of the local site with the archive on; the server is stopped when it returns."""
    with SiteServer(SITE) as server:
        crawler, items = yield run_crawl(archive_settings(tmp_path), start_urls=start_urls(server))
    return crawler, items


@pytest_twisted.inlineCallbacks
def reextract(tmp_path: Path, **spider_args: Any):
    crawler = get_crawler(ReextractSpider, archive_settings(tmp_path))
    items: list[Any] = []

    def collect(item: Any) -> None:
        items.append(item)

    crawler.signals.connect(collect, signal=signals.item_scraped)
    yield crawler.crawl(**spider_args)
    return crawler, items


@pytest_twisted.inlineCallbacks
def test_every_fetched_response_is_archived_and_every_archive_opens_with_warcio(tmp_path):
    crawler, items = yield crawl_with_archive(tmp_path)
    stats = crawler.stats.get_stats()
    assert owner_of(crawler).exit_code == EXIT_OK
    files = sorted((tmp_path / "archive").iterdir())
    assert [f.name for f in files] == [f"{owner_of(crawler).run_id}.warc.gz"], "published, no part file left"

    for path in files:
        records = records_of(path)
        assert records[0][0] == "warcinfo"
        assert records[0][1]["WARC-Filename"] == path.name
        pairs = list(zip(records[1::2], records[2::2], strict=True))
        assert [(req[0], resp[0]) for req, resp in pairs] == [("request", "response")] * len(pairs)
        for (_, req, _), (_, resp, _) in pairs:
            assert req["WARC-Target-URI"] == resp["WARC-Target-URI"]
            assert req["WARC-Date"] == resp["WARC-Date"]
            assert req["WARC-Concurrent-To"] == resp["WARC-Record-ID"]
            assert resp["WARC-Payload-Digest"].startswith("sha1:")

    # Every response the downloader got, each status as often: robots.txt, the redirect, the 404, the 500 retried.
    responses = [(h["WARC-Target-URI"], status) for path in files for kind, h, status in records_of(path)
                 if kind == "response"]  # fmt: skip
    assert len(responses) == stats["downloader/response_count"]
    by_status = Counter(status for _, status in responses)
    assert by_status == {
        k.rsplit("/", 1)[1]: v for k, v in stats.items() if k.startswith("downloader/response_status_count/")
    }
    assert {"200", "301", "404", "500"} <= set(by_status)
    assert any(uri.endswith("/robots.txt") for uri, _ in responses)
    assert stats["carnegie/archive/responses"] == len(responses)
    fetched = {uri for uri, status in responses if status == "200"}
    assert {i.fetched_url for i in items} <= fetched


@pytest_twisted.inlineCallbacks
def test_reextraction_after_the_server_stopped_gives_the_same_documents_without_a_request(tmp_path):
    crawler, crawled = yield crawl_with_archive(tmp_path)
    run = owner_of(crawler)
    assert run.exit_code == EXIT_OK
    assert len(crawled) == len(EXPECTED["expected_items"])

    again, items = yield reextract(tmp_path)
    stats = again.stats.get_stats()
    owner = owner_of(again)
    assert owner.exit_code == EXIT_OK, owner.summary
    assert "downloader/request_count" not in stats
    assert "downloader/response_count" not in stats
    assert sorted((i.url, i.language, i.content_hash) for i in items) == sorted(
        (i.url, i.language, i.content_hash) for i in crawled
    )
    assert [i.fetched_url for i in items] == [i.fetched_url for i in crawled], "the crawl's order"
    assert {i.crawl_status for i in items} == {"unchanged"}
    assert stats["carnegie/dedupe/dropped"] == crawler.stats.get_value("carnegie/dedupe/dropped") == 1
    assert {i.run_id for i in items} == {owner.run_id} != {run.run_id}
    assert [p.name for p in (tmp_path / "archive").iterdir()] == [f"{run.run_id}.warc.gz"], "no archive of its own"
    if hasattr(crawled[0], "archive"):  # the lead's `archive` item field
        assert [i.archive for i in items] == [i.archive for i in crawled]


@pytest_twisted.inlineCallbacks
def test_a_changed_extractor_gives_updated_items_on_reextraction(tmp_path, monkeypatch):
    _, crawled = yield crawl_with_archive(tmp_path)
    body = page_module._body
    monkeypatch.setattr(page_module, "_body", lambda page, subtitle: (body(page, subtitle) or "") + "\n\n(v2)")
    crawler, items = yield reextract(tmp_path, workers="1")  # in this process, where the change is
    assert owner_of(crawler).exit_code == EXIT_OK
    assert len(items) == len(crawled)
    assert {i.crawl_status for i in items} == {"updated"}
    before = {(i.url, i.language): i.content_hash for i in crawled}
    assert all(before[(i.url, i.language)] != i.content_hash for i in items)
