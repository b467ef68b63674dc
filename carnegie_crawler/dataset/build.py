"""Build and update the dataset from published runs: documents.parquet, history.parquet, README.md, datapackage.json.

A build applies runs in commit order. Each run's removals are applied before its records (as
the state file does: a record written by the run proves its document alive, and such a removal
is no history event); a record replaces the document's earlier record whatever its crawl_status.

documents.parquet is written sorted by (url, language; null language first), in row groups of
ROW_GROUP_ROWS rows, so an update (the sorted old file streamed in batches, the sorted changes
merged in) and a rebuild from the run outputs alone write the same bytes; history.parquet
likewise (history.py). An update reads only the runs it applies, and holds a few row groups and
the changes, never the whole dataset. Every build writes a new directory beside the dataset and
swaps it in, so a reader or a crash never sees half a dataset.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..run.lock import LockHeldError, acquire
from .checks import check_applied, check_chain, check_schema
from .config import check_dataset_directory, dataset_path, read_package
from .convert import LineSource, OldRows
from .history import Events
from .index import Key, Located, Progress, scan_run
from .merge import Counts, NewRowsReader, chunks, in_order, materialize, plan
from .output import ROW_GROUP_ROWS, Output, finish
from .runs import DatasetError, DatasetLockedError, RunRef, as_run, ordered
from .schema import HISTORY_STATUSES, arrow_schema
from .versions import check_files, checked_while_read, recover, swap

logger = logging.getLogger(__name__)

LOCK_TIMEOUT = 600.0


@dataclass
class Summary:
    """What one `update_dataset` or `rebuild_dataset` call did."""

    directory: Path
    applied: list[str] = field(default_factory=list)  # run ids applied by this call, in order
    runs: int = 0  # runs the dataset holds
    documents: int = 0
    history: int = 0
    added: int = 0
    replaced: int = 0
    removed: int = 0
    rebuilt: bool = False
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def line(self) -> str:
        if not self.applied and not self.rebuilt:
            return f"Dataset {self.directory} is up to date: {self.runs} run(s), {self.documents:,} documents."
        verb = "rebuilt from" if self.rebuilt else "updated with"
        return (
            f"Dataset {self.directory} {verb} {len(self.applied)} run(s) in {self.seconds:.1f} s: "
            f"{self.documents:,} documents ({self.added:,} added, {self.replaced:,} replaced, "
            f"{self.removed:,} removed), "
            f"{self.history:,} history rows, {self.runs} run(s) in all."
        )


def update_dataset(
    directory: Path,
    runs: Sequence[RunRef | str | os.PathLike[str]],
    *,
    allow_gaps: bool = False,
    progress: Progress | None = None,
    lock_timeout: float = LOCK_TIMEOUT,
) -> Summary:
    """Apply the *runs* (RunRefs or manifest paths) the dataset at *directory* has not applied, in commit order.

    Runs it has applied are skipped. Each run must follow the last applied one (its
    `previous_run_id`): a missing run is a DatasetError unless *allow_gaps* (then a warning).
    SchemaChangedError (a DatasetError) if the dataset was built for another schema: rebuild it then.
    *progress*, if given, is called as `progress(phase, done, total)`: phase "index" counts the
    bytes of run files read, "write" the documents written. Another build of the same dataset
    is waited for up to *lock_timeout* seconds, then DatasetLockedError.
    """
    return _build(Path(directory), runs, False, allow_gaps, progress, lock_timeout)


def rebuild_dataset(
    directory: Path,
    runs: Sequence[RunRef | str | os.PathLike[str]],
    *,
    allow_gaps: bool = True,
    progress: Progress | None = None,
    lock_timeout: float = LOCK_TIMEOUT,
) -> Summary:
    """Build the dataset at *directory* from the *runs*' outputs alone, ignoring its current files, and swap it in.

    The result equals what `update_dataset` makes from the same runs, byte for byte.
    """
    return _build(Path(directory), runs, True, allow_gaps, progress, lock_timeout)


def _build(
    directory: Path,
    given: Sequence[RunRef | str | os.PathLike[str]],
    rebuild: bool,
    allow_gaps: bool,
    progress: Progress | None,
    lock_timeout: float,
) -> Summary:
    clock = time.monotonic()
    runs = ordered(as_run(run) for run in given)
    for run in runs:
        if not run.published:
            raise DatasetError(f"{run.describe()} was not published")
        if run.state is None:
            raise DatasetError(f"{run.describe()} names no state file: the dataset follows the runs of one")
    states = {run.state for run in runs}
    if len(states) > 1:
        raise DatasetError(f"the runs belong to different state files: {', '.join(sorted(map(str, states)))}")
    directory = dataset_path(directory)
    check_dataset_directory(directory)  # a build replaces it whole
    if rebuild and not runs and (directory / "datapackage.json").exists():  # a moved state, a mistyped setting
        raise DatasetError(
            f"no published run to rebuild {directory} from: it is kept as it is (are CARNEGIE_STATE and "
            "CARNEGIE_OUTPUT the settings its runs used?)"
        )
    try:
        lock = acquire(directory, lock_timeout)
    except LockHeldError as exc:
        raise DatasetLockedError(str(exc)) from None
    except OSError as exc:  # a directory that cannot be written: one line, not a traceback
        raise DatasetError(f"cannot lock the dataset {directory}: {exc.strerror or exc}") from None
    try:
        try:
            recover(directory)
        except OSError as exc:
            raise DatasetError(f"cannot tidy the dataset {directory}: {exc.strerror or exc}") from None
        package = None if rebuild else read_package(directory)
        applied = [] if package is None else list(package["runs"])
        done = {entry["run_id"]: entry for entry in applied}
        pending = [run for run in runs if run.run_id not in done]
        check_applied(runs, done, directory)
        summary = Summary(directory, rebuilt=rebuild)
        if package is not None:
            summary.runs = len(applied)
            summary.documents = package["resources"][0]["rows"]
            summary.history = package["resources"][1]["rows"]
            if package.get("state") and runs and str(runs[0].state) != package["state"]:
                raise DatasetError(f"the dataset at {directory} follows state {package['state']}, not {runs[0].state}")
            if not pending:  # nothing to do: say so only if the files are still the ones recorded
                check_files(directory, package)
                return summary
            check_schema(directory)
            last = applied[-1] if applied else None  # the runs are listed in the order they were applied
            first = pending[0]
            # A run that names the last applied one as its previous follows it, even within the same second.
            if (
                last
                and first.previous_run_id != last["run_id"]
                and first.order <= (datetime.fromisoformat(last["finished_at"]), last["run_id"])
            ):
                raise DatasetError(
                    f"{pending[0].describe()} was committed before run {last['run_id']}, which the dataset has "
                    "applied: rebuild it (scrapy dataset --rebuild)"
                )
        summary.warnings = check_chain(applied[-1]["run_id"] if applied else None, pending, allow_gaps, directory)
        state = str(runs[0].state) if runs else (package or {}).get("state")
        with Output(directory) as out:
            with checked_while_read(directory, package):  # the rows built on are those recorded
                _write(out, pending, directory if package is not None else None, summary, progress)
            finish(out, applied + [_applied_entry(run) for run in pending], state)
            swap(out.path, directory)
        summary.applied = [run.run_id for run in pending]
        summary.runs = len(applied) + len(pending)
        summary.seconds = time.monotonic() - clock
        return summary
    finally:
        lock.release()


def _applied_entry(run: RunRef) -> dict[str, object]:
    return {
        "run_id": run.run_id,
        "finished_at": run.finished_at,
        "mode": run.mode,
        "records": run.lines,
        "removed": len(run.removed),
        "schema_version": run.schema_version,
        "output_sha256": run.sha256,
        "manifest": str(run.manifest),
    }


@dataclass
class _Changes:
    latest: dict[Key, Located | None] = field(default_factory=dict)
    history: Events = field(default_factory=Events)


def _collect(runs: list[RunRef], progress: Progress | None) -> _Changes:
    """The index pass over every run file: the latest record or removal of each key, and the history events."""
    changes = _Changes()
    latest, history = changes.latest, changes.history
    total = sum(run.output.stat().st_size for run in runs)
    done = 0
    for number, run in enumerate(runs):
        scan = scan_run(run, None if progress is None else _shifted(progress, done, total))
        written = set(zip(scan.urls, scan.languages, strict=True)) if run.removed else set()
        # A run's removals come before its records, as the state applies them: a document the run
        # also wrote is alive, and its removal no event (docs/runs.md).
        for gone in run.removed:
            if (gone.url, gone.language) not in written:
                latest[(gone.url, gone.language)] = None
                history.add(gone.url, gone.language, "removed", None, run.run_id, run.finished_at)
        for i, (url, language, status) in enumerate(zip(scan.urls, scan.languages, scan.statuses, strict=True)):
            latest[(url, language)] = (number, scan.offsets[i], scan.lengths[i])
            if status in HISTORY_STATUSES:
                history.add(url, language, status, scan.hashes[i], run.run_id, scan.times[i])
        done += run.output.stat().st_size
    return changes


def _shifted(progress: Progress, base: int, total: int) -> Progress:
    """*progress* over all the runs' bytes, for a scan that counts one run's."""
    return lambda phase, at, size: progress(phase, base + at, total)


def _write(
    out: Output, pending: list[RunRef], previous: Path | None, summary: Summary, progress: Progress | None
) -> None:
    """documents.parquet and history.parquet into *out*: *previous*'s rows with the *pending* runs applied.

    Both old files are streamed a row group at a time: what this holds grows with the changes,
    not with the dataset.
    """
    schema = arrow_schema()
    changes = _collect(pending, progress)
    ordered = in_order(changes.latest)
    old = OldRows(previous / "documents.parquet", schema) if previous is not None else None
    source = LineSource(pending)
    try:
        counts = Counts()
        segments = plan(old.key_groups() if old is not None else (), ordered, counts)
        where = [place for _, place in ordered if place is not None]
        # Rows written: the old file's, less those replaced or removed, plus the new; at most this.
        total = (old.file.metadata.num_rows if old is not None else 0) + len(where)
        writer = out.documents(schema)
        news = NewRowsReader(where, source, schema, ROW_GROUP_ROWS)
        for chunk in chunks(segments, ROW_GROUP_ROWS):
            writer.write(materialize(chunk, old, news))
            if progress is not None:
                progress("write", writer.stats.rows, total)
        writer.close()
        if progress is not None:
            progress("write", counts.rows, counts.rows)
    finally:
        source.close()
        if old is not None:
            old.close()
    summary.documents, summary.added = counts.rows, counts.added
    summary.replaced, summary.removed = counts.replaced, counts.removed
    history = previous / "history.parquet" if previous is not None else None
    summary.history = out.history(history, changes.history.table())
