"""Published runs as the dataset reads them: a manifest, its output file, and the order they were committed.

A run is trusted only as far as its manifest vouches for it: the output's line count and
sha256 must match (docs/runs.md, "The end of a run"), else the run is refused by name.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import Any

from ..run.errors import StateError
from ..run.recovery import last_committed_run, runs_cut_short
from ..run.store import Removal  # one definition, shared with the state

logger = logging.getLogger(__name__)

_CHUNK = 1 << 22


class DatasetError(Exception):
    """Input the dataset cannot use (a run, a manifest, a setting); the message is one line naming it."""


class SchemaChangedError(DatasetError):
    """The dataset was built for another schema than the current one: only a rebuild can bring it up to date."""


class DatasetLockedError(DatasetError):
    """Another process is building the dataset."""


@dataclass(frozen=True)
class RunRef:
    """One published run, read from its manifest (`RunRef.from_manifest`)."""

    manifest: Path
    run_id: str
    previous_run_id: str | None
    mode: str
    started_at: str
    finished_at: str
    state: Path | None
    output: Path
    lines: int
    sha256: str
    schema_version: str | None
    crawler_version: str | None
    published: bool = True
    removed: tuple[Removal, ...] = ()
    # (size, mtime_ns) of the output when `verify` last found it whole: not hashed twice in one process.
    _verified: list[tuple[int, int]] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def from_manifest(cls, path: str | os.PathLike[str]) -> RunRef:
        """The run a manifest describes; DatasetError if it cannot be read or lacks what the dataset needs."""
        manifest = Path(path).absolute()
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DatasetError(f"cannot read manifest {manifest}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise DatasetError(f"manifest {manifest} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise DatasetError(f"manifest {manifest} is not a JSON object")
        try:
            output = data["output"]
            state = data.get("state")
            return cls(
                manifest=manifest,
                run_id=_text(data["run_id"]),
                previous_run_id=data.get("previous_run_id") or None,
                mode=str(data.get("mode") or "full"),
                started_at=_text(data["started_at"]),
                finished_at=_moment(data["finished_at"]),
                state=Path(state).resolve() if state else None,
                output=(manifest.parent / _text(output["path"])).absolute() if output else manifest.with_suffix(""),
                lines=int(output["lines"]) if output else -1,
                sha256=str(output["sha256"]) if output else "",
                schema_version=data.get("schema_version"),
                crawler_version=data.get("crawler_version"),
                published=data.get("published") is True and bool(output),
                removed=tuple(
                    Removal(_text(gone["url"]), gone.get("language") or None, str(gone.get("reason") or ""))
                    for gone in data.get("removed") or ()
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            what = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise DatasetError(f"manifest {manifest} is not a run manifest ({what})") from None

    @property
    def order(self) -> tuple[datetime, str]:
        """The order runs were committed in: runs on one state file never overlap (docs/runs.md)."""
        return (datetime.fromisoformat(self.finished_at), self.run_id)

    def describe(self) -> str:
        return f"run {self.run_id} ({self.manifest})"

    def _stamp(self) -> tuple[int, int]:
        try:
            stat = self.output.stat()
        except OSError as exc:
            raise DatasetError(f"{self.describe()}: cannot read output {self.output}: {exc.strerror}") from None
        return (stat.st_size, stat.st_mtime_ns)

    def is_verified(self) -> bool:
        """`verify` passed in this process, and the file has not changed since."""
        return self._stamp() in self._verified

    def verify(self) -> None:
        """The output file is the one the manifest describes (line count, sha256), else DatasetError."""
        stamp = self._stamp()
        if stamp in self._verified:
            return
        digest = hashlib.sha256()
        lines = 0
        try:
            with open(self.output, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
                    lines += chunk.count(b"\n")
        except OSError as exc:
            raise DatasetError(f"{self.describe()}: cannot read output {self.output}: {exc.strerror}") from None
        self.check(lines, digest.hexdigest())

    def check(self, lines: int, sha256: str) -> None:
        """DatasetError unless *lines* and *sha256* (of the output as read) are what the manifest says."""
        if lines == self.lines and sha256 == self.sha256:
            self._verified.append(self._stamp())
        else:
            found = f"{lines} lines, sha256 {sha256[:12]}…"
            said = f"{self.lines} lines, sha256 {self.sha256[:12]}…"
            raise DatasetError(
                f"{self.describe()}: output {self.output} does not match its manifest ({found}; manifest: {said})"
            )


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def _moment(value: Any) -> str:
    text = _text(value)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return text


def as_run(run: RunRef | str | os.PathLike[str]) -> RunRef:
    return run if isinstance(run, RunRef) else RunRef.from_manifest(run)


def ordered(runs: Iterable[RunRef]) -> list[RunRef]:
    """*runs* in commit order, each once; two manifests claiming one run id are refused.

    By finish time, which a manifest gives to the second: runs that finish within one second (quick
    re-extractions, one after the other) are put in the order their previous_run_id links say.
    """
    by_id: dict[str, RunRef] = {}
    for run in runs:
        other = by_id.setdefault(run.run_id, run)
        if other.manifest != run.manifest:
            raise DatasetError(f"run {run.run_id} has two manifests: {other.manifest} and {run.manifest}")
    result: list[RunRef] = []
    for _, same_second in groupby(sorted(by_id.values(), key=lambda run: run.order), key=lambda run: run.order[0]):
        result += _chained(list(same_second))
    return result


def _chained(runs: list[RunRef]) -> list[RunRef]:
    """*runs* (in run id order) with each run after the one it names as previous, where that is among them."""
    ids = {run.run_id for run in runs}
    following = {run.previous_run_id: run for run in runs if run.previous_run_id in ids}
    result: list[RunRef] = []
    for head in runs:
        if head.previous_run_id in ids:
            continue  # placed after its previous run
        run: RunRef | None = head
        while run is not None and run not in result:
            result.append(run)
            run = following.get(run.run_id)
    return result + [run for run in runs if run not in result]  # a loop of links: as they came


def last_run(state: Path) -> str | None:
    """The last run committed to *state* with an output file (`recovery.last_committed_run`), None if none
    or the state cannot say. Read before the runs are found (`discover_runs`): a run committed by then has
    its manifest published and its note cleared, so it is found; one committed later is not asked about."""
    try:
        return last_committed_run(Path(state))
    except StateError as exc:
        logger.debug("%s: the last committed run cannot be read", exc)
        return None


def unfound_last_run(state: Path, last: str | None, known: set[str]) -> str | None:
    """The problem, if *last* (`last_run`, read before the runs were found) is not among the *known* run ids
    (those found, or applied): its manifest was moved or deleted, so no build can follow it, and no chain
    check sees the gap a missing last run leaves."""
    if last is None or last in known:
        return None
    return (
        f"run {last}, the last committed to {state}, is not among the published runs found: its manifest "
        "was moved or deleted, and its documents and removals are missing from the dataset"
    )


def discover_runs(
    output_dirs: list[Path], state: Path, pattern: str = "*.manifest.json", verify: bool = False
) -> list[RunRef]:
    """The published runs committed to *state* whose manifests are in *output_dirs*, in commit order.

    Manifests of unpublished runs, of runs on another state file, and of runs cut short while
    publishing (until the next run on the state finishes or takes them back) are skipped. With *verify*,
    each run's output is checked against its manifest here; a mismatch is a DatasetError. Not by
    default: a build checks each run it reads on the way, and an update reads only the runs the
    dataset has not applied, where hashing every run's output would cost a full build's reading.
    """
    target = Path(state).resolve()
    try:
        cut_short = runs_cut_short(target)
    except StateError as exc:
        # Safe to read on: a run whose manifest is published is finished by the next run, never taken
        # back (run/recovery.py); skipping it only spares an error on its output not yet in place. Not
        # a warning: it happens when the state's directory is full, which the build then reports.
        logger.debug("%s: runs cut short while publishing cannot be told apart", exc)
        cut_short = set()
    found: list[RunRef] = []
    seen: set[Path] = set()
    for directory in output_dirs:
        for name in sorted(glob.glob(os.path.join(glob.escape(str(directory)), pattern))):
            path = Path(name).absolute()
            if path in seen:
                continue
            seen.add(path)
            run = RunRef.from_manifest(path)
            if not run.published:
                logger.debug("Skipping %s: not published", path)
            elif run.state != target:
                logger.debug("Skipping %s: state %s, not %s", path, run.state, target)
            elif run.run_id in cut_short:
                logger.warning(
                    "Skipping run %s: cut short while publishing; the next run on %s finishes or takes it back",
                    run.run_id, target,
                )  # fmt: skip
            else:
                found.append(run)
    runs = ordered(found)
    if verify:
        for run in runs:
            run.verify()
    return runs
