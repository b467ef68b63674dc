"""The run's WARC file: what each record holds, one gzip member per record, and a readable prefix after a crash."""

from __future__ import annotations

import base64
import errno
import gzip
import hashlib
import os
import zlib
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, Response, TextResponse
from warcio.archiveiterator import ArchiveIterator

from carnegie_crawler.archive import warc as warc_module
from carnegie_crawler.archive.warc import RECORD_META, WarcFile, provenance, software

HTML = b"<html><head><title>Page</title></head><body><p>Caf\xc3\xa9 text</p></body></html>"


def exchange(
    url: str,
    body: bytes = HTML,
    status: int = 200,
    headers: dict[str, Any] | None = None,
    flags: list[str] | None = None,
) -> tuple[Request, Response]:
    """A request and the response Scrapy would hand the downloader middlewares for it."""
    request = Request(url, headers={"User-Agent": "carnegie-crawler/test", "Accept-Encoding": "gzip, deflate"})
    if headers is None:
        headers = {"Content-Type": "text/html; charset=utf-8"}
    cls = HtmlResponse if status == 200 and b"html" in str(headers.get("Content-Type", "")).encode() else Response
    response = cls(
        url=url, status=status, headers=headers, body=body, request=request, flags=flags, protocol="HTTP/1.1"
    )
    return request, response


def write_archive(
    path: Path, exchanges: list[tuple[Request, Response]], publish: bool = True, **warcinfo: str
) -> tuple[WarcFile, list[str]]:
    """A published (or part) archive holding *exchanges*; the response record ids, in order."""
    archive = WarcFile(path, warcinfo={"run_id": "commentary-2026-01-01T00-00-00-abcdef", **warcinfo})
    archive.open()
    ids = [archive.write_exchange(request, response) for request, response in exchanges]
    archive.close()
    if publish:
        archive.publish()
    return archive, ids


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every record of *path* as warcio reads it (digests checked: a mismatch raises)."""
    out = []
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh, check_digests="raise"):
            payload = record.raw_stream.read()
            http = record.http_headers
            out.append(
                {
                    "type": record.rec_type,
                    "headers": dict(record.rec_headers.headers),
                    "http": http,
                    "payload": payload,
                }
            )
    return out


def sha1_digest(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def gzip_members(data: bytes) -> list[bytes]:
    """The decompressed members of a multi-member gzip file."""
    members = []
    while data:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        members.append(decompressor.decompress(data) + decompressor.flush())
        assert decompressor.eof, "a whole gzip member"
        data = decompressor.unused_data
    return members


def test_every_record_opens_with_warcio_warcinfo_first_then_request_response_pairs(tmp_path):
    compressed = gzip.compress(HTML)
    pairs = [
        exchange("http://127.0.0.1:8000/robots.txt", b"User-agent: *\nDisallow: /private/\n", 200,
                 {"Content-Type": "text/plain; charset=utf-8"}),
        exchange("http://127.0.0.1:8000/old-address", b"", 301, {"Location": "/posts/2020/01/x?lang=en"}),
        exchange("http://127.0.0.1:8000/posts/2020/01/x?lang=en", compressed, 200,
                 {"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip", "ETag": '"abc"'}),
        exchange("http://127.0.0.1:8000/posts/2020/01/gone?lang=en", b"<h1>Not found</h1>", 404,
                 {"Content-Type": "text/html; charset=utf-8"}),
    ]  # fmt: skip
    path = tmp_path / "archive" / "run.warc.gz"
    archive, ids = write_archive(path, pairs)
    assert path.exists()
    assert not archive.part.exists()
    assert archive.records == 1 + 2 * len(pairs)
    assert archive.responses == len(pairs)
    assert archive.size == path.stat().st_size

    records = read_records(path)
    assert [r["type"] for r in records] == ["warcinfo"] + ["request", "response"] * len(pairs)

    info = records[0]
    assert info["headers"]["WARC-Filename"] == "run.warc.gz"
    assert info["headers"]["WARC-Date"].endswith("Z")
    fields = dict(line.split(": ", 1) for line in info["payload"].decode().splitlines() if line)
    assert fields["software"] == software()
    assert software().startswith("carnegie-crawler/")
    assert fields["format"] == "WARC File Format 1.1"
    assert fields["run_id"] == "commentary-2026-01-01T00-00-00-abcdef"

    for (_request, response), record_id, (req, resp) in zip(
        pairs, ids, zip(records[1::2], records[2::2], strict=False), strict=True
    ):
        for record in (req, resp):
            assert record["headers"]["WARC-Target-URI"] == response.url
            assert record["headers"]["WARC-Payload-Digest"].startswith("sha1:")
            assert "WARC-Block-Digest" in record["headers"]
        assert req["headers"]["WARC-Date"] == resp["headers"]["WARC-Date"]
        assert resp["headers"]["WARC-Record-ID"] == record_id
        assert req["headers"]["WARC-Concurrent-To"] == record_id
        assert resp["headers"]["WARC-Concurrent-To"] == req["headers"]["WARC-Record-ID"]
        assert resp["headers"]["Content-Type"] == "application/http; msgtype=response"
        assert req["headers"]["Content-Type"] == "application/http; msgtype=request"
        # The response as received: status, headers, and the body as sent (still gzip-encoded if it was).
        assert resp["http"].get_statuscode() == str(response.status)
        assert resp["http"].protocol == "HTTP/1.1"
        for name, value in response.headers.items():
            assert resp["http"].get_header(name.decode()) == value[0].decode()
        assert resp["payload"] == response.body
        assert resp["headers"]["WARC-Payload-Digest"] == sha1_digest(response.body)
        # The request as sent, Host included.
        assert req["http"].protocol == "GET"
        assert req["http"].get_header("Host") == "127.0.0.1:8000"
        assert req["http"].get_header("User-Agent") == "carnegie-crawler/test"
    request_record, response_record = records[5], records[6]  # the third exchange
    assert request_record["http"].statusline == "/posts/2020/01/x?lang=en HTTP/1.1"
    assert request_record["payload"] == b""
    assert gzip.decompress(response_record["payload"]) == HTML


def test_each_record_is_its_own_gzip_member(tmp_path):
    path = tmp_path / "run.warc.gz"
    archive, _ = write_archive(path, [exchange(f"http://example.org/posts/2020/01/p{i}") for i in range(3)])
    members = gzip_members(path.read_bytes())
    assert len(members) == archive.records == 7
    assert all(member.startswith(b"WARC/1.1\r\n") and member.endswith(b"\r\n\r\n") for member in members)


def test_the_part_file_is_readable_as_the_run_goes(tmp_path):
    """Each exchange is on disk once written: a reader (or a crash) sees every record so far."""
    archive = WarcFile(tmp_path / "run.warc.gz")
    archive.open()
    try:
        for count in range(1, 4):
            archive.write_exchange(*exchange(f"http://example.org/posts/2020/01/p{count}"))
            assert [r["type"] for r in read_records(archive.part)] == ["warcinfo"] + ["request", "response"] * count
    finally:
        archive.close()


def test_a_file_cut_after_any_whole_member_is_a_valid_prefix(tmp_path):
    """A crash between two writes: any number of whole members is a WARC file warcio reads to its end."""
    path = tmp_path / "run.warc.gz"
    write_archive(path, [exchange(f"http://example.org/posts/2020/01/p{i}") for i in range(3)])
    data = path.read_bytes()
    ends = []
    rest = data
    while rest:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        decompressor.decompress(rest)
        rest = decompressor.unused_data
        ends.append(len(data) - len(rest))
    assert len(ends) == 7
    for count, end in enumerate(ends, start=1):
        cut = tmp_path / f"cut-{count}.warc.gz"
        cut.write_bytes(data[:end])
        assert len(read_records(cut)) == count


def test_a_failed_write_leaves_no_torn_exchange(tmp_path, monkeypatch):
    """A full disk in the middle of an exchange: the part of it written is cut off, the file stays whole."""
    archive = WarcFile(tmp_path / "run.warc.gz")
    archive.open()
    try:
        archive.write_exchange(*exchange("http://example.org/posts/2020/01/a"))
        size = archive.part.stat().st_size
        real_write = os.write

        def half_then_full(fd: int, data: Any) -> int:
            monkeypatch.setattr(warc_module.os, "write", failing)
            return real_write(fd, bytes(data[: len(data) // 2]))

        def failing(fd: int, data: Any) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(warc_module.os, "write", half_then_full)
        with pytest.raises(OSError, match="No space"):
            archive.write_exchange(*exchange("http://example.org/posts/2020/01/b"))
        assert archive.part.stat().st_size == size == archive.size
        assert archive.records == 3
        assert archive.responses == 1
        monkeypatch.setattr(warc_module.os, "write", real_write)
        archive.write_exchange(*exchange("http://example.org/posts/2020/01/c"))
    finally:
        archive.close()
    uris = [r["headers"].get("WARC-Target-URI") for r in read_records(archive.part) if r["type"] == "response"]
    assert uris == ["http://example.org/posts/2020/01/a", "http://example.org/posts/2020/01/c"]


def test_a_resumed_run_cuts_a_torn_tail_and_appends(tmp_path):
    path = tmp_path / "run.warc.gz"
    first, _ = write_archive(
        path, [exchange(f"http://example.org/posts/2020/01/p{i}") for i in range(2)], publish=False
    )
    whole = first.part.stat().st_size
    with open(first.part, "ab") as fh:  # a crash in the middle of the third exchange
        fh.write(warc_module.gzip_member(b"WARC/1.1\r\nWARC-Type: request\r\n" + b"x" * 500)[:-40])
    resumed = WarcFile(path, first.part)
    resumed.open(resume=True)
    assert (resumed.records, resumed.responses, resumed.size) == (5, 2, whole)
    resumed.write_exchange(*exchange("http://example.org/posts/2020/01/p2"))
    resumed.close()
    types = [r["type"] for r in read_records(first.part)]
    assert types == ["warcinfo"] + ["request", "response"] * 3, "one warcinfo, no torn record"


def test_the_part_file_is_never_another_runs(tmp_path):
    path = tmp_path / "run.warc.gz"
    part = tmp_path / "run.warc.gz.abcdef.part"
    part.write_bytes(b"")
    with pytest.raises(FileExistsError):
        WarcFile(path, part).open()


def test_publish_keeps_a_previous_file_until_forgotten_and_unpublish_undoes_it(tmp_path):
    path = tmp_path / "run.warc.gz"
    path.write_bytes(b"previous")
    archive, _ = write_archive(path, [exchange("http://example.org/posts/2020/01/a")], publish=False)
    archive.publish()
    assert len(read_records(path)) == 3
    assert not archive.part.exists()
    archive.unpublish()
    assert path.read_bytes() == b"previous"
    assert len(read_records(archive.part)) == 3
    archive.publish()
    archive.forget_previous()
    assert [p.name for p in tmp_path.iterdir()] == ["run.warc.gz"]


def test_a_run_that_never_crawled_leaves_no_archive(tmp_path):
    archive = WarcFile(tmp_path / "run.warc.gz")
    archive.open()
    archive.discard_unused()
    assert list(tmp_path.iterdir()) == []


def test_odd_responses_are_archived_too(tmp_path):
    """A cut connection is marked WARC-Truncated; non-ASCII header values and odd statuses do not break a record."""
    pairs = [
        exchange("http://example.org/posts/2020/01/cut", HTML[:20], flags=["dataloss"]),
        exchange("http://example.org/files/r.pdf", b"%PDF-1.4", 200,
                 {"Content-Type": "application/pdf", "Content-Disposition": "attachment; filename=\"r\xe9.pdf\""}),
        exchange("http://example.org/x", b"", 599, {}),
    ]  # fmt: skip
    write_archive(tmp_path / "run.warc.gz", pairs)
    responses = [r for r in read_records(tmp_path / "run.warc.gz") if r["type"] == "response"]
    assert responses[0]["headers"]["WARC-Truncated"] == "disconnect"
    assert "WARC-Truncated" not in responses[1]["headers"]
    assert responses[1]["http"].get_header("Content-Disposition").startswith("attachment")
    assert responses[2]["http"].get_statuscode() == "599"


def test_provenance_names_the_published_file_and_the_record():
    archive = WarcFile(Path("data/archive/commentary-x.warc.gz"))
    assert provenance(archive, {RECORD_META: "<urn:uuid:1>"}) == {
        "file": "commentary-x.warc.gz",
        "record_id": "<urn:uuid:1>",
    }
    assert provenance(archive, {}) is None
    assert provenance(None, {RECORD_META: "<urn:uuid:1>"}) is None


def test_a_text_response_keeps_its_body_as_received(tmp_path):
    """The archive holds bytes, never text: a Latin-1 page stays Latin-1."""
    body = "<p>Türkiye</p>".encode("latin-1")
    request = Request("http://example.org/posts/2020/01/t")
    response = TextResponse(url=request.url, body=body, headers={"Content-Type": "text/html; charset=latin-1"})
    write_archive(tmp_path / "run.warc.gz", [(request, response)])
    assert read_records(tmp_path / "run.warc.gz")[2]["payload"] == body
