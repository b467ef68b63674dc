"""The dataset directory: a new one written beside it, then swapped in; the Parquet writers; the descriptor files."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import shutil
import threading
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .card import Stats, datapackage, readme
from .config import PACKAGE
from .history import write_history
from .runs import DatasetError
from .schema import arrow_schema, history_schema, schema_version

logger = logging.getLogger(__name__)

# Documents per row group: about 10 MB in memory with 4-12 KB bodies. A build holds a few at once
# (the one written, the one made), so this sets its memory; measured at 100,000 documents, 2,048
# took 45 MB more and no less time.
ROW_GROUP_ROWS = 1024
# Columns with few distinct values get dictionary encoding; these (and everything under them) do not.
_PLAIN = frozenset(
    {"url", "fetched_url", "title", "subtitle", "body", "content_hash", "crawled_at", "word_count", "related"}
)
_STATISTICS = ["url", "language", "content_type", "published_date", "crawled_at", "word_count"]
COMPRESSION = "snappy"


def leaf_paths(kind: pa.DataType, prefix: str) -> list[str]:
    """Parquet column paths under a field: `authors.list.element.name`, `image.url`."""
    if pa.types.is_list(kind):
        return leaf_paths(kind.value_type, f"{prefix}.list.element")
    if pa.types.is_struct(kind):
        return [path for child in kind for path in leaf_paths(child.type, f"{prefix}.{child.name}")]
    return [prefix]


class DocumentsWriter:
    """documents.parquet, a row group per chunk it is given, written by a thread while the next chunk is made.

    Gathers the card's counts on the way, and hashes the bytes the thread has written while it
    writes more (the writer only ever appends), so the sha256 is ready when the file is.
    """

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.stats = Stats()
        dictionary = [p for field in schema if field.name not in _PLAIN for p in leaf_paths(field.type, field.name)]
        self._writer = pq.ParquetWriter(
            path,
            schema,
            compression=COMPRESSION,
            use_dictionary=dictionary,
            write_statistics=[name for name in _STATISTICS if name in schema.names],
        )
        # Handed over one at a time (`write` waits for the chunk before to be written): each is a
        # row group (ROW_GROUP_ROWS), and a build holds the one being written and the one being made.
        self._queue: queue.Queue[pa.Table | None] = queue.Queue()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="dataset-writer", daemon=True)
        self._thread.start()
        self._digest = hashlib.sha256()
        self._reader = open(path, "rb")  # noqa: SIM115 - closed in close()
        self.bytes = 0

    def _run(self) -> None:
        while (table := self._queue.get()) is not None:
            try:
                if self._failure is None:  # else drain: the caller learns of it at its next write or close
                    self._writer.write_table(table, row_group_size=max(table.num_rows, 1))
            except BaseException as exc:
                self._failure = exc
            finally:
                del table
                self._queue.task_done()

    def write(self, table: pa.Table) -> None:
        """Hand *table* over as the next row group, once the one before is written."""
        # One chunk per column: pages then split the same way whatever the table was made of.
        table = table.combine_chunks()
        self.stats.add(table)
        self._hash_more()
        self._queue.join()
        self._raise()
        self._queue.put(table)

    def _hash_more(self) -> None:
        while chunk := self._reader.read(1 << 22):
            self._digest.update(chunk)
            self.bytes += len(chunk)

    def describe(self) -> dict[str, Any]:
        """bytes, sha256 and rows of the closed file."""
        return {"bytes": self.bytes, "sha256": self._digest.hexdigest(), "rows": self.stats.rows}

    def close(self) -> None:
        """Wait for the queued chunks, then finish the file; the writing thread's error, if any, is raised here."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        try:
            self._writer.close()
            self._hash_more()
        finally:
            self._reader.close()
        self._raise()
        if self.bytes != self.path.stat().st_size:
            raise OSError(f"{self.path} changed while it was written")

    def _raise(self) -> None:
        """The writing thread's error, in the caller's thread (an OSError stays one: a disk, not the input)."""
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure


class Output:
    """A new dataset directory, `.<name>.building-<pid>` beside *target*; removed if the build fails."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.path = target.parent / f".{target.name}.building-{os.getpid()}"
        self.writer: DocumentsWriter | None = None
        self.history_counts: dict[str, int] = {}

    def __enter__(self) -> Output:
        # Under the dataset's lock: a building directory left here is a dead build's.
        for stale in self.target.parent.glob(f".{self.target.name}.building-*"):
            shutil.rmtree(stale, ignore_errors=True)
        try:
            self.path.mkdir(parents=True)
        except OSError as exc:
            raise DatasetError(f"cannot create {self.path}: {exc.strerror or exc}") from None
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.writer is not None and kind is not None:
            with suppress(BaseException):
                self.writer.close()
        if kind is not None:
            shutil.rmtree(self.path, ignore_errors=True)

    def documents(self, schema: pa.Schema) -> DocumentsWriter:
        self.writer = DocumentsWriter(self.path / "documents.parquet", schema)
        return self.writer

    def history(self, previous: Path | None, new: pa.Table) -> int:
        """Write history.parquet: *previous*'s rows with the *new* events merged in; its row count."""
        rows, self.history_counts = write_history(self.path / "history.parquet", previous, new)
        return rows


def describe(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest(), "rows": pq.ParquetFile(path).metadata.num_rows}


def finish(out: Output, runs: list[dict[str, Any]], state: str | None) -> None:
    """datapackage.json and README.md, once both Parquet files are written."""
    assert out.writer is not None
    schema = arrow_schema()
    built_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    meta = {"built_at": built_at, "schema_version": schema_version(), "state": state, "runs": runs}
    documents, history = out.writer.describe(), describe(out.path / "history.parquet")
    package = datapackage(documents, history, schema, history_schema(), meta)
    sizes = (_uncompressed(out.path / "documents.parquet"), _uncompressed(out.path / "history.parquet"))
    (out.path / "README.md").write_text(
        readme(package, out.writer.stats, out.history_counts, schema, history_schema(), sizes), encoding="utf-8"
    )
    (out.path / PACKAGE).write_text(json.dumps(package, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for name in ("documents.parquet", "history.parquet", "README.md", PACKAGE):
        fsync_path(out.path / name)


def _uncompressed(path: Path) -> int:
    """The file's data decoded, in bytes, as its footer records it (no page is read)."""
    metadata = pq.ParquetFile(path).metadata
    return sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))


def fsync_path(path: Path) -> None:
    """fsync a file or a directory by its path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
