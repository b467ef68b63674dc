"""Where each row of the new documents.parquet comes from: a run of the old file's rows, or new records.

The old file is sorted, and so are the changed keys. The old keys are read one row group at a
time; the changes that fall within a group's key range are found in it by binary search. So an
update holds one group's keys and the changes, never every key, and the rows between changes
are copied as slices of the old row groups, never one by one.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from .convert import LineSource, OldRows, empty, parse_lines
from .index import Key, Located

SortKey = tuple[str, bool, str]


def sort_key(key: Key) -> SortKey:
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
class Counts:
    """What a plan did, complete once its segments have all been taken."""

    rows: int = 0
    added: int = 0
    replaced: int = 0
    removed: int = 0


def in_order(latest: dict[Key, Located | None]) -> list[tuple[SortKey, Located | None]]:
    """The changes (key → its new record, or None if removed) in output order."""
    return sorted(((sort_key(key), where) for key, where in latest.items()), key=lambda change: change[0])


def plan(
    old_groups: Iterable[tuple[list[str], list[str | None]]],
    changes: list[tuple[SortKey, Located | None]],
    counts: Counts,
) -> Iterator[Segment]:
    """The new file as segments: the *changes* (from `in_order`) applied to the old keys, a row group at a time.

    *old_groups* gives each row group's url and language columns, in file order. *counts* is
    filled as the segments are taken.
    """
    done = 0  # changes applied
    base = 0  # the old file's row number of the group's first row
    news: list[Located] = []
    for urls, languages in old_groups:
        size = len(urls)

        def key_at(row: int) -> SortKey:
            return sort_key((urls[row], languages[row]))  # noqa: B023 - called only in this iteration

        row = 0  # the group's next row not yet planned
        while done < len(changes) and size and changes[done][0] <= key_at(size - 1):
            key, where = changes[done]
            at = bisect.bisect_left(range(size), key, lo=row, key=key_at)
            present = key_at(at) == key  # at < size, since key <= the last key
            if at > row:
                if news:
                    yield NewRows(news)
                    news = []
                yield OldRun(base + row, at - row)
                counts.rows += at - row
            if where is not None:
                news.append(where)
                counts.rows += 1
            counts.added += where is not None and not present
            counts.replaced += where is not None and present
            counts.removed += where is None and present
            row = at + present
            done += 1
        if row < size:
            if news:
                yield NewRows(news)
                news = []
            yield OldRun(base + row, size - row)
            counts.rows += size - row
        base += size
    for _, where in changes[done:]:  # after the last old row
        if where is not None:
            news.append(where)
            counts.rows += 1
            counts.added += 1
    if news:
        yield NewRows(news)


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
    """The new records in output order (*where*), parsed at least *batch* lines at a time, handed out in slices."""

    def __init__(self, where: list[Located], source: LineSource, schema: pa.Schema, batch: int) -> None:
        self.where = where
        self.source, self.schema, self.batch = source, schema, batch
        self.table = empty(schema)
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
