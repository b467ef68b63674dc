"""The second pass: record lines (chosen by the index) to Arrow tables with the fixed schema, and old rows back.

Lines are read by position, joined, and parsed by pyarrow's JSON reader with an explicit
schema (dates as strings, then cast): fields the schema lacks are ignored, fields a record
lacks are null, and `run_id`, when the schema has it, is filled from the run that wrote the
line (records written before the schema had it).
"""

from __future__ import annotations

import io
import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import pyarrow.parquet as pq

from .index import Located
from .runs import DatasetError, RunRef
from .schema import arrow_schema, read_schema

BATCH_ROWS = 256  # old rows decoded at a time: about 2.5 MB with 4-12 KB bodies
_OPEN_FILES = 64  # run files kept open at once while reading winning lines
_BLOCK = 1 << 22
# A line is at most 2,000,000 characters of body (the schema's maxLength), up to 8 MB in UTF-8, plus the rest.
_LONGEST_LINE = 1 << 24


class LineSource:
    """Reads record lines of the build's runs by (run index, offset, length)."""

    def __init__(self, runs: Sequence[RunRef]) -> None:
        self.runs = runs
        self._fds: OrderedDict[int, int] = OrderedDict()

    def read(self, where: Located) -> bytes:
        run, offset, length = where
        fd = self._fds.get(run)
        if fd is None:
            try:
                fd = os.open(self.runs[run].output, os.O_RDONLY)
            except OSError as exc:
                raise DatasetError(
                    f"{self.runs[run].describe()}: cannot read {self.runs[run].output}: {exc.strerror}"
                ) from None
            self._fds[run] = fd
            if len(self._fds) > _OPEN_FILES:
                os.close(self._fds.popitem(last=False)[1])
        else:
            self._fds.move_to_end(run)
        line = os.pread(fd, length, offset)
        if len(line) != length or not line.endswith(b"\n"):
            raise DatasetError(f"{self.runs[run].describe()}: {self.runs[run].output} changed while being read")
        return line

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


def parse_lines(source: LineSource, where: Sequence[Located], schema: pa.Schema) -> pa.Table:
    """The records at *where*, in that order, as a table of *schema*."""
    if not where:
        return empty(schema)
    lines = [source.read(place) for place in where]
    block = max(_BLOCK, 2 * max(len(line) for line in lines))
    try:
        table = pajson.read_json(
            io.BytesIO(b"".join(lines)),
            read_options=pajson.ReadOptions(block_size=block),
            parse_options=pajson.ParseOptions(explicit_schema=read_schema(schema), unexpected_field_behavior="ignore"),
        )
        if table.num_rows != len(lines):
            raise pa.ArrowInvalid(f"{table.num_rows} records in {len(lines)} lines")
        columns = []
        for field in schema:
            column = table.column(field.name)
            if column.type != field.type:
                column = column.cast(field.type)
            if field.name == "run_id" and column.null_count:  # pa.array imports pandas: only when needed
                column = pc.coalesce(column, pa.array([source.runs[run].run_id for run, _, _ in where], pa.string()))
            columns.append(column)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        runs = sorted({source.runs[run].run_id for run, _, _ in where})
        raise DatasetError(f"records of run(s) {', '.join(runs)} do not fit the schema: {exc}") from None
    return pa.Table.from_arrays(columns, schema=schema)


def empty(schema: pa.Schema) -> pa.Table:
    """A table of *schema* without rows (`Schema.empty_table` would import pandas: a third of a second, 30 MB)."""
    return pa.Table.from_batches([], schema)


def load_run(path: str | os.PathLike[str]) -> pa.Table:
    """A run's output file (JSON Lines) as one Arrow table of `arrow_schema()`: dates as date32, UTC timestamps.

    Reads the whole file into memory (a run of 100,000 documents takes about 1 GB); the
    dataset's own builds stream instead. Fields the schema lacks are dropped, missing ones null.
    """
    schema = arrow_schema()
    if os.path.getsize(path) == 0:  # an empty run
        return empty(schema)
    table = pajson.read_json(
        path,
        read_options=pajson.ReadOptions(block_size=_LONGEST_LINE),
        parse_options=pajson.ParseOptions(explicit_schema=read_schema(schema), unexpected_field_behavior="ignore"),
    )
    return table.select(schema.names).cast(schema)


class OldRows:
    """Rows of the previous documents.parquet, sliced in ascending order, decoded BATCH_ROWS rows at a time.

    Decoded in the caller's thread, not one ahead in another: measured at 100,000 documents, that
    took more CPU and no less time, the writer's thread already keeping the second core busy.
    """

    def __init__(self, path: os.PathLike[str] | str, schema: pa.Schema) -> None:
        # No pre-buffering: for a batch reader it would read every row group's bytes ahead.
        self.file = pq.ParquetFile(path, pre_buffer=False)
        self._keys = pq.ParquetFile(path, metadata=self.file.metadata)  # the footer parsed once
        self.schema = schema
        self.start = 0  # row number of the loaded batch's first row
        self.table: pa.Table | None = None
        self._batches = self.file.iter_batches(batch_size=BATCH_ROWS, use_threads=False)

    def key_groups(self) -> Iterator[tuple[list[str], list[str | None]]]:
        """The url and language columns, a row group at a time, in file order.

        Through a second handle: the plan reads a group's keys before the rows are taken from it.
        """
        for group in range(self._keys.num_row_groups):
            table = self._keys.read_row_group(group, columns=["url", "language"])
            yield table.column("url").to_pylist(), table.column("language").to_pylist()

    def slices(self, start: int, length: int) -> list[pa.Table]:
        """Rows [start, start + length), as zero-copy slices of the batches holding them."""
        pieces = []
        while length > 0:
            self._load(start)
            assert self.table is not None
            take = min(length, self.start + self.table.num_rows - start)
            pieces.append(self.table.slice(start - self.start, take))
            start += take
            length -= take
        return pieces

    def _load(self, row: int) -> None:
        if row < self.start:
            raise ValueError("rows must be read in ascending order")
        while self.table is None or row >= self.start + self.table.num_rows:
            if self.table is not None:
                self.start += self.table.num_rows
            table = self._read()
            if table is None:
                raise DatasetError(f"documents.parquet has no row {row}")
            self.table = table

    def _read(self) -> pa.Table | None:
        batch = next(self._batches, None)
        if batch is None:
            return None
        table = pa.Table.from_batches([batch])
        return table if table.schema == self.schema else table.cast(self.schema)

    def close(self) -> None:
        self.file.close()
        self._keys.close()
        self.table = None
