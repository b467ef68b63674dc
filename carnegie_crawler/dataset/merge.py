"""Where each row of the new documents.parquet comes from: a run of the old file's rows, or new records.

The old file is sorted, and so are the changed keys; each changed key is found in the old
keys by binary search, so planning an update costs O(changes × log documents), and the
rows between changes are copied as slices of the old row groups, never one by one.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from .convert import LineSource, OldRows, parse_lines
from .index import Key, Located


def sort_key(key: Key) -> tuple[str, bool, str]:
    """Rows' order: url, then language with null first (code point order, which is UTF-8 byte order)."""
    return (key[0], key[1] is not None, key[1] or "")


@dataclass
class OldRun:
    """Rows [start, start + length) of the old file."""

    start: int
    length: int


@dataclass
class NewRows:
    """Records to parse, in output order."""

    where: list[Located]


Segment = OldRun | NewRows


@dataclass
class Plan:
    segments: list[Segment]
    rows: int
    added: int
    replaced: int
    removed: int


def plan(old_keys: tuple[list[str], list[str | None]] | None, latest: dict[Key, Located | None]) -> Plan:
    """The new file as segments: *latest* (key → its new record, or None if removed) applied to the old keys."""
    urls, languages = old_keys or ([], [])
    count = len(urls)
    dropped: list[int] = []
    inserts: list[tuple[int, Key, Located]] = []
    added = replaced = removed = 0
    for key, where in latest.items():
        at = bisect.bisect_left(range(count), sort_key(key), key=lambda row: sort_key((urls[row], languages[row])))
        present = at < count and urls[at] == key[0] and languages[at] == key[1]
        if present:
            dropped.append(at)
            replaced += where is not None
            removed += where is None
        added += where is not None and not present
        if where is not None:
            inserts.append((at, key, where))
    dropped.sort()
    inserts.sort(key=lambda item: (item[0], sort_key(item[1])))
    segments: list[Segment] = []
    row = d = k = 0
    while row < count or k < len(inserts):
        stop = min(dropped[d] if d < len(dropped) else count, inserts[k][0] if k < len(inserts) else count)
        if stop > row:
            segments.append(OldRun(row, stop - row))
            row = stop
        news = []
        while k < len(inserts) and inserts[k][0] == row:
            news.append(inserts[k][2])
            k += 1
        if news:
            segments.append(NewRows(news))
        if d < len(dropped) and dropped[d] == row:
            d += 1
            row += 1
    return Plan(segments, count - len(dropped) + len(inserts), added, replaced, removed)


def chunks(segments: Iterable[Segment], size: int) -> Iterator[list[Segment]]:
    """The segments cut into chunks of exactly *size* rows (the last may be shorter)."""
    chunk: list[Segment] = []
    room = size
    for segment in segments:
        while True:
            length = segment.length if isinstance(segment, OldRun) else len(segment.where)
            if length <= room:
                chunk.append(segment)
                room -= length
                break
            if isinstance(segment, OldRun):
                chunk.append(OldRun(segment.start, room))
                segment = OldRun(segment.start + room, segment.length - room)
            else:
                chunk.append(NewRows(segment.where[:room]))
                segment = NewRows(segment.where[room:])
            yield chunk
            chunk, room = [], size
        if room == 0:
            yield chunk
            chunk, room = [], size
    if chunk:
        yield chunk


class NewRowsReader:
    """The new records in output order, parsed a batch of at least *batch* lines at a time and handed out in slices."""

    def __init__(self, segments: list[Segment], source: LineSource, schema: pa.Schema, batch: int) -> None:
        self.where = [place for segment in segments if isinstance(segment, NewRows) for place in segment.where]
        self.source, self.schema, self.batch = source, schema, batch
        self.table = schema.empty_table()
        self.at = 0  # next unread row of self.table
        self.next = 0  # next unparsed entry of self.where

    def take(self, count: int) -> pa.Table:
        if self.at + count > self.table.num_rows:
            rest = self.table.slice(self.at)
            stop = self.next + max(self.batch, count - rest.num_rows)
            parsed = parse_lines(self.source, self.where[self.next : stop], self.schema)
            self.next = min(stop, len(self.where))
            self.table = pa.concat_tables([rest, parsed]) if rest.num_rows else parsed
            self.at = 0
        piece = self.table.slice(self.at, count)
        if piece.num_rows != count:
            raise RuntimeError(f"the plan asked for {count} new records, {piece.num_rows} were left")
        self.at += count
        return piece


def materialize(chunk: list[Segment], old: OldRows | None, news: NewRowsReader) -> pa.Table:
    """The rows of *chunk*, in order: old rows as slices of their row groups, new records from *news*."""
    pieces = []
    for segment in chunk:
        if isinstance(segment, OldRun):
            assert old is not None
            pieces += old.slices(segment.start, segment.length)
        else:
            pieces.append(news.take(len(segment.where)))
    return pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces)
