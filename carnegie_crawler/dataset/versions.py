"""Which version of the dataset `CARNEGIE_DATASET` shows, switched in one step.

The dataset path (`data/dataset`) is a symbolic link to a complete version, a sibling directory
`.dataset.version-<ns>`. A build writes the new version beside it, then replaces the link with
`os.replace`, which is atomic: a reader (or a process killed at any instant) sees the old version
or the new one, whole, never a missing or half-swapped directory. Renaming directories cannot do
that: the old one has to move aside before the new one can take its place. The version the link
left is removed after the switch, and at the next build if a kill came first.

A dataset directory from before the links (a real directory) is moved to a version and linked at
its first update.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa

from .config import current
from .output import fsync_path
from .runs import DatasetError

logger = logging.getLogger(__name__)


def _versions(directory: Path) -> list[Path]:
    return sorted(directory.parent.glob(f".{directory.name}.version-*"))


def swap(new: Path, directory: Path) -> None:
    """Make the dataset built in *new* the one *directory* shows, in one atomic step; the old one goes."""
    version = directory.parent / f".{directory.name}.version-{time.time_ns()}"
    link = directory.parent / f".{directory.name}.link-{os.getpid()}"
    link.unlink(missing_ok=True)
    try:  # before anything moves: a file system without links (FAT, some CIFS) leaves all as it was
        os.symlink(version.name, link)  # relative, so the data directory can move
    except OSError as exc:
        raise DatasetError(
            f"cannot make a symbolic link in {directory.parent} ({exc.strerror or exc}): the dataset switches "
            "versions through one; put CARNEGIE_DATASET on a file system that has them"
        ) from None
    os.rename(new, version)
    fsync_path(directory.parent)
    old = current(directory)
    if directory.is_dir() and old is None:  # a real directory, from before the links: becomes a version
        old = directory.parent / f".{directory.name}.version-0"
        os.rename(directory, old)
    os.replace(link, directory)
    fsync_path(directory.parent)
    if old is not None and old != version:
        shutil.rmtree(old, ignore_errors=True)


def recover(directory: Path) -> None:
    """Under the dataset's lock, before a build: put back what a killed build or switch left.

    The dataset path is made to show a version again if a kill left it missing, and versions the
    link no longer shows (and half-made links) are removed.
    """
    legacy = directory.parent / f".{directory.name}.previous"  # the directory swap of earlier releases
    if legacy.is_dir() and not os.path.lexists(directory):
        logger.warning("Restoring %s from %s, left by an interrupted build", directory, legacy)
        os.rename(legacy, directory)
    versions = _versions(directory)
    if not os.path.lexists(directory) and versions:
        logger.warning("Linking %s to %s, left by an interrupted build", directory, versions[-1].name)
        os.symlink(versions[-1].name, directory)
    keep = current(directory)
    for stale in versions:
        if stale.absolute() != keep:
            shutil.rmtree(stale, ignore_errors=True)
    for link in directory.parent.glob(f".{directory.name}.link-*"):
        link.unlink(missing_ok=True)
    if legacy.exists():
        shutil.rmtree(legacy, ignore_errors=True)


def check_files(directory: Path, package: dict[str, Any]) -> None:
    """DatasetError unless every file datapackage.json lists has the size and sha256 it records."""
    for resource in package.get("resources", []):
        path = directory / str(resource.get("path"))
        try:
            size = path.stat().st_size
            same = size == resource.get("bytes") and f"sha256:{_sha256(path)}" == resource.get("hash")
        except OSError as exc:
            raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from None
        if not same:
            raise DatasetError(
                f"{path} is not the file datapackage.json describes (changed or damaged): "
                "rebuild the dataset (scrapy dataset --rebuild)"
            )


@contextmanager
def checked_while_read(directory: Path, package: dict[str, Any] | None) -> Iterator[None]:
    """`check_files` in a thread while the body reads the dataset's files to build on them.

    An update copies the old rows as they are: a file changed by hand or damaged on disk would be
    copied into the new version, and its new datapackage.json would vouch for it. The check reads
    the files anyway read (from the page cache, hashing without the GIL), so it costs little time.
    If the body fails reading them, a damaged file is said as such (DatasetError), not as what the
    decoder choked on; a file that is whole but unreadable as Parquet is a DatasetError too. Other
    errors (a full disk while writing the new version) go on as they are.
    """
    if package is None:
        yield
        return
    with ThreadPoolExecutor(1, thread_name_prefix="dataset-check") as pool:
        check = pool.submit(check_files, directory, package)
        try:
            yield
        except (OSError, pa.ArrowException) as exc:
            check.result()  # damaged files: a DatasetError that says so
            if isinstance(exc, OSError):
                raise
            raise DatasetError(
                f"cannot read the dataset at {directory} ({exc}): rebuild it (scrapy dataset --rebuild)"
            ) from None
        check.result()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()
