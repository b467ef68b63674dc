"""The files one run writes: the output and the rejects (each a part file until published) and the manifest."""

from __future__ import annotations

import glob
import logging
from pathlib import Path

from ..archive import ARCHIVE_SUFFIX, WarcFile
from ..output import JsonLinesFile, PartFile
from .config import RunConfig, manifest_beside, render

logger = logging.getLogger("carnegie_crawler.run")


def part_path(path: Path, token: str) -> Path:
    """`<name>.<token>.part` beside *path*: unique per run, so no run opens another run's file."""
    return path.with_name(f"{path.name}.{token}.part")


class RunFiles:
    def __init__(self, config: RunConfig, values: dict[str, str], token: str, fetches: bool = True) -> None:
        self.output: JsonLinesFile | None = None
        self.rejects: JsonLinesFile | None = None
        self.archive: WarcFile | None = None
        self.manifest: Path | None = None
        if config.archive is not None and fetches:  # a re-extraction fetches nothing to archive
            path = config.archive / f"{values['run_id']}{ARCHIVE_SUFFIX}"
            self.archive = WarcFile(path, part_path(path, token), {"run_id": values["run_id"]})
        if config.output:
            path = render(config.output, **values)
            self.output = JsonLinesFile(path, part_path(path, token))
        if config.rejects:
            path = render(config.rejects, **values)
            self.rejects = JsonLinesFile(path, part_path(path, token))
        if config.manifest:
            self.manifest = render(config.manifest, **values)
        elif self.output is not None:
            self.manifest = manifest_beside(self.output.path)
        # A published run's manifest is written to its own part file and renamed into place with the
        # others: first when a state file notes the renames (a kill in between is finished by the next
        # run, run/recovery.py), last without one (nothing would finish it: an output without its
        # manifest is better than a manifest vouching for an output that is not there).
        self.manifest_file = PartFile(self.manifest, part_path(self.manifest, token)) if self.manifest else None
        self.published: list[PartFile] = []

    def open(self, resume: bool) -> None:
        """Open the output's part file (appending to a paused run's); the rejects open with the first reject."""
        if self.output is not None:
            self.output.open(resume=resume)
        if self.archive is not None:
            self.archive.open(resume=resume)

    @property
    def all(self) -> list[JsonLinesFile | WarcFile]:
        return [f for f in (self.output, self.rejects, self.archive) if f is not None]

    def close(self) -> None:
        """Make every line and record durable; every file is closed even if one fails."""
        errors: list[OSError] = []
        for file in self.all:
            try:
                file.close()
            except OSError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def to_publish(self, manifest_first: bool = True) -> list[PartFile]:
        """The manifest (once written; first or last), the output always (an empty run publishes an empty
        file), the rejects when this run rejected something, the archive."""
        files: list[PartFile] = [f for f in self.all if f is not self.rejects or f.part.exists()]
        if self.manifest_file is not None and self.manifest_file.part.exists():
            files.insert(0 if manifest_first else len(files), self.manifest_file)
        return files

    def publish(self, manifest_first: bool = True) -> None:
        """Rename the part files `to_publish` into place."""
        for file in self.to_publish(manifest_first):
            file.publish()
            self.published.append(file)

    def unpublish(self) -> None:
        """Take back what `publish` did; a file it replaced comes back."""
        for file in reversed(self.published):
            try:
                file.unpublish()
            except OSError as exc:
                logger.error("Could not take back %s: %s", file.path, exc.strerror or exc)
                continue
            self.published.remove(file)

    def settle(self) -> None:
        """The run is committed: the files replaced by this run's are gone for good."""
        for file in self.published:
            file.forget_previous()

    def remove_stale_previous(self) -> list[Path]:
        """Remove the links a run kept to the files it replaced at fixed names (`PartFile.publish`), left
        by a kill before `settle`: once a note of the run is dealt with (run/recovery.py), nothing needs them."""
        removed = []
        for file in (self.output, self.rejects, self.manifest_file):
            if file is not None:
                for stale in file.path.parent.glob(f"{glob.escape(file.path.name)}.*.part.previous"):
                    stale.unlink(missing_ok=True)
                    removed.append(stale)
        return removed

    def discard_unused(self) -> None:
        """A run that never got to crawl: close its part files and remove them if they are empty."""
        self.close()
        for file in (self.output, self.rejects):
            if file is not None and file.part.exists() and file.part.stat().st_size == 0:
                file.part.unlink()
        if self.archive is not None:
            self.archive.discard_unused()

    @property
    def rejects_published(self) -> bool:
        return self.rejects is not None and self.rejects in self.published
