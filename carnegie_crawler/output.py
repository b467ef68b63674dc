"""JSON Lines files that appear at their final path only once the run publishes them.

Lines go to a part file, each written whole and unbuffered, so a crash leaves
only whole lines there; `publish()` renames the file into place.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter

logger = logging.getLogger(__name__)


class OutputError(Exception):
    """An output file cannot be written; the message names the path and the reason."""


class PartFile:
    """A file one run writes as `<path>.<token>.part`, then publishes at *path* (or undoes that).

    The run's owner publishes its output, rejects and archive together (run/files.py), so they share this.
    """

    def __init__(self, path: Path, part: Path | None = None) -> None:
        self.path = path
        self.part = part or path.with_name(path.name + ".part")
        self._fh: Any = None
        self._previous: Path | None = None

    @property
    def is_open(self) -> bool:
        return self._fh is not None

    def close(self) -> None:
        """Stop writing and make what was written durable, leaving the part file where it is."""
        if self._fh is not None:
            try:
                os.fsync(self._fh.fileno())
            finally:
                self._fh.close()
                self._fh = None

    def publish(self) -> Path:
        """Move the closed part file to its final path, durably; a file already there is kept aside until
        `forget_previous`, so `unpublish` can put it back."""
        self.close()
        if self.path.exists():
            self._previous = self.part.with_name(self.part.name + ".previous")
            os.link(self.path, self._previous)
        os.replace(self.part, self.path)
        fsync_dir(self.path.parent)
        return self.path

    def unpublish(self) -> None:
        """Undo `publish` when a later step of the run's end fails: the part file and any previous file return."""
        if self.path.exists() and not self.part.exists():
            os.replace(self.path, self.part)
        if self._previous is not None:
            os.replace(self._previous, self.path)
            self._previous = None
        fsync_dir(self.path.parent)

    def forget_previous(self) -> None:
        if self._previous is not None:
            self._previous.unlink(missing_ok=True)
            self._previous = None


class JsonLinesFile(PartFile):
    """Lines go to *part* (unique per run), and the file moves to *path* when published.

    A line is either whole in the part file or absent: a short write (a full disk)
    is retried for the rest, and a failed one is cut back off, so `lines` always
    equals the whole lines in the file.
    """

    def __init__(self, path: Path, part: Path | None = None) -> None:
        super().__init__(path, part)
        self.lines = 0

    def open(self, resume: bool = False) -> None:
        """Start the part file; with *resume*, append to the one a paused run left."""
        try:
            self.part.parent.mkdir(parents=True, exist_ok=True)
            if resume and self.part.exists():
                self.lines = _complete_lines(self.part)
                self._fh = open(self.part, "ab", buffering=0)  # noqa: SIM115 - closed in close()
            else:
                self._fh = open(self.part, "xb", buffering=0)  # noqa: SIM115 - never another run's file
        except OSError as exc:
            raise OutputError(f"cannot open {self.part}: {exc.strerror or exc}") from None

    def write(self, record: dict[str, Any]) -> None:
        """Append *record* as one line."""
        self.write_line(encode_line(record))

    def write_line(self, line: bytes) -> None:
        """Append one encoded line (`item_line`, `encode_line`) whole, or raise OSError and leave none of it."""
        fd = self._fh.fileno()
        start = os.lseek(fd, 0, os.SEEK_END)
        view = memoryview(line)
        try:
            while view:
                written = os.write(fd, view)
                view = view[written:]
        except OSError:
            os.ftruncate(fd, start)  # cut the torn line; the lines before it stay
            raise
        self.lines += 1


def encode_line(record: dict[str, Any]) -> bytes:
    """*record* as one compact JSON line in UTF-8, non-ASCII text kept as it is."""
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def item_line(item: Any) -> bytes:
    """*item* (a `Publication`, or any item ItemAdapter reads) as one output line."""
    # json reads the fields where they are (a deep copy first would cost 137 µs an item, 7x the
    # encoding); a nested item is the one value it cannot read, and takes ItemAdapter's copy.
    try:
        return encode_line(dict(ItemAdapter(item)))
    except TypeError:
        return encode_line(ItemAdapter(item).asdict())


def _complete_lines(path: Path) -> int:
    """Count whole lines, cutting off a torn last line a crash may have left."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)
        data = data[: data.rfind(b"\n") + 1]
    return data.count(b"\n")


def fsync_dir(directory: Path) -> None:
    """Make a rename durable."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
