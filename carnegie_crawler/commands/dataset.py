"""`scrapy dataset`: bring the dataset (CARNEGIE_DATASET) up to date with the published runs, or rebuild it.

Exit statuses: 0 done (or already up to date), 1 the build failed while writing (the dataset
is left as it was), 2 bad input (a setting, a manifest, a run whose output does not match its
manifest; the dataset off), 3 another process is building the dataset.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import TYPE_CHECKING, TextIO

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from scrapy.utils.log import configure_logging

if TYPE_CHECKING:
    from ..dataset.config import DatasetConfig

logger = logging.getLogger("carnegie_crawler.dataset")

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_LOCKED = 0, 1, 2, 3
_PHASES = {"index": "Reading runs", "write": "Writing documents"}


class TerminalProgress:
    """One status line on a terminal, redrawn in place (`\\r`) at most ten times a second."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = 0.0
        self.width = 0

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.shown < 0.1 and done < total:
            return
        self.shown = now
        share = done / total if total else 1.0
        bar = "#" * int(share * 30)
        amount = f"{done / 1e6:,.0f}/{total / 1e6:,.0f} MB" if phase == "index" else f"{done:,}/{total:,}"
        line = f"{_PHASES.get(phase, phase)} [{bar:<30}] {share:4.0%} {amount}"
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = len(line)

    def close(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


class LogProgress:
    """An INFO line every *interval* seconds, for logs and pipes (none for a build shorter than that)."""

    def __init__(self, interval: float = 5.0) -> None:
        self.interval = interval
        self.shown = time.monotonic()

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.shown >= self.interval:
            self.shown = now
            logger.info("%s: %.0f%%", _PHASES.get(phase, phase), 100 * done / total if total else 100)

    def close(self) -> None:
        pass


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "[--rebuild]"

    def short_desc(self) -> str:
        return "Bring the dataset (CARNEGIE_DATASET) up to date with the published runs"

    def long_desc(self) -> str:
        return (
            "Apply the published runs of CARNEGIE_STATE (their manifests beside CARNEGIE_OUTPUT, or in the "
            "directory of CARNEGIE_MANIFEST) that the dataset in CARNEGIE_DATASET has not applied yet. "
            "With --rebuild, build it from the run outputs alone and swap it in. "
            "Exit status: 0 done, 1 failed while writing, 2 bad input or the dataset off, 3 locked."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--rebuild", action="store_true", help="build the dataset from the run outputs alone, then swap it in"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        if args:
            raise UsageError(f"unexpected argument(s): {' '.join(args)}")
        configure_logging(self.settings)
        # Imported here, not at the top: Scrapy imports every command to list them, and the crawl
        # commands must not need pyarrow.
        try:
            from ..dataset import DatasetError
            from ..dataset.config import DatasetConfig
        except ImportError as exc:
            self.exitcode = _fail(f"the dataset cannot be built here: {exc}", EXIT_BAD_INPUT)
            return
        try:
            config = DatasetConfig.from_settings(self.settings)
        except DatasetError as exc:
            self.exitcode = _fail(exc, EXIT_BAD_INPUT)
            return
        if config is None:
            self.exitcode = _fail("the dataset is off (CARNEGIE_DATASET is empty)", EXIT_BAD_INPUT)
            return
        progress = TerminalProgress(sys.stderr) if sys.stderr.isatty() else LogProgress()
        try:
            self.exitcode = self._build(config, opts.rebuild, progress)
        finally:
            progress.close()

    def _build(self, config: DatasetConfig, rebuild: bool, progress: TerminalProgress | LogProgress) -> int:
        from ..dataset import (
            DatasetError,
            DatasetLockedError,
            SchemaChangedError,
            discover_runs,
            rebuild_dataset,
            update_dataset,
        )
        from ..dataset.config import applied_run_ids
        from ..dataset.runs import last_run, unfound_last_run

        try:
            # Not verified here: the build checks each run it reads (sha256, lines) on the way.
            last = last_run(config.state)  # first: a run committed meanwhile is not taken for one missing
            runs = discover_runs(config.manifest_dirs, config.state, config.pattern, verify=False)
            dirs = ", ".join(map(str, config.manifest_dirs))
            # The manifests name the state, so runs found need no state file; none found and no state
            # file is a mistyped CARNEGIE_STATE, not "up to date" (a rebuild over a dataset says so itself).
            over_a_dataset = rebuild and (config.directory / "datapackage.json").exists()
            if not runs and not config.state.exists() and not over_a_dataset:
                missing = f"the state file {config.state} does not exist (no run of it in {dirs})"
                return _fail(missing, EXIT_BAD_INPUT)
            if not runs and not rebuild:  # a rebuild from nothing over a dataset is refused in one line
                logger.warning("No published run of state %s found in %s", config.state, dirs)
            # Every published run found: a missing last one leaves no gap in their chain, but the state knows it.
            known = {run.run_id for run in runs} | (set() if rebuild else applied_run_ids(config.directory) or set())
            if problem := unfound_last_run(config.state, last, known):
                logger.warning("%s", problem)
            if rebuild:
                summary = rebuild_dataset(config.directory, runs, progress=progress)
            else:
                try:
                    summary = update_dataset(config.directory, runs, allow_gaps=True, progress=progress)
                except SchemaChangedError as exc:
                    logger.warning("%s; rebuilding it", exc)
                    summary = rebuild_dataset(config.directory, runs, progress=progress)
        except DatasetLockedError as exc:
            return _fail(exc, EXIT_LOCKED)
        except DatasetError as exc:
            return _fail(exc, EXIT_BAD_INPUT)
        except OSError as exc:
            return _fail(f"building {config.directory} failed: {exc}", EXIT_FAILED)
        progress.close()
        print(summary.line())
        return EXIT_OK


def _fail(problem: object, code: int) -> int:
    print(f"Error: {problem}", file=sys.stderr)
    return code
