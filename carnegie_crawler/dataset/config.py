"""Where the dataset and the runs it reads are, from the settings a run used (CARNEGIE_STATE, _OUTPUT, _MANIFEST)."""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .runs import DatasetError, RunRef, discover_runs

DEFAULT_DIRECTORY = "data/dataset"
PACKAGE = "datapackage.json"  # the descriptor every build writes (output.py)
# The placeholders a run's path templates may use (docs/runs.md): spider name, start time, run id.
_PLACEHOLDERS = ("name", "time", "run_id")


@dataclass(frozen=True)
class DatasetConfig:
    directory: Path
    state: Path
    manifest_dirs: list[Path]
    pattern: str  # the manifests' file names, as a glob pattern

    @classmethod
    def from_settings(cls, settings: Any) -> DatasetConfig | None:
        """The dataset's paths; None when CARNEGIE_DATASET is empty (off); DatasetError for an unusable setting."""
        directory = settings.get("CARNEGIE_DATASET", DEFAULT_DIRECTORY)
        if directory is None or directory == "":
            return None
        if not isinstance(directory, str | os.PathLike) or "%(" in str(directory):
            raise DatasetError(f"CARNEGIE_DATASET must be a directory path without placeholders, not {directory!r}")
        # Absolute now: taken as written (a `~` is no home directory here, as in every other path setting),
        # where pyarrow would expand one in the paths it is given, and build the dataset somewhere else.
        directory = Path(directory).absolute()
        if not directory.name or directory.name in (".", ".."):
            raise DatasetError(f"CARNEGIE_DATASET must name a directory of its own, not {str(directory)!r}")
        state = settings.get("CARNEGIE_STATE") or ""
        if not state:
            raise DatasetError("CARNEGIE_STATE is empty: the dataset follows the runs committed to one state file")
        output = _template(settings, "CARNEGIE_OUTPUT")
        if not output:
            raise DatasetError("CARNEGIE_OUTPUT is empty: the runs publish no output for the dataset to read")
        manifest = _template(settings, "CARNEGIE_MANIFEST")
        if manifest:
            where, name = os.path.split(manifest)
            dirs = [_directory(where, manifest, "CARNEGIE_MANIFEST")]
        else:  # beside the output, as <output without .jsonl>.manifest.json
            where, name = os.path.split(output)
            dirs = [_directory(where, output, "CARNEGIE_OUTPUT")]
            name = name.removesuffix(".jsonl") + ".manifest.json"
        pattern = glob.escape(name) % dict.fromkeys(_PLACEHOLDERS, "*")
        return cls(Path(directory), Path(state), dirs, pattern)

    def unapplied_run_replaced(self, output: Path, manifest: Path) -> RunRef | None:
        """A published run of this state whose output or manifest a run writing *output* and *manifest* would
        replace (fixed file names: no `%(run_id)s` or `%(time)s`), and that the dataset has not applied.

        Its documents would never reach the dataset: the update at the new run's end would find it gone,
        and `scrapy dataset` would skip it as a gap. None as well where the dataset's record cannot be read
        (its own update reports that), or a manifest cannot (the dataset's build reports that).
        """
        applied = applied_run_ids(self.directory)
        if applied is None:
            return None
        try:
            runs = discover_runs(self.manifest_dirs, self.state, self.pattern)
        except DatasetError:
            return None
        output, manifest = output.absolute(), manifest.absolute()
        for run in runs:
            if run.run_id not in applied and (run.output == output or run.manifest == manifest):
                return run
        return None


def current(directory: Path) -> Path | None:
    """The version directory the dataset path links to; None if it is no link of ours."""
    if not directory.is_symlink():
        return None
    target = os.readlink(directory)
    if "/" in target or os.sep in target or not target.startswith(f".{directory.name}.version-"):
        return None  # a link the user made, to a directory elsewhere
    return (directory.parent / target).absolute()


def dataset_path(directory: Path) -> Path:
    """Where the dataset's versions live: *directory*, or, if the user made it a link to a directory
    elsewhere (another disk), that directory; its own links are followed, ours are not."""
    for _ in range(40):  # the kernel's own limit on a chain of links
        if not directory.is_symlink() or current(directory) is not None:
            break
        directory = directory.parent / os.readlink(directory)  # an absolute target replaces the parent
    return directory


def applied_run_ids(directory: Path) -> set[str] | None:
    """The ids of the runs the dataset at *directory* has applied (none if there is no dataset yet), as its
    datapackage.json records them; None if it is no readable dataset (its build says why)."""
    try:
        package = read_package(directory)
    except (DatasetError, OSError):  # not a dataset, or not a directory at all
        return None
    return set() if package is None else {entry["run_id"] for entry in package["runs"]}


def read_package(directory: Path) -> dict[str, Any] | None:
    """The dataset's datapackage.json, or None where there is no dataset yet; DatasetError if it is not one."""
    if not directory.exists():
        return None
    path = directory / PACKAGE
    if not path.exists():
        if any(directory.iterdir()):
            raise DatasetError(f"{directory} is not empty and holds no {PACKAGE}: not a dataset directory")
        return None
    try:
        package: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        runs = package["runs"]
        rows = [package["resources"][0]["rows"], package["resources"][1]["rows"]]
        if not isinstance(runs, list) or not all(isinstance(run.get("run_id"), str) for run in runs) or None in rows:
            raise ValueError("runs or rows missing")
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise DatasetError(f"{path} is unreadable ({exc}): rebuild the dataset (scrapy dataset --rebuild)") from None
    for name in ("documents.parquet", "history.parquet"):
        if not (directory / name).is_file():
            raise DatasetError(f"{directory / name} is missing: rebuild the dataset (scrapy dataset --rebuild)")
    return package


def check_dataset_directory(directory: Path) -> None:
    """DatasetError unless *directory* can become the dataset: absent, an empty directory, or a dataset
    (ours, or an earlier release's, damaged or not). A build replaces it whole: a user's files must not go."""
    directory = dataset_path(directory)  # a link of the user's to another place is followed, as the build does
    if not os.path.lexists(directory) or current(directory) is not None:
        return  # nothing yet, or the link to a version (even one a hand removed: the build mends it)
    if not directory.is_dir():
        raise DatasetError(f"CARNEGIE_DATASET {directory} exists and is not a directory: it is left as it is")
    names = {entry.name for entry in os.scandir(directory)}
    if names and not names & {"datapackage.json", "documents.parquet", "history.parquet"}:
        raise DatasetError(
            f"CARNEGIE_DATASET {directory} is a directory that holds no dataset (no datapackage.json): it is left "
            "as it is; name a new directory, or an existing dataset"
        )


def _template(settings: Any, name: str) -> str:
    value = settings.get(name) or ""
    if not isinstance(value, str):
        raise DatasetError(f"{name} must be a path, not {value!r}")
    try:
        value % dict.fromkeys(_PLACEHOLDERS, "x")
    except (KeyError, ValueError, TypeError) as exc:
        known = ", ".join(f"%({key})s" for key in _PLACEHOLDERS)
        raise DatasetError(f"{name}: bad path template {value!r}: {exc} (placeholders: {known})") from None
    return value


def _directory(part: str, template: str, name: str) -> Path:
    if "%(" in part:
        raise DatasetError(
            f"{name}: the directory of {template!r} has placeholders; the dataset needs the runs in fixed "
            "directories (put the placeholders in the file name only)"
        )
    return Path(part or ".")
