"""history.parquet: the old file streamed a row group at a time, with the new events merged in by their order.

Rows are sorted by (time, url, language null first, crawl_status, run_id), stably: of two rows
with one key, the earlier run's comes first, as in a rebuild, which sorts all its events at once.
A run's events nearly always come after every earlier one, so an update copies the old groups
through and appends; an event that sorts among old rows is merged into the group it falls in.
Row groups hold exactly ROW_GROUP_ROWS rows (the last fewer), whatever the order of the builds
that made the file, so an update writes the bytes a rebuild writes.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import pyarrow.parquet as pq

from .convert import empty
from .runs import DatasetError
from .schema import HISTORY_STATUSES, TIMESTAMP, history_schema

ROW_GROUP_ROWS = 1 << 15  # about 8 MB in memory
# Language null first: by whether it has one, then by it (the nulls are all in the first part).
_ORDER = [(name, "ascending") for name in ("time", "url", "_has_language", "language", "crawl_status", "run_id")]
HistoryKey = tuple[int, str, bool, str, str, str]


class Events:
    """New history events, as JSON lines in one buffer, made into a table by pyarrow's JSON reader.

    Not pa.array: any conversion from Python objects makes pyarrow import pandas where it is
    installed, which costs an update a third of a second and 30 MB. One buffer, not a bytes object
    per event: orjson's result keeps its 4 KB starting allocation, 400 MB for 100,000 events.
    """

    def __init__(self) -> None:
        self.lines = bytearray()
        self.count = 0
        self.longest = 0

    def add(self, url: str, language: str | None, status: str, content_hash: Any, run_id: str, time: Any) -> None:
        line = orjson.dumps(
            {"url": url, "language": language, "crawl_status": status, "content_hash": content_hash}
            | {"run_id": run_id, "time": time},
            option=orjson.OPT_APPEND_NEWLINE,
        )
        self.lines += line
        self.count += 1
        self.longest = max(self.longest, len(line))

    def table(self) -> pa.Table:
        """The events as a table of `history_schema()`, in the order they were added."""
        if not self.count:
            return empty(history_schema())
        as_text = pa.schema([f.with_type(pa.string()) if f.name == "time" else f for f in history_schema()])
        try:
            table = pajson.read_json(
                pa.BufferReader(pa.py_buffer(self.lines)),
                read_options=pajson.ReadOptions(block_size=max(1 << 20, 2 * self.longest)),
                parse_options=pajson.ParseOptions(explicit_schema=as_text),
            ).select(as_text.names)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DatasetError(f"a content_hash or crawled_at is not a string: {exc}") from None
        try:
            return table.set_column(5, "time", table.column("time").cast(TIMESTAMP))
        except pa.ArrowInvalid as exc:
            raise DatasetError(f"a crawled_at or finished_at is not an RFC 3339 time: {exc}") from None


def sort_rows(table: pa.Table) -> pa.Table:
    """*table* in history order (a stable sort)."""
    keyed = table.append_column("_has_language", pc.is_valid(table.column("language")))
    return table.take(pc.sort_indices(keyed, sort_keys=_ORDER))


def sort_keys(table: pa.Table) -> list[HistoryKey]:
    """Each row's place in history order, as Python values that compare as `sort_rows` orders them."""
    # Times as their integer microseconds: datetimes would make pyarrow import pandas.
    columns = [table.column("time").cast(pa.int64()).to_pylist()]
    columns += [table.column(name).to_pylist() for name in ("url", "language", "crawl_status", "run_id")]
    return [
        (time, url, language is not None, language or "", status, run_id)
        for time, url, language, status, run_id in zip(*columns, strict=True)
    ]


class RowGroups:
    """Tables in, row groups of exactly *size* rows out (the last fewer), each one chunk per column.

    One chunk per column because the writer cuts pages where a chunk ends: rows that arrive in
    other pieces must still make the same pages.
    """

    def __init__(self, writer: pq.ParquetWriter, size: int) -> None:
        self.writer, self.size = writer, size
        self.pieces: list[pa.Table] = []
        self.held = 0
        self.written = 0
        self.counts = dict.fromkeys(HISTORY_STATUSES, 0)

    def add(self, table: pa.Table) -> None:
        if table.num_rows:
            self.pieces.append(table)
            self.held += table.num_rows
        while self.held >= self.size:
            self._write(self.size)

    def close(self) -> None:
        if self.held or not self.written:  # an empty history is one empty row group
            self._write(self.held)

    def _write(self, rows: int) -> None:
        table = pa.concat_tables(self.pieces) if self.pieces else empty(history_schema())
        group = table.slice(0, rows).combine_chunks()
        self.writer.write_table(group, row_group_size=max(rows, 1))
        counts = pc.value_counts(group.column("crawl_status"))
        for status, count in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True):
            self.counts[status] = self.counts.get(status, 0) + count
        rest = table.slice(rows)
        self.pieces = [rest] if rest.num_rows else []
        self.held -= rows
        self.written += rows


def write_history(path: Path, previous: Path | None, new: pa.Table) -> tuple[int, dict[str, int]]:
    """history.parquet at *path*: *previous*'s rows (if any) with the *new* events merged in.

    Returns its row count and its rows by crawl_status.
    """
    new = sort_rows(new)
    keys = sort_keys(new)
    taken = 0  # new events written
    with pq.ParquetWriter(
        path, history_schema(), compression="snappy", use_dictionary=["language", "crawl_status", "run_id"]
    ) as writer:
        groups = RowGroups(writer, ROW_GROUP_ROWS)
        for old in _old_groups(previous):
            # The new events that sort before the group's last row belong among its rows (one that
            # ties with it waits: an old row comes first, and the next group may start with the same key).
            stop = bisect.bisect_left(keys, sort_keys(old.slice(old.num_rows - 1))[0], lo=taken)
            if stop > taken:
                old = sort_rows(pa.concat_tables([old, new.slice(taken, stop - taken)]))
                taken = stop
            groups.add(old)
        groups.add(new.slice(taken))
        groups.close()
    return groups.written, groups.counts


def _old_groups(previous: Path | None) -> Iterator[pa.Table]:
    if previous is None:
        return
    with pq.ParquetFile(previous) as file:
        for group in range(file.num_row_groups):
            table = file.read_row_group(group)
            if table.num_rows:
                yield table if table.schema == history_schema() else table.cast(history_schema())
