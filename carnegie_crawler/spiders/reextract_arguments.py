"""The `reextract` spider's arguments (archives, since, until, workers) and the archive files they name.

Checked before the run starts (`scrapy reextract` refuses bad ones with one `Error:` line, exit 2),
and again when the spider is made.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from scrapy.settings import BaseSettings

from ..archive.reader import ARCHIVE_SUFFIX, archive_files, file_date
from ..archive.selection import parse_moment
from .arguments import SpiderArgumentError, refuse_empty

DEFAULT_ARCHIVE = "data/archive"
NAMES = ("archives", "since", "until", "workers")


@dataclass(frozen=True)
class ReextractArguments:
    """What the user asked for; `given` keeps the raw values for the run manifest."""

    archives: tuple[str, ...] | None  # None: every published archive in CARNEGIE_ARCHIVE
    since: datetime | None
    until: datetime | None  # exclusive: `until=2026-05-01` keeps all of May 1
    workers: int
    given: dict[str, str]
    # What the run's owner asks of a spider's arguments.
    incremental: bool = False  # every document is written, with its crawl_status
    start_pages: tuple[str, ...] = ()

    @property
    def filtered(self) -> bool:
        """Chosen files or a date range may hold no page's newest response: then an empty output is healthy."""
        return self.archives is not None or self.since is not None or self.until is not None


def parse_arguments(given: dict[str, Any]) -> ReextractArguments:
    """Check every argument; raises SpiderArgumentError with a one-line reason."""
    # scrapyd passes arguments of its own, all named with a leading underscore (`_job`, `_version`).
    unknown = sorted(name for name in set(given) - set(NAMES) if not name.startswith("_"))
    if unknown:
        raise SpiderArgumentError(f"unknown spider argument {unknown[0]!r} (known: {', '.join(NAMES)})")
    values = {k: (v if v is None else str(v)) for k, v in given.items()}
    refuse_empty(values, lists=("archives",))
    named = values.get("archives")
    archives = None if named is None else tuple(a.strip() for a in named.split(",") if a.strip())
    since = _moment("since", values.get("since"), end=False)
    until = _moment("until", values.get("until"), end=True)
    if since is not None and until is not None and since >= until:
        raise SpiderArgumentError(f"since ({values['since']}) must come before until ({values['until']})")
    return ReextractArguments(
        archives, since, until, _workers(values.get("workers")), {k: v for k, v in values.items() if v is not None}
    )


def _moment(name: str, value: str | None, end: bool) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_moment(value, end=end)
    except ValueError:
        raise SpiderArgumentError(
            f"{name} must be a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM:SSZ), not {value!r}"
        ) from None


def _workers(value: str | None) -> int:
    if value is None:
        return os.cpu_count() or 1
    try:
        workers = int(value)
    except ValueError:
        workers = 0
    if workers < 1:
        raise SpiderArgumentError(f"workers must be a whole number of processes, at least 1, not {value!r}")
    return workers


def archive_directory(settings: BaseSettings) -> Path | None:
    value = settings.get("CARNEGIE_ARCHIVE", DEFAULT_ARCHIVE)
    return Path(value) if value else None


def resolve_archives(arguments: ReextractArguments, settings: BaseSettings) -> list[Path]:
    """The archive files to read: those named (a bare name is looked up in CARNEGIE_ARCHIVE; a directory
    gives its published archives), else every published archive in CARNEGIE_ARCHIVE. Raises
    SpiderArgumentError when there is none, or a named one does not exist."""
    directory = archive_directory(settings)
    if arguments.archives is None:
        if directory is None:
            raise SpiderArgumentError("no archives: CARNEGIE_ARCHIVE is empty; name the files with -a archives=...")
        found = archive_files(directory)
        if not found:
            raise SpiderArgumentError(f"no archive (*{ARCHIVE_SUFFIX}) in {directory}")
        return found
    paths: list[Path] = []
    for name in arguments.archives:
        path = Path(name)
        if not path.exists() and directory is not None and path.parent == Path("."):
            path = directory / name
        if path.is_dir():
            paths += archive_files(path)
        elif path.is_file():
            # Named, it is the input: a file that is no WARC at all is refused now, rather than read as damaged.
            if path.stat().st_size == 0:
                raise SpiderArgumentError(f"{name} is empty: no WARC record to read")
            if file_date(path) is None:
                raise SpiderArgumentError(f"{name} is not a WARC archive: not one record of it can be read")
            paths.append(path)
        else:
            raise SpiderArgumentError(f"archive not found: {name}")
    if not paths:
        raise SpiderArgumentError(f"no archive (*{ARCHIVE_SUFFIX}) in {', '.join(arguments.archives)}")
    return paths
