"""One run's archive: a gzip-compressed WARC file (`.warc.gz`) written as the run goes.

The file follows the output's protocol (`output.JsonLinesFile`): records go to a part file
unique to the run, and the run's owner renames it into place when the run publishes.

Every record is its own gzip member (as WARC readers expect, so they can seek to a record).
warcio's `WARCWriter(gzip=True)` does the same, but it compresses and writes a record piece by
piece, so a crash in the middle of a record would leave half a gzip member at the end of the
file. Here each exchange (the request record, then the response record) is built and
compressed in memory (one page: the body Scrapy already holds), then appended with `os.write`
in a loop, and cut back off if a write fails (a full disk). So the part file is always whole
records, and a killed crawl leaves a prefix every WARC reader opens; at worst a torn tail of
the last exchange, which `reader` drops (and `open(resume=True)` cuts off).

Memory stays flat: nothing but the exchange being written is held.
"""

from __future__ import annotations

import os
import uuid
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from http import HTTPStatus
from importlib import metadata
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.http import Headers, Response
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from ..output import PartFile
from .scan import complete_prefix

# The request.meta key under which the middleware leaves the response record's WARC-Record-ID.
RECORD_META = "carnegie_archive_record"
WARC_VERSION = "1.1"  # WARC/1.1: dates to the microsecond, so "the latest response" is well defined
# zlib level 6: within a few % of level 9 (warcio's) on HTML, at about a third of the CPU.
COMPRESS_LEVEL = 6


@cache
def software() -> str:
    """`carnegie-crawler/<version>`, for the warcinfo record."""
    try:
        version = metadata.version("carnegie-crawler")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"carnegie-crawler/{version}"


def warc_date(moment: datetime | None = None) -> str:
    """A WARC-Date: UTC, to the microsecond (WARC/1.1)."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    return str(datetime_to_iso_date(moment, use_micros=True))


def new_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def gzip_member(data: bytes, level: int = COMPRESS_LEVEL) -> bytes:
    """*data* as one complete gzip member."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


class WarcFile(PartFile):
    """A run's WARC file: exchanges go to *part* (unique per run), and the file moves to *path* when published.

    *warcinfo* names the run (its `run_id`, say); `software` (carnegie-crawler and its version)
    and `format` are filled in unless given.
    """

    def __init__(
        self,
        path: Path,
        part: Path | None = None,
        warcinfo: Mapping[str, str] | None = None,
        compress_level: int = COMPRESS_LEVEL,
    ) -> None:
        super().__init__(path, part)
        self.warcinfo: dict[str, str] = {
            "software": software(),
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        } | dict(warcinfo or {})
        self.compress_level = compress_level
        self.records = 0  # WARC records in the part file: warcinfo, then a request and a response per exchange
        self.responses = 0
        self.size = 0  # bytes in the part file
        self._buffer = BytesIO()
        self._writer = WARCWriter(self._buffer, gzip=False, warc_version=WARC_VERSION)

    @property
    def name(self) -> str:
        """The published file's name: what an item's `archive.file` says (relative to the archive directory)."""
        return self.path.name

    def open(self, resume: bool = False) -> None:
        """Create the part file (never another run's: mode "xb") and write the warcinfo record.

        With *resume* (a paused JOBDIR run), append to the part file the run left, after
        cutting off a torn last exchange.
        """
        self.part.parent.mkdir(parents=True, exist_ok=True)
        if resume and self.part.exists():
            prefix = complete_prefix(self.part)
            self._fh = open(self.part, "r+b", buffering=0)  # noqa: SIM115 - closed in close()
            os.ftruncate(self._fh.fileno(), prefix.end)
            os.lseek(self._fh.fileno(), 0, os.SEEK_END)
            self.records, self.responses, self.size = prefix.records, prefix.responses, prefix.end
            if prefix.records:
                return
        else:
            self._fh = open(self.part, "xb", buffering=0)  # noqa: SIM115 - closed in close()
        warcinfo = self._writer.create_warcinfo_record(self.path.name, self.warcinfo)
        warcinfo.rec_headers.replace_header("WARC-Date", warc_date())  # to the microsecond, like the others
        self._append([warcinfo])

    def write_exchange(self, request: Request, response: Response) -> str:
        """Append the request and response records of one fetch; the response record's WARC-Record-ID.

        The response record holds the status line, the headers and the body as Scrapy received
        them (before decompression: a gzip-encoded body stays encoded, with its Content-Encoding).
        Both records carry the same WARC-Target-URI and WARC-Date, and name each other in
        WARC-Concurrent-To. Raises OSError (a full disk) with neither record written.
        """
        if self._fh is None:
            raise ValueError(f"{self.part} is not open")
        uri = response.url
        date = warc_date()
        request_id, response_id = new_record_id(), new_record_id()
        response_headers = {
            "WARC-Record-ID": response_id,
            "WARC-Date": date,
            "WARC-Concurrent-To": request_id,
        }
        if response.ip_address is not None:
            response_headers["WARC-IP-Address"] = str(response.ip_address)
        if "dataloss" in response.flags:  # the connection was cut: the body is what arrived
            response_headers["WARC-Truncated"] = "disconnect"
        builder = self._writer
        request_record = builder.create_warc_record(
            uri, "request", payload=BytesIO(request.body), length=len(request.body),
            http_headers=_request_head(request, uri),
            warc_headers_dict={"WARC-Record-ID": request_id, "WARC-Date": date, "WARC-Concurrent-To": response_id},
        )  # fmt: skip
        response_record = builder.create_warc_record(
            uri, "response", payload=BytesIO(response.body), length=len(response.body),
            http_headers=_response_head(response), warc_headers_dict=response_headers,
        )  # fmt: skip
        self._append([request_record, response_record])
        self.responses += 1
        return response_id

    def _append(self, records: list[Any]) -> None:
        """Write *records*, each as its own gzip member, whole, or raise OSError and leave none of them."""
        members = []
        for record in records:
            self._buffer.seek(0)
            self._buffer.truncate()
            self._writer.write_record(record)
            members.append(gzip_member(self._buffer.getvalue(), self.compress_level))
        self._buffer.seek(0)
        self._buffer.truncate()
        data = b"".join(members)
        fd = self._fh.fileno()
        start = os.lseek(fd, 0, os.SEEK_END)
        view = memoryview(data)
        try:
            while view:
                written = os.write(fd, view)
                view = view[written:]
        except OSError:
            os.ftruncate(fd, start)  # cut the torn exchange; the records before it stay
            raise
        self.records += len(records)
        self.size = start + len(data)

    def discard_unused(self) -> None:
        """A run that never got to crawl: close, and remove the part file if it holds no exchange."""
        self.close()
        if self.responses == 0 and self.part.exists():
            self.part.unlink()


def provenance(archive: WarcFile | None, meta: Mapping[str, Any]) -> dict[str, str] | None:
    """An item's `archive` field: the WARC file (its name in the archive directory) and the response record
    its page came from; None when the run keeps no archive or the response was not archived."""
    record = meta.get(RECORD_META)
    if archive is None or not record:
        return None
    return {"file": archive.name, "record_id": str(record)}


def _pairs(headers: Headers) -> list[tuple[str, str]]:
    """Every header line, in order, as text (bytes read as Latin-1, as HTTP/1.1 defines them)."""
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in headers.items()
        for value in values
    ]  # fmt: skip


def _protocol(response: Response) -> str:
    protocol = response.protocol or ""
    if protocol.upper().startswith("HTTP/"):
        return protocol.upper()
    return "HTTP/2" if protocol.lower() == "h2" else "HTTP/1.1"


def _response_head(response: Response) -> StatusAndHeaders:
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    statusline = f"{response.status} {reason}".strip()
    return StatusAndHeaders(statusline, _pairs(response.headers), protocol=_protocol(response))


def _request_head(request: Request, uri: str) -> StatusAndHeaders:
    """`GET /path?query HTTP/1.1` and the request's headers; Host (which the HTTP client adds) if missing."""
    parts = urlsplit(uri)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = _pairs(request.headers)
    if parts.netloc and not any(name.lower() == "host" for name, _ in headers):
        headers.insert(0, ("Host", parts.netloc))
    return StatusAndHeaders(f"{request.method} {target} HTTP/1.1", headers, is_http_request=True)
