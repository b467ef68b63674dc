"""JSON Lines files that appear at their final path only once complete.

Lines go to `<path>.part`, each written in one call and flushed, so a crash
leaves only whole lines there; `commit()` renames the file into place.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from itemadapter import ItemAdapter
from scrapy.crawler import Crawler

from .records import fields, json_bytes, plain_record

logger = logging.getLogger(__name__)


class OutputError(Exception):
    """An output path cannot be used; the message names the path and the reason."""


def run_time(crawler: Crawler) -> str:
    """The run's start time as used in `%(time)s`, the same for every file of one run."""
    stamp = getattr(crawler, "_carnegie_run_time", None)
    if stamp is None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%S")
        crawler._carnegie_run_time = stamp  # type: ignore[attr-defined]
    return str(stamp)


def render_path(template: str, crawler: Crawler, spider_name: str) -> Path:
    try:
        return Path(template % {"time": run_time(crawler), "name": spider_name})
    except (KeyError, ValueError, TypeError) as exc:
        raise OutputError(f"bad output path template {template!r}: {exc}") from None


def check_writable(path: Path) -> None:
    """Fail early, before any request, if *path* cannot be written."""
    if path.is_dir():
        raise OutputError(f"output path {path} is a directory")
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create directory {directory}: {exc.strerror or exc}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"directory {directory} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"output file {path} is not writable")


class JsonLinesFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self.lines = 0
        self._fh: Any = None

    def open(self, resume: bool = False) -> None:
        """Start the `.part` file; with *resume*, append to the one a paused run left."""
        check_writable(self.path)
        if resume and self.part.exists():
            self.lines = _complete_lines(self.part)
            mode = "ab"
        else:
            if self.part.exists():
                # Left by a run that crashed: keep its lines, never overwrite them.
                stale = self.part.with_name(f"{self.part.name}.{datetime.now(UTC):%Y%m%dT%H%M%S}")
                self.part.rename(stale)
                logger.warning("Moved leftover partial output %s to %s", self.part, stale)
            mode = "xb"
        try:
            self._fh = open(self.part, mode, buffering=0)  # noqa: SIM115 - closed in commit()/close()
        except OSError as exc:
            raise OutputError(f"cannot open {self.part}: {exc.strerror or exc}") from None

    @property
    def is_open(self) -> bool:
        return self._fh is not None

    def write(self, record: dict[str, Any], plain: bool = False) -> None:
        """Append *record* as one line; *plain*: the caller has found `is_plain(record)` true."""
        self.write_line(encode_line(record, plain))

    def write_line(self, line: bytes) -> None:
        """Append one encoded line (`item_line`, `encode_line`), in one call."""
        self._fh.write(line)
        self.lines += 1

    def commit(self) -> Path:
        """Make the lines durable and move the file to its final path."""
        self.close()
        os.replace(self.part, self.path)
        _fsync_dir(self.path.parent)
        return self.path

    def close(self) -> None:
        """Stop writing and make the lines durable, leaving the `.part` file where it is."""
        if self._fh is not None:
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None


def encode_line(record: dict[str, Any], plain: bool = False) -> bytes:
    """*record* as one compact JSON line in UTF-8, non-ASCII text kept as it is (`records.json_bytes`)."""
    return json_bytes(record, newline=True, plain=plain)


# Exact types only: a subclass, a dataclass, a date, or anything else orjson does not know
# goes to `_refuse`, and the item to ItemAdapter and json.
_ITEM_LINE = (
    orjson.OPT_APPEND_NEWLINE
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not plain JSON")


def item_line(item: Any) -> bytes:
    """*item* as one output line: what `encode_line(ItemAdapter(item).asdict())` writes.

    orjson writes the item's fields as they are, refusing what is not JSON, so there
    is no deep copy and no walk over the values first. What it refuses (a nested
    item, a subclass, an integer beyond 64 bits, a lone surrogate) takes the copy
    and json, as before. The bytes differ from json's only for values json spells
    otherwise or cannot write: some floats (1e-7, json 1e-07), NaN and Infinity
    (null, which unlike json's output is JSON), an Enum or a UUID (its value; json
    raises), and an `orjson.Fragment`, whose bytes orjson writes as they are.
    """
    try:
        return orjson.dumps(fields(item), default=_refuse, option=_ITEM_LINE)
    except orjson.JSONEncodeError:
        # As before this shortcut: plain values (nested deeper than orjson goes, say) to json
        # as they are, anything else through ItemAdapter's copy.
        record = plain_record(item)
        return encode_line(record if record is not None else ItemAdapter(item).asdict(), plain=record is not None)


def _complete_lines(path: Path) -> int:
    """Count whole lines, cutting off a torn last line a crash may have left."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)
        data = data[: data.rfind(b"\n") + 1]
    return data.count(b"\n")


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
