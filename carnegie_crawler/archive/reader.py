"""Read archived responses back: which ones to re-extract, and each as the Scrapy response the crawl had.

A first pass indexes the response records of the chosen files (URL, WARC-Date, record id, file,
offset, status: no body is kept), keeping the latest response of each URL; a second reads the
chosen records one at a time, by offset. Memory grows with the number of URLs, not with the
archive.

A selection (some files, a date range) never takes a URL back in time: a URL whose newest response
is outside it (a later run's file, a later date) is left out, so the other archives are indexed too.

`.part` files (a run that crashed, or ended unhealthy and so was not published) are read when
named: whole records only, a torn last exchange is left out. A published file that cannot be
read to its end (damaged, or not a WARC file at all) is read up to the damage, with one ERROR line:
one bad file never costs the pages of the others.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
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

# Not a page's state: a server error, a rate limit, a timeout, or a 304 (its content is an earlier response).
_TRANSIENT = frozenset({304, 408, 429})
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


@dataclass
class Selection:
    """What `choose` picked, and what it read to pick it."""

    entries: list[ArchivedResponse]
    files: list[Path]
    responses: int = 0  # response records read
    in_range: int = 0  # ...archived within since/until
    torn: dict[Path, str] = field(default_factory=dict)  # files read up to a torn tail or damage
    unreadable: list[Path] = field(default_factory=list)  # ...of which not one response could be read
    superseded: int = 0  # URLs in range left out: their newest response is outside the selection

    @property
    def counts(self) -> dict[str, int]:
        """The run's `carnegie/reextract/...` stats (torn files and URLs left out: only if any)."""
        counts = {"archives": len(self.files), "responses": self.responses, "chosen": len(self.entries)}
        if self.torn:
            counts["torn_archives"] = len(self.torn)
        if self.unreadable:
            counts["unreadable_archives"] = len(self.unreadable)
        if self.superseded:
            counts["superseded"] = self.superseded
        return counts


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


def in_order(paths: Iterable[Path], last: frozenset[Path] = frozenset()) -> list[Path]:
    """*paths* oldest first (by their first record), the same file once; of files as old, those in *last*
    (resolved paths) after the others."""
    unique = {p.resolve(): p for p in paths}
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(unique.values(), key=lambda p: (file_date(p) or oldest, p.resolve() in last, p.name))


def parse_moment(value: str, end: bool = False) -> datetime:
    """A `since`/`until` bound: YYYY-MM-DD (a whole UTC day: its start, or with *end* the next day's start)
    or an ISO date and time (UTC unless it says otherwise). Raises ValueError."""
    text = value.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        start = datetime.combine(day, time(), tzinfo=UTC)
        return start + timedelta(days=1) if end else start
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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


def is_transient(status: int) -> bool:
    """A response that says nothing about the page: a server error, a rate limit, a timeout, a 304."""
    return status >= 500 or status in _TRANSIENT or status == 0


def latest_per_url(entries: Iterable[ArchivedResponse]) -> list[ArchivedResponse]:
    """The latest response of each URL (by WARC-Date; then the later file, the later record), transient
    answers left out: a 503 does not hide the page an earlier run got, while a 404 or a redirect does.

    In processing order: the newest file first, and within a file the order of the crawl.
    """
    best: dict[str, ArchivedResponse] = {}
    for entry in entries:
        if is_transient(entry.status):
            continue
        current = best.get(entry.url)
        if current is None or _rank(entry) >= _rank(current):
            best[entry.url] = entry
    return sorted(best.values(), key=lambda e: (-e.position, e.offset))


def _rank(entry: ArchivedResponse) -> tuple[datetime, int, int]:
    return entry.date, entry.position, entry.offset


def choose(
    paths: Iterable[Path], since: datetime | None = None, until: datetime | None = None, others: Sequence[Path] = ()
) -> Selection:
    """The latest response of each URL among those of *paths* archived in [since, until), where it is the
    URL's newest: a URL with a newer response outside that selection (in *paths* or in *others*, the other
    archives, indexed for that alone) is left out and counted, as its older one would roll the state back."""
    selected = in_order(paths)
    named = frozenset(path.resolve() for path in selected)
    # A named file after the others as old: a named copy of one of theirs wins the tie with it, whatever its name.
    files = in_order([*others, *selected], last=named) if others else selected
    own = {position for position, path in enumerate(files) if path.resolve() in named}
    selection = Selection(entries=[], files=selected)
    candidates: set[str] = set()  # URLs with a response in the selection that says something of the page

    def in_selection(entry: ArchivedResponse) -> bool:
        in_range = (since is None or entry.date >= since) and (until is None or entry.date < until)
        return in_range and entry.position in own

    def index() -> Iterator[ArchivedResponse]:
        for position, path in enumerate(files):
            mine = position in own
            read = 0
            for entry in iter_index(path, position, selection.torn if mine else None):
                if mine:
                    selection.responses += 1
                    read += 1
                if in_selection(entry):
                    selection.in_range += 1
                    if not is_transient(entry.status):
                        candidates.add(entry.url)
                yield entry
            if mine and not read and path in selection.torn:
                selection.unreadable.append(path)

    selection.entries = [entry for entry in latest_per_url(index()) if in_selection(entry)]
    selection.superseded = len(candidates) - len(selection.entries)
    if selection.superseded:
        logger.info("%d URL(s) left out: each has a newer response outside the selection", selection.superseded)
    return selection


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
