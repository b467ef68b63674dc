"""The end of a run, in order (docs/runs.md, "The end of a run"): close the files, judge the run, then
publish, write the manifest and commit the state (undoing the earlier steps if a later one fails), or
keep everything unpublished; pause a JOBDIR run; fold a healthy run into the dataset.

`RunEnding` is the part of `owner.RunOwner` that runs once the spider closes; the attributes it reads
are the owner's, declared here for the type checker.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import Spider
from scrapy.crawler import Crawler

from . import jobdir, recovery
from .config import RunConfig
from .files import RunFiles
from .health import Coverage, Health, verdict
from .manifest import build_manifest, counts, summary, write_json
from .outcome import EXIT_DATASET, EXIT_FAILED, EXIT_OK, EXIT_PAUSED
from .store import Removal, StateError, StateStore, now_utc

if TYPE_CHECKING:
    from ..archive import WarcFile
    from ..output import JsonLinesFile

logger = logging.getLogger("carnegie_crawler.run")


class RunEnding:
    crawler: Crawler
    config: RunConfig
    coverage: Coverage
    clock: float
    exit_code: int | None
    summary: str | None
    store: StateStore | None
    files: RunFiles | None
    run_id: str
    time: str
    started_at: str
    recorded: int
    removed: list[Removal]
    committed: bool
    manifest_written: bool
    previous_run: str | None

    @property
    def output(self) -> JsonLinesFile | None:
        return self.files.output if self.files is not None else None

    @property
    def rejects(self) -> JsonLinesFile | None:
        return self.files.rejects if self.files is not None else None

    @property
    def manifest_path(self) -> Path | None:
        return self.files.manifest if self.files is not None else None

    @property
    def incremental(self) -> bool:
        raise NotImplementedError

    @property
    def filtered(self) -> bool:
        raise NotImplementedError

    # The owner's, for the manifest (manifest.RunFacts).
    @property
    def arguments(self) -> Any:
        raise NotImplementedError

    @property
    def mode(self) -> str:
        raise NotImplementedError

    @property
    def archive(self) -> WarcFile | None:
        raise NotImplementedError

    def _release(self, started: bool = True) -> None:
        raise NotImplementedError

    def spider_closed(self, spider: Spider, reason: str) -> None:
        try:
            self._finish(reason)
        except Exception as exc:  # whatever broke, the run gets a verdict and says what is committed
            self._finishing_failed(exc)
        finally:
            self._release(started=True)

    def engine_stopped(self) -> None:
        if self.exit_code is None:  # the spider never closed: the crawl failed to start
            self._release(started=False)

    def _finish(self, reason: str) -> None:
        stats = self.crawler.stats
        assert stats is not None
        assert self.files is not None
        self.files.close()
        if reason == "shutdown" and self.config.jobdir is not None:
            self._pause(stats.get_stats())
            return
        health = verdict(
            reason, stats.get_stats(), self.coverage, self.config,
            written=self.written, incremental=self.incremental, filtered=self.filtered,
        )  # fmt: skip
        stats.set_value("carnegie/health/ok", health.ok)
        stats.set_value("carnegie/health/reasons", health.reasons)
        if health.ok:
            self._publish(reason, health)
        else:
            self._keep_unpublished(reason, health)
        if self.config.jobdir is not None:
            try:
                jobdir.reset(self.config.jobdir)  # the job is over: the next run starts afresh
            except OSError as exc:  # the run's verdict stands; only the next run's start is affected
                logger.error("Could not clear JOBDIR %s: %s", self.config.jobdir, exc.strerror or exc)

    @property
    def written(self) -> int:
        return self.output.lines if self.output is not None else self.recorded

    def _publish(self, reason: str, health: Health) -> None:
        assert self.files is not None
        try:
            if self.store is not None:  # so that a run killed before its commit is finished or undone
                files = self.files.to_publish()
                if self.files.manifest_file is not None and self.files.manifest_file not in files:
                    files.insert(0, self.files.manifest_file)  # written next, published first
                pending = [(file.part, file.path) for file in files]
                recovery.begin(self.store, recovery.Pending(
                    self.run_id, self.started_at, self._output_name(), self.written, self.manifest_path,
                    tuple(pending),
                ))  # fmt: skip
            if self.store is not None:
                self.removed = self.store.find_removals(self.run_id)
            self._write_manifest(reason, health, published=True)
            self.files.publish(manifest_first=self.store is not None)  # run/files.py says why
            if self.store is not None:
                count = self.store.commit_run(
                    self.run_id, self.started_at, self._output_name(), self.written, removed=self.removed
                )
                self._set_stat("carnegie/state/documents_committed", count)
                logger.info("Committed %d document(s) to state %s", count, self.store.path)
            self.committed = True
        except Exception:
            self._undo(reason, health)
            raise
        self.files.settle()
        if self.removed:
            logger.info("%d document(s) removed from the site: listed in the manifest", len(self.removed))
        where = f"Output: {self.output.path}" if self.output is not None else "No output file (CARNEGIE_OUTPUT empty)"
        if (problem := self._update_dataset()) is None:
            self.exit_code = EXIT_OK
            self.summary = summary("Run finished: healthy", self._items(), self._seconds(), where)
        else:
            self.exit_code = EXIT_DATASET
            verdict_text = f"Run finished: healthy, published and committed, but the dataset is behind ({problem})"
            self.summary = summary(verdict_text, self._items(), self._seconds(), f"{where}. Run `scrapy dataset`.")

    def _update_dataset(self) -> str | None:
        """Fold this run, and any published run the dataset has missed, into CARNEGIE_DATASET.

        The run is already published and committed: a failure here leaves the dataset one or
        more runs behind, which `scrapy dataset` catches up. None when done or off.
        """
        settings = self.crawler.settings
        if "CARNEGIE_DATASET" in settings and not settings.get("CARNEGIE_DATASET"):
            return None  # off: checked before the import, which loads pyarrow (0.15-0.18 s at every run's end)
        if self.store is None or self.output is None:
            return None  # no state or no output file: nothing to fold
        # Imported here: pyarrow takes a noticeable part of a second to load, and only this step needs it.
        from ..dataset import DatasetError, discover_runs, update_dataset
        from ..dataset.config import DatasetConfig

        try:
            config = DatasetConfig.from_settings(settings)
        except DatasetError as exc:  # refused at start-up by the crawl commands; a run started otherwise says so
            logger.error("Dataset not updated: %s", exc)
            return str(exc)
        if config is None:
            return None
        try:
            runs = discover_runs(config.manifest_dirs, config.state, config.pattern)
            logger.info("%s", update_dataset(config.directory, runs).line())
        except Exception as exc:  # any failure: the run's own output and state stay true (exit 5)
            unexpected = not isinstance(exc, (DatasetError, OSError))  # a file error is one line, no traceback
            logger.error("Dataset %s not updated: %s", config.directory, exc, exc_info=unexpected)
            return str(exc)
        return None

    def _keep_unpublished(self, reason: str, health: Health) -> None:
        self.exit_code = EXIT_FAILED
        if self.store is not None:
            try:
                self.store.drop_run(self.run_id)
            except StateError as exc:  # the next run drops them at its start
                logger.error("%s", exc)
        manifest, beside = ("manifest written" if self.manifest_path is not None else "no manifest"), None
        if self.manifest_path is not None and self.manifest_path.exists() and self.files is not None:
            # A fixed name holding an earlier run's manifest: it vouches for the output still there.
            beside = self.files.manifest_file.part if self.files.manifest_file is not None else None
            manifest = f"manifest written to {beside}, beside the earlier one"
        try:
            self._write_manifest(reason, health, published=False, path=beside)
        except Exception as exc:
            manifest = f"manifest not written ({exc})"
        kept = f"kept in {self.output.part}" if self.output is not None else "no output file"
        verdict_text = "Run failed: " + "; ".join(health.reasons)
        self.summary = summary(verdict_text, self._items(), self._seconds(), f"Not published ({kept}); {manifest}.")

    def _undo(self, reason: str, health: Health) -> None:
        """Take back what an end sequence that failed before its commit had published."""
        assert self.files is not None
        self.files.unpublish()
        self.removed = []
        part = self.files.manifest_file.part if self.files.manifest_file is not None else None
        if part is not None:
            part.unlink(missing_ok=True)
        if self.manifest_written:
            # At the manifest's path, unless `unpublish` just put an earlier run's manifest back there
            # (fixed names): it vouches for the output that came back, so this one goes beside it.
            target = part if part is not None and self.manifest_path and self.manifest_path.exists() else None
            try:
                self._write_manifest(reason, health, published=False, path=target)
            except Exception:  # written atomically: nothing of it is left
                self.manifest_written = False
        if self.store is not None and not self.files.published:  # else the next run takes back the rest
            try:
                recovery.end(self.store, self.run_id)
            except StateError as exc:  # the next run on the state takes it back again, which changes nothing
                logger.error("%s", exc)

    def _finishing_failed(self, exc: Exception) -> None:
        """The end of the run broke: one line saying exactly what took effect."""
        self.exit_code = EXIT_FAILED
        logger.debug("End of run failed", exc_info=exc)
        published = [str(f.path) for f in self.files.published] if self.files is not None else []
        kept = [str(f.part) for f in (self.output, self.rejects) if f is not None and f.part.exists()]
        state = "state committed" if self.committed else "state not committed"
        parts = [f"published: {', '.join(published)}" if published else "nothing published"]
        parts += [f"lines kept in {', '.join(kept)}"] if kept else []
        parts += [state, "manifest written" if self.manifest_written else "no manifest"]
        what = f"Run failed: the end of the run broke ({type(exc).__name__}: {exc})"
        self.summary = summary(what, self._items(), self._seconds(), _sentence("; ".join(parts)))

    def _pause(self, stats: dict[str, Any]) -> None:
        if self.store is not None:
            self.store.pause_run(self.run_id)
        kept = {k: v for k, v in stats.items() if k.startswith("carnegie/") and isinstance(v, int)}
        marker: dict[str, Any] = {"run_id": self.run_id, "time": self.time, "started_at": self.started_at}
        marker |= {"token": self._token(), "status": "paused", "pid": os.getpid(), "counters": kept, "job": self.job()}
        marker["paused_at"] = now_utc()  # a commit after it is another run's (run/owner.py)
        assert self.config.jobdir is not None
        jobdir.write_marker(self.config.jobdir, marker)
        self.exit_code = EXIT_PAUSED
        where = f"Lines so far in {self.output.part}" if self.output is not None else "No output file"
        self.summary = summary(
            "Run paused: run again with the same JOBDIR to resume", self._items(), self._seconds(), where
        )

    def _write_manifest(self, reason: str, health: Health, published: bool, path: Path | None = None) -> None:
        if self.manifest_path is None:
            return
        stats = self.crawler.stats
        assert stats is not None
        manifest = build_manifest(self, reason, health, published, stats.get_stats())
        # Published: to its part file, which `RunFiles.publish` renames into place before the output.
        part = self.files.manifest_file.part if published and self.files and self.files.manifest_file else None
        write_json(path or part or self.manifest_path, manifest)
        self.manifest_written = True
        self._set_stat("carnegie/manifest/path", str(self.manifest_path))

    def job(self) -> dict[str, Any]:
        """What a paused job must be resumed with: the same spider, arguments and files (`jobdir.mismatch`)."""
        config = self.config
        given = getattr(self.arguments, "given", None)
        # scrapyd's own (_job, _version) change at every schedule; paths as files, whatever names reach them.
        arguments = {k: v for k, v in given.items() if not k.startswith("_")} if given is not None else None
        return {
            "spider": self.crawler.spidercls.name, "arguments": arguments,
            **{name: os.path.abspath(path) if path else path for name, path in
               (("output", config.output), ("rejects", config.rejects), ("manifest", config.manifest))},
            "state": str(config.state.resolve()) if config.state is not None else None,
        }  # fmt: skip

    # -- small helpers ------------------------------------------------------------------
    def _items(self) -> dict[str, int]:
        stats = self.crawler.stats.get_stats() if self.crawler.stats is not None else {}
        items: dict[str, int] = counts(stats, self.written)["items"]
        return items

    def _seconds(self) -> float:
        return time.monotonic() - self.clock

    def _output_name(self) -> str:
        return str(self.output.path) if self.output is not None else ""

    def _token(self) -> str:
        return self.run_id.rsplit("-", 1)[-1]

    def _set_stat(self, key: str, value: Any) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.set_value(key, value)


def _sentence(text: str) -> str:
    """*text* with its first letter upper case (paths in it keep theirs, unlike str.capitalize) and a full stop."""
    return text[:1].upper() + text[1:] + "."
