"""The end of a run cut short between publishing its files and committing its state (kill -9, power cut).

A healthy run publishes its files (output, rejects, archive), writes its manifest, then commits its
state (docs/runs.md, "The end of a run"). Killed in between, it would leave a published output the
state knows nothing of: the next incremental run would emit the same documents again as new, and
the dataset would hold them twice. So, before publishing, the run notes in the state what it is
about to publish (`begin`); the state commit clears the note in the same transaction. The next run
on the state file, holding its lock, finds any note left (`recover`) and:

- rolls the run forward once its manifest is published (it is published first, and says
  published): the files still under their part names (closed and durable before publishing
  began) are renamed into place, and the state commit it was about to make is made now, from the
  rows it staged. A reader may already have trusted that manifest (`scrapy dataset` does not: it
  skips runs with a note, `runs_cut_short`), so it is never taken back;
- otherwise (killed before its manifest was published, or a file of it is gone) rolls it back, as a
  failed end would have: its files go back to their part names (a file they replaced comes back),
  its staged rows are dropped.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..output import fsync_dir
from .errors import StateError, state_error
from .store import Removal, StateStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pending:
    run_id: str
    started_at: str
    output: str | None
    emitted: int
    manifest: Path | None
    files: tuple[tuple[Path, Path], ...]  # (part file, published path)


def begin(store: StateStore, pending: Pending) -> None:
    """Note, durably, what the run is about to publish; its staged rows are written first."""
    store.flush()
    # Absolute: the next run may start in another directory.
    files = json.dumps([[str(part.absolute()), str(path.absolute())] for part, path in pending.files])
    manifest = _text(pending.manifest.absolute() if pending.manifest else None)
    row = (pending.run_id, pending.started_at, pending.output, pending.emitted, manifest, files)
    try:
        with store.transaction(immediate=True) as db:
            db.execute("INSERT OR REPLACE INTO publishing VALUES (?, ?, ?, ?, ?, ?)", row)
    except (sqlite3.Error, OSError) as exc:
        raise state_error(store.path, exc, "noting the files about to be published") from None


def end(store: StateStore, run_id: str) -> None:
    """Clear the note of a run whose end was undone (the state commit clears it otherwise)."""
    try:
        with store.transaction() as db:
            db.execute("DELETE FROM publishing WHERE run_id = ?", (run_id,))
    except (sqlite3.Error, OSError) as exc:
        raise state_error(store.path, exc, "clearing a publishing note") from None


def recover(store: StateStore) -> list[str]:
    """Finish or take back every run cut short while publishing; one log line each, returned."""
    try:
        with store.transaction() as db:
            found = db.execute("SELECT * FROM publishing ORDER BY run_id").fetchall()
    except (sqlite3.Error, OSError) as exc:
        raise state_error(store.path, exc, "reading publishing notes") from None
    notes = []
    for row in found:
        pending = _pending(row)
        try:
            notes.append(_recover_one(store, pending))
        except OSError as exc:  # one line, and every later run says the same until it is fixed
            raise StateError(
                f"cannot finish or take back run {pending.run_id}, cut short while publishing: "
                f"{exc.strerror or exc} ({exc.filename})",
                "io",
            ) from None
    return notes


def _recover_one(store: StateStore, pending: Pending) -> str:
    manifest = _read_manifest(pending.manifest)
    published = manifest is not None and manifest.get("run_id") == pending.run_id and manifest.get("published")
    whole = all(part.exists() or path.exists() for part, path in pending.files)
    if published and whole:
        assert manifest is not None
        finished = _finish_publishing(pending.files)
        removed = [_removal(gone) for gone in manifest.get("removed") or []]
        count = store.commit_run(pending.run_id, pending.started_at, pending.output, pending.emitted, removed=removed)
        for part, _ in pending.files:  # what `RunFiles.settle` would have done
            _previous(part).unlink(missing_ok=True)
        also = f"; published {', '.join(map(str, finished))}" if finished else ""
        return (
            f"Run {pending.run_id} was cut short after publishing its manifest, before its state commit: "
            f"committed it now ({count} document(s); manifest {pending.manifest}{also})"
        )
    for part, path in reversed(pending.files):  # the manifest, published first, goes back last
        if path == pending.manifest and not _published_by(path, pending.run_id):
            # Not this run's published manifest (never written, an earlier run's at a fixed name, or
            # this run's unpublished one): it stays; a hard link publish made to it goes.
            previous = _previous(part)
            if previous.exists() and path.exists() and os.path.samefile(previous, path):
                previous.unlink()
            continue
        _take_back(part, path)
    store.drop_run(pending.run_id)
    end(store, pending.run_id)
    kept = ", ".join(str(part) for part, _ in pending.files if part.exists()) or "no part file"
    return f"Run {pending.run_id} was cut short while publishing: taken back, nothing of it committed (kept: {kept})"


def _finish_publishing(files: Sequence[tuple[Path, Path]]) -> list[Path]:
    """Rename into place the files the run had not yet published; the paths renamed."""
    done = []
    for part, path in files:
        if part.exists():  # not renamed yet (a rename takes the part name away in the same step)
            os.replace(part, path)
            done.append(path)
    for directory in {path.parent for path in done}:
        fsync_dir(directory)
    return done


def last_committed_run(state: Path) -> str | None:
    """The id of the last run committed to the state file at *state* with an output file (read only; a run
    with CARNEGIE_OUTPUT empty publishes none, so no manifest either), None if none or no file."""
    sql = "SELECT run_id FROM runs WHERE output <> '' ORDER BY committed_at DESC, rowid DESC LIMIT 1"
    rows = _read_only(state, sql, "reading its runs")
    return str(rows[0][0]) if rows else None


def runs_cut_short(state: Path) -> set[str]:
    """The runs of the state file at *state* cut short while publishing, not yet finished or taken back
    (read only: for readers of the published runs, which must not trust those yet)."""
    return {run_id for (run_id,) in _read_only(state, "SELECT run_id FROM publishing", "reading publishing notes")}


def _read_only(state: Path, sql: str, doing: str) -> list[tuple[Any, ...]]:
    """*sql*'s rows from the state file at *state*, opened read only (a reader beside a run, without its
    lock); none if there is no file, or no such table yet (a state file from before it). StateError else."""
    if not state.exists():
        return []
    try:
        db = sqlite3.connect(f"{state.absolute().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise state_error(state, exc, doing) from None
    try:
        return db.execute(sql).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise state_error(state, exc, doing) from None
    except sqlite3.Error as exc:
        raise state_error(state, exc, doing) from None
    finally:
        db.close()


def _previous(part: Path) -> Path:
    return part.with_name(part.name + ".previous")  # as `PartFile.publish` names it


def _published_by(manifest: Path, run_id: str) -> bool:
    found = _read_manifest(manifest)
    return found is not None and found.get("run_id") == run_id and found.get("published") is True


def _take_back(part: Path, path: Path) -> None:
    """`PartFile.unpublish` for a run that is gone: the file back to its part name, a replaced file restored."""
    previous = _previous(part)
    if path.exists() and not part.exists():
        os.replace(path, part)
    if previous.exists():
        os.replace(previous, path)


def _read_manifest(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _removal(gone: dict[str, Any]) -> Removal:
    return Removal(gone["url"], gone.get("language"), gone["reason"])


def _pending(row: Sequence[Any]) -> Pending:
    run_id, started_at, output, emitted, manifest, files = row
    pairs = tuple((Path(part), Path(path)) for part, path in json.loads(files))
    return Pending(run_id, started_at, output, int(emitted), Path(manifest) if manifest else None, pairs)


def _text(path: Path | None) -> str | None:
    return str(path) if path is not None else None
