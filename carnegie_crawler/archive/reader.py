"""Read archived responses back: which ones to re-extract, and each as the Scrapy response the crawl had.

A first pass indexes the response records of the chosen files (URL, WARC-Date, record id, file,
offset, status: no body is kept), keeping the latest response of each URL; a second reads the
chosen records one at a time, by offset. Memory grows with the number of URLs, not with the
archive.

Which responses to take is `selection.py`'s.

`.part` files (a run that crashed, or ended unhealthy and so was not published) are read when
named: whole records only, a torn last exchange is left out. A published file that cannot be
read to its end (damaged, or not a WARC file at all) is read up to the damage, with one ERROR line:
one bad file never costs the pages of the others.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from scrapy.http import Response
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeadersParserException

from .responses import response_of
from .scan import TornError, scan

ARCHIVE_SUFFIX = ".warc.gz"  # a run's archive file: <run id>.warc.gz


logger = logging.getLogger(__name__)

_READ_ERRORS = (ArchiveLoadFailed, StatusAndHeadersParserException, zlib.error, EOFError, ValueError, OSError)


class ArchiveError(Exception):
    """An archive file cannot be read; the message names it and says why."""


@dataclass(frozen=True, slots=True)
class ArchivedResponse:
    """One response record, without its body: enough to choose it and to read it back."""

    url: str  # WARC-Target-URI: the URL the response answered (after redirects, the final one)
    date: datetime  # WARC-Date, UTC
    record_id: str  # WARC-Record-ID
    file: str  # the archive file's name (what an item's `archive.file` says)
    path: Path
    offset: int  # of the record's gzip member in the file
    status: int
    position: int = 0  # the file's place among the files read, oldest first

    @property
    def provenance(self) -> dict[str, str]:
        return {"file": self.file, "record_id": self.record_id}


def is_part(path: Path) -> bool:
    return path.name.endswith(".part")


def archive_files(directory: Path | None, include_parts: bool = False) -> list[Path]:
    """The published archives in *directory* (and the part files of runs that did not publish, if asked)."""
    if directory is None or not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if p.name.endswith(ARCHIVE_SUFFIX) and p.is_file()]
    if include_parts:
        found += [p for p in directory.glob(f"*{ARCHIVE_SUFFIX}.*.part") if p.is_file()]
    return sorted(found)


def file_date(path: Path) -> datetime | None:
    """The WARC-Date of the file's first record (its warcinfo: when the run started)."""
    try:
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                return _record_date(record)
    except _READ_ERRORS:
        return None
    return None


def _record_date(record: Any) -> datetime:
    text = record.rec_headers.get_header("WARC-Date") or ""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def iter_index(path: Path, position: int = 0, torn: dict[Path, str] | None = None) -> Iterator[ArchivedResponse]:
    """The response records of *path*, without their bodies.

    A part file's torn tail ends the iteration (and is noted in *torn*); in a published file it
    is an `ArchiveError`, as is a file that is not a WARC file.
    """
    for _, record, offset, _, _ in _records(path, read_body=False, torn=torn):
        entry = _entry(record, path, offset, position)
        if entry is not None:
            yield entry


def iter_archived(paths: Sequence[Path]) -> Iterator[tuple[ArchivedResponse, Response]]:
    """Every archived response of *paths* (in the order given), with the Scrapy response rebuilt from it."""
    for position, path in enumerate(paths):
        for _, record, offset, _, body in _records(path, read_body=True):
            entry = _entry(record, path, offset, position)
            if entry is not None:
                assert body is not None
                yield entry, response_of(record, entry.url, body)


def _records(path: Path, read_body: bool, torn: dict[Path, str] | None = None) -> Iterator[Any]:
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below, also when the caller stops early
    except OSError as exc:
        raise ArchiveError(f"cannot read archive {path}: {exc.strerror or exc}") from None
    with fh:
        try:
            yield from scan(fh, path, read_body)
        except TornError as exc:
            if is_part(path):
                logger.warning("Archive %s ends in a torn record (%s): reading the records before it", path, exc)
            else:
                logger.error("Archive %s is damaged (%s): reading only the records before it", path, exc)
            if torn is not None:
                torn[path] = str(exc)


def _entry(record: Any, path: Path, offset: int, position: int) -> ArchivedResponse | None:
    if record.rec_type != "response" or record.http_headers is None:
        return None
    headers = record.rec_headers
    try:
        status = int(record.http_headers.get_statuscode())
    except (TypeError, ValueError):
        status = 0
    return ArchivedResponse(
        url=headers.get_header("WARC-Target-URI") or "",
        date=_record_date(record),
        record_id=headers.get_header("WARC-Record-ID") or "",
        file=path.name,
        path=path,
        offset=offset,
        status=status,
        position=position,
    )


class ArchiveReader:
    """Reads chosen records back by offset, keeping each file open until `close`."""

    def __init__(self) -> None:
        self._files: dict[Path, BinaryIO] = {}

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, entry: ArchivedResponse) -> Response:
        """The Scrapy response the crawl had for *entry*: status, headers, the body decoded as Scrapy decodes."""
        fh = self._files.get(entry.path)
        if fh is None:
            try:
                fh = self._files[entry.path] = open(entry.path, "rb")  # noqa: SIM115 - closed in close()
            except OSError as exc:
                raise ArchiveError(f"cannot read archive {entry.path}: {exc.strerror or exc}") from None
        fh.seek(entry.offset)
        iterator = ArchiveIterator(fh)
        try:
            record = next(iterator)
            if record.rec_headers.get_header("WARC-Record-ID") != entry.record_id:
                raise ArchiveError(f"archive {entry.path} has no record {entry.record_id} at byte {entry.offset}")
            body = record.raw_stream.read()
            return response_of(record, entry.url, body)
        except _READ_ERRORS as exc:
            raise ArchiveError(f"archive {entry.path}: cannot read the record at byte {entry.offset} ({exc})") from None
        finally:
            iterator.close()

    def close(self) -> None:
        files, self._files = self._files, {}
        for fh in files.values():
            fh.close()


def read_response(entry: ArchivedResponse) -> Response:
    with ArchiveReader() as reader:
        return reader.read(entry)
