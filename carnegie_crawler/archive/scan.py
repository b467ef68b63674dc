"""A WARC file's whole records, read in order, and where its whole prefix ends.

warcio reads the records; what it does not say is whether the last one is whole. A record is
whole when its gzip member ended; after the last whole record there must be nothing left. A
`TornError` says where and why a file stops being whole: the reader reads up to it, and a run
that resumes its archive cuts it back to its whole prefix.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator


@dataclass
class Prefix:
    """The whole records at the start of a WARC file."""

    end: int = 0  # where the last whole exchange (or the warcinfo record) ends
    records: int = 0
    responses: int = 0
    torn: str | None = None  # what was wrong past `end`, if anything


def _member_complete(iterator: ArchiveIterator) -> bool:
    """Did the record just read end its gzip member (a torn last member does not)?"""
    reader = iterator.reader
    decompressor = getattr(reader, "decompressor", None) if reader is not None else None
    return decompressor is None or bool(getattr(decompressor, "eof", True))


def scan(fh: BinaryIO, path: Path, read_body: bool) -> Iterator[tuple[str, Any, int, int, bytes | None]]:
    """(type, record, offset, length, raw body of a response if *read_body*) of each whole record; raises
    `TornError` at the first record that is not whole."""
    iterator = ArchiveIterator(fh)
    end, gzipped, count = fh.tell(), True, 0
    try:
        while True:
            try:
                record = next(iterator)
            except StopIteration:
                break
            except Exception as exc:  # warcio fails in several ways on a cut-short member
                raise TornError(reason(exc)) from None
            try:
                kind = record.rec_type
                body = record.raw_stream.read() if read_body and kind == "response" else None
                offset, length = iterator.get_record_offset(), iterator.get_record_length()
            except Exception as exc:
                raise TornError(reason(exc)) from None
            if kind is None or not _member_complete(iterator):
                raise TornError(f"the record at byte {offset} is cut short")
            if getattr(record, "format", "warc") != "warc":  # warcio reads a text line as an old ARC header
                raise TornError(f"the record at byte {offset} is no WARC record ({record.format})")
            gzipped = getattr(iterator.reader, "decompressor", None) is not None
            end = offset + length
            count += 1
            yield kind, record, offset, length, body
    finally:
        iterator.close()
    if not count:  # warcio ends quietly on an empty file
        raise TornError("no WARC record in it (empty, or not a WARC file)")
    # warcio ends quietly at a last gzip member too short to hold a record's headers.
    size = os.fstat(fh.fileno()).st_size
    if gzipped and end < size:
        raise TornError(f"{size - end} byte(s) after the last whole record, at byte {end}")


class TornError(Exception):
    pass


def reason(exc: Exception) -> str:
    """warcio's message, printable and short: it quotes the bytes it choked on, binary included."""
    text = f"{type(exc).__name__}: {exc}".strip()
    text = "".join(c if c.isprintable() and c.isascii() else "?" for c in text)
    return text if len(text) <= 120 else text[:119] + "…"


def complete_prefix(path: Path) -> Prefix:
    """How much of *path* is whole records, ending with a whole exchange (a request without its
    response, the last record of a crashed run, is left out)."""
    prefix = Prefix()
    with open(path, "rb") as fh:
        try:
            for kind, _, offset, length, _ in scan(fh, path, read_body=False):
                if kind == "request":
                    continue  # whole once its response is
                prefix.end = offset + length
                prefix.records += 2 if kind == "response" else 1
                prefix.responses += kind == "response"
        except TornError as exc:
            prefix.torn = str(exc)
    if prefix.torn is None and prefix.end != path.stat().st_size:
        prefix.torn = "a request record without its response at the end"
    return prefix
