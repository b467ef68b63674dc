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
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import pyarrow.parquet as pq

from .index import Located
from .runs import DatasetError, RunRef
from .schema import arrow_schema, read_schema

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
        return schema.empty_table()
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
            if field.name == "run_id":
                column = pc.coalesce(column, pa.array([source.runs[run].run_id for run, _, _ in where], pa.string()))
            columns.append(column)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        runs = sorted({source.runs[run].run_id for run, _, _ in where})
        raise DatasetError(f"records of run(s) {', '.join(runs)} do not fit the schema: {exc}") from None
    return pa.Table.from_arrays(columns, schema=schema)


def load_run(path: str | os.PathLike[str]) -> pa.Table:
    """A run's output file (JSON Lines) as one Arrow table of `arrow_schema()`: dates as date32, UTC timestamps.

    Reads the whole file into memory (a run of 100,000 documents takes about 1 GB); the
    dataset's own builds stream instead. Fields the schema lacks are dropped, missing ones null.
    """
    schema = arrow_schema()
    if os.path.getsize(path) == 0:  # an empty run
        return schema.empty_table()
    table = pajson.read_json(
        path,
        read_options=pajson.ReadOptions(block_size=_LONGEST_LINE),
        parse_options=pajson.ParseOptions(explicit_schema=read_schema(schema), unexpected_field_behavior="ignore"),
    )
    return table.select(schema.names).cast(schema)


class OldRows:
    """Rows of the previous documents.parquet, sliced in ascending order; the next row group is read ahead."""

    def __init__(self, path: os.PathLike[str] | str, schema: pa.Schema) -> None:
        self.file = pq.ParquetFile(path)
        self.schema = schema
        self.group = -1
        self.start = 0  # row number of the loaded group's first row
        self.table: pa.Table | None = None
        self._reader = ThreadPoolExecutor(max_workers=1)
        self._next: Future[pa.Table] | None = None

    def keys(self) -> tuple[list[str], list[str | None]]:
        """The url and language columns, whole (small beside the rest)."""
        table = self.file.read(columns=["url", "language"])
        return table.column("url").to_pylist(), table.column("language").to_pylist()

    def slices(self, start: int, length: int) -> list[pa.Table]:
        """Rows [start, start + length), as zero-copy slices of the row groups holding them."""
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
            self.group += 1
            if self.group >= self.file.num_row_groups:
                raise DatasetError(f"documents.parquet has no row {row}")
            future = self._next or self._reader.submit(self._read, self.group)
            self.table = future.result()
            ahead = self.group + 1
            self._next = self._reader.submit(self._read, ahead) if ahead < self.file.num_row_groups else None

    def _read(self, group: int) -> pa.Table:
        table = self.file.read_row_group(group)
        return table if table.schema == self.schema else table.cast(self.schema)

    def close(self) -> None:
        self._reader.shutdown(wait=True, cancel_futures=True)
        self.file.close()
        self.table = None
