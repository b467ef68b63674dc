"""Which archived responses a re-extraction takes: the latest of each URL, and only where it is the newest.

A selection (some files, a date range) never takes a URL back in time: a URL whose newest response
is outside it (a later run's file, a later date) is left out, so the other archives are indexed too.
Nor does a damaged file: what cannot be read of it may hold a newer response of any URL whose latest
one read is older than that file, so those are left out as well.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from .reader import ArchivedResponse, file_date, iter_index

logger = logging.getLogger(__name__)

# Not a page's state: a server error, a rate limit, a timeout, or a 304 (its content is an earlier response).
_TRANSIENT = frozenset({304, 408, 429})


@dataclass
class Selection:
    """What `choose` picked, and what it read to pick it."""

    entries: list[ArchivedResponse]
    files: list[Path]
    responses: int = 0  # response records read
    in_range: int = 0  # ...archived within since/until
    torn: dict[Path, str] = field(default_factory=dict)  # files read up to a torn tail or damage
    unreadable: list[Path] = field(default_factory=list)  # ...of which not one response could be read
    superseded: int = 0  # URLs in range left out: their newest response is outside the selection
    uncertain: int = 0  # ...or may be, in the damaged part of a newer file

    @property
    def counts(self) -> dict[str, int]:
        """The run's `carnegie/reextract/...` stats (torn files and URLs left out: only if any)."""
        counts = {"archives": len(self.files), "responses": self.responses, "chosen": len(self.entries)}
        if self.torn:
            counts["torn_archives"] = len(self.torn)
        if self.unreadable:
            counts["unreadable_archives"] = len(self.unreadable)
        if self.superseded:
            counts["superseded"] = self.superseded
        if self.uncertain:
            counts["uncertain"] = self.uncertain
        return counts


def in_order(paths: Iterable[Path], last: frozenset[Path] = frozenset()) -> list[Path]:
    """*paths* oldest first (by their first record, else by the run id in their name), the same file once; of
    files as old, those in *last* (resolved paths) after the others."""
    unique = {p.resolve(): p for p in paths}
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(unique.values(), key=lambda p: (file_date(p) or name_date(p) or oldest, p.resolve() in last, p.name))


# A run's archive is named after its run id, `<spider>-YYYY-MM-DDTHH-MM-SS-<6 hex>` (its UTC start), its part
# file after that name. So an archive damaged in its first record still sorts as the run it is: read as the
# oldest, a damaged newest archive let older responses stand in for the ones it holds (found by a review).
_RUN_ID_TIME = re.compile(r"-(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2})-[0-9a-f]{6}\.warc\.gz(?:\.[0-9a-f]+\.part)?$")


def name_date(path: Path) -> datetime | None:
    """The start of the run whose archive *path* is, from its name; None for a name that is no run's."""
    found = _RUN_ID_TIME.search(path.name)
    return datetime.strptime(found[1], "%Y-%m-%dT%H-%M-%S").replace(tzinfo=UTC) if found else None


def parse_moment(value: str, end: bool = False) -> datetime:
    """A `since`/`until` bound: YYYY-MM-DD (a whole UTC day: its start, or with *end* the next day's start)
    or an ISO date and time (UTC unless it says otherwise). Raises ValueError."""
    text = value.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        start = datetime.combine(day, time(), tzinfo=UTC)
        return start + timedelta(days=1) if end else start
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def is_transient(status: int) -> bool:
    """A response that says nothing about the page: a server error, a rate limit, a timeout, a 304."""
    return status >= 500 or status in _TRANSIENT or status == 0


def latest_per_url(entries: Iterable[ArchivedResponse]) -> list[ArchivedResponse]:
    """The latest response of each URL (by WARC-Date; then the later file, the later record), transient
    answers left out: a 503 does not hide the page an earlier run got, while a 404 or a redirect does.

    In processing order: the newest file first, and within a file the order of the crawl.
    """
    best: dict[str, ArchivedResponse] = {}
    for entry in entries:
        if is_transient(entry.status):
            continue
        current = best.get(entry.url)
        if current is None or _rank(entry) >= _rank(current):
            best[entry.url] = entry
    return sorted(best.values(), key=lambda e: (-e.position, e.offset))


def _rank(entry: ArchivedResponse) -> tuple[datetime, int, int]:
    return entry.date, entry.position, entry.offset


def choose(
    paths: Iterable[Path], since: datetime | None = None, until: datetime | None = None, others: Sequence[Path] = ()
) -> Selection:
    """The latest response of each URL among those of *paths* archived in [since, until), where it is the
    URL's newest: a URL with a newer response outside that selection (in *paths* or in *others*, the other
    archives, indexed for that alone) is left out and counted, as its older one would roll the state back."""
    selected = in_order(paths)
    named = frozenset(path.resolve() for path in selected)
    # A named file after the others as old: a named copy of one of theirs wins the tie with it, whatever its name.
    files = in_order([*others, *selected], last=named) if others else selected
    own = {position for position, path in enumerate(files) if path.resolve() in named}
    selection = Selection(entries=[], files=selected)
    candidates: set[str] = set()  # URLs with a response in the selection that says something of the page

    def in_selection(entry: ArchivedResponse) -> bool:
        in_range = (since is None or entry.date >= since) and (until is None or entry.date < until)
        return in_range and entry.position in own

    damaged: list[tuple[int, Path]] = []  # files read only up to damage, selected or not: (position, path)

    def index() -> Iterator[ArchivedResponse]:
        for position, path in enumerate(files):
            mine = position in own
            read, torn = 0, dict[Path, str]()
            for entry in iter_index(path, position, torn):
                if mine:
                    selection.responses += 1
                    read += 1
                if in_selection(entry):
                    selection.in_range += 1
                    if not is_transient(entry.status):
                        candidates.add(entry.url)
                yield entry
            if torn:
                damaged.append((position, path))
                if mine:
                    selection.torn.update(torn)
                    if not read:
                        selection.unreadable.append(path)

    chosen = [entry for entry in latest_per_url(index()) if in_selection(entry)]
    selection.superseded = len(candidates) - len(chosen)
    if selection.superseded:
        logger.info("%d URL(s) left out: each has a newer response outside the selection", selection.superseded)
    # What a damaged file could not be read for may hold a newer response of any URL whose latest one read is
    # older than that file: re-extracting those would take them back in time. Left out, as the superseded are.
    newest_damaged = max(damaged, default=None)
    if newest_damaged is not None:
        selection.entries = [entry for entry in chosen if entry.position >= newest_damaged[0]]
        selection.uncertain = len(chosen) - len(selection.entries)
        if selection.uncertain:
            logger.warning(
                "%d URL(s) left out: their newest response may be in the part of %s that cannot be read",
                selection.uncertain, newest_damaged[1],
            )  # fmt: skip
    else:
        selection.entries = chosen
    return selection
