"""`RunOwner`: the one object that owns a run from start to exit.

It holds the run's id, the lock on the state file, the paths, the output and
rejects files, the state transaction (`Ledger`), the manifest and the exit code.
The spider and the pipelines talk to it through a small interface: `ledger`,
`incremental`, `max_cards_per_page`, `write`, `reject`, `resumed_records`.

At the end (docs/runs.md): a healthy run publishes its output, writes its
manifest and then commits its state, the commit being the last and atomic step;
if any step fails, the earlier ones are undone. An unhealthy run publishes and
commits nothing: its lines stay in the part file the manifest names.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from itemadapter import ItemAdapter
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro

from ..archive import WarcFile
from ..output import JsonLinesFile, OutputError, item_line
from ..urls import SITE_HOST
from . import jobdir
from .config import ConfigError, RunConfig
from .files import RunFiles
from .health import Coverage, Health, verdict
from .ledger import Ledger
from .lock import LockHeldError, RunLock, acquire
from .manifest import build_manifest, counts, summary, write_json
from .outcome import (
    EXIT_BAD_INPUT,
    EXIT_DATASET,
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_PAUSED,
    RunStartError,
    new_identity,
)
from .store import Removal, StateError, StateStore

logger = logging.getLogger("carnegie_crawler.run")


class RunOwner:
    def __init__(self, crawler: Crawler, config: RunConfig) -> None:
        self.crawler = crawler
        self.config = config
        self.max_cards_per_page = config.max_cards_per_page
        self.coverage = Coverage(list(config.stub_types))
        self.clock = time.monotonic()
        self.exit_code: int | None = None
        self.summary: str | None = None
        self.locks: list[RunLock] = []
        self.store: StateStore | None = None
        self.ledger: Ledger | None = None
        self.previous_run: str | None = None
        self.files: RunFiles | None = None
        self.resumed: dict[str, Any] | None = None
        self.failure: str | None = None  # why the run stopped early (output or state error)
        self.recorded = 0  # items written (or, without an output file, staged) by this process
        self.removed: list[Removal] = []  # documents this run found gone (docs/runs.md, "Removals")
        self.committed = False
        self.manifest_written = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunOwner:
        try:
            config = RunConfig.from_settings(crawler.settings)
        except ConfigError as exc:
            raise RunStartError(str(exc), EXIT_BAD_INPUT) from None
        owner = cls(crawler, config)
        try:
            owner._start(crawler.spidercls.name)
        except BaseException:
            owner._release(started=False)
            raise
        crawler.signals.connect(owner.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(owner.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(owner.item_dropped, signal=signals.item_dropped)
        # If the engine stops without closing the spider (a start-up failure), still let go of everything.
        crawler.signals.connect(owner.engine_stopped, signal=signals.engine_stopped)
        return owner

    # The public view, read late: the spider may be created after us (scrapy.utils.test.get_crawler).
    @property
    def arguments(self) -> Any:
        """The spider's `SpiderArguments` (None for another spider)."""
        return getattr(getattr(self.crawler, "spider", None), "arguments", None)

    @property
    def incremental(self) -> bool:
        """The `incremental` argument, else CARNEGIE_INCREMENTAL."""
        asked = getattr(self.arguments, "incremental", None)
        return self.config.incremental if asked is None else bool(asked)

    @property
    def filtered(self) -> bool:
        return bool(getattr(self.arguments, "filtered", False))

    @property
    def output(self) -> JsonLinesFile | None:
        return self.files.output if self.files is not None else None

    @property
    def rejects(self) -> JsonLinesFile | None:
        return self.files.rejects if self.files is not None else None

    @property
    def archive(self) -> WarcFile | None:
        """The run's WARC file (CARNEGIE_ARCHIVE), for the archive middleware; published with the output."""
        return self.files.archive if self.files is not None else None

    @property
    def mode(self) -> str:
        """full, incremental, filtered, or the spider's own (`reextract`)."""
        if (own := getattr(self.crawler.spidercls, "mode", None)) is not None:
            return str(own)
        return "incremental" if self.incremental else ("filtered" if self.filtered else "full")

    @property
    def manifest_path(self) -> Path | None:
        return self.files.manifest if self.files is not None else None

    # -- start --------------------------------------------------------------------
    def _start(self, name: str) -> None:
        config = self.config
        # The state file and the job directory are each one run's at a time.
        for target in (config.state, config.jobdir):
            if target is not None:
                try:
                    self.locks.append(acquire(target, config.lock_timeout))
                except LockHeldError as exc:
                    raise RunStartError(str(exc), EXIT_LOCKED) from None
        found = jobdir.inspect(config.jobdir) if config.jobdir is not None else jobdir.Inspection()
        if found.warning:
            logger.warning(found.warning)
        self.resumed = found.resume
        identity = self.resumed or new_identity(name)
        self.run_id, self.time, self.started_at = identity["run_id"], identity["time"], identity["started_at"]
        for lock in self.locks:
            lock.describe(run_id=self.run_id)
        if config.state is not None:
            self._open_state(found.abandoned_run)
        values = {"name": name, "time": self.time, "run_id": self.run_id}
        fetches = getattr(self.crawler.spidercls, "fetches", True)
        self.files = RunFiles(config, values, identity["token"], fetches=fetches)
        try:
            self.files.open(resume=self.resumed is not None)
        except OutputError as exc:
            raise RunStartError(str(exc), EXIT_BAD_INPUT) from None

    def _open_state(self, abandoned_run: str | None) -> None:
        assert self.config.state is not None
        try:
            self.store = StateStore(self.config.state)
            if abandoned_run:
                self.store.drop_run(abandoned_run)
            dropped = self.store.discard_runs(keep=self.run_id if self.resumed else None)
            self.previous_run = self.store.last_run()
        except StateError as exc:
            raise RunStartError(str(exc), EXIT_LOCKED if exc.kind == "locked" else EXIT_BAD_INPUT) from None
        if dropped:
            logger.info("Discarded %d staged row(s) of earlier runs that did not finish healthy", dropped)
        self.ledger = Ledger(self.store, self.run_id, self.config.refresh_days)

    def spider_opened(self) -> None:
        stats = self.crawler.stats
        assert stats is not None
        self._warn_placeholder_contact()
        for key, value in (self.resumed or {}).get("counters", {}).items():
            stats.inc_value(key, value)  # a resumed run goes on counting where it paused
        if self.config.jobdir is not None:
            # Only now: a run that fails before it crawls leaves a paused job resumable.
            marker = {"run_id": self.run_id, "time": self.time, "started_at": self.started_at, "token": self._token()}
            jobdir.write_marker(self.config.jobdir, marker | {"status": "running", "pid": os.getpid()})
        if self.output is not None:
            verb = "Resuming" if self.resumed else "Writing"
            logger.info("%s items in %s (run %s)", verb, self.output.part, self.run_id)

    def _warn_placeholder_contact(self) -> None:
        """The live site should know who is crawling it: the shipped USER_AGENT names example.org."""
        pages = getattr(self.arguments, "start_pages", ())
        on_site = any(urlsplit(url).hostname in (SITE_HOST, f"www.{SITE_HOST}") for url in pages)
        if on_site and "example.org" in str(self.crawler.settings.get("USER_AGENT")):
            logger.warning(
                "USER_AGENT still names the placeholder contact (example.org): set your own before crawling %s",
                SITE_HOST,
            )

    # -- what the pipelines tell ------------------------------------------------------
    def write(self, item: Any) -> bool:
        """Write *item*'s line and stage it in the state; False if the run can no longer write."""
        if self.failure is not None:
            return False
        try:
            if self.output is not None:
                self.output.write_line(item_line(item))
            if self.ledger is not None:
                self.ledger.stage_item(item, emitted=True)
        except (OSError, StateError) as exc:
            self.stop(exc)
            return False
        self.coverage.add(ItemAdapter(item))
        self.recorded += 1
        return True

    def reject(self, record: dict[str, Any]) -> None:
        """Keep an invalid item, with its errors, in the rejects file."""
        if self.rejects is None or self.failure is not None:
            return
        try:
            if not self.rejects.is_open:
                self.rejects.open(resume=self.resumed is not None)
            self.rejects.write(record)
        except (OSError, OutputError) as exc:
            self.stop(exc)

    def resumed_records(self) -> list[dict[str, Any]]:
        """`url` and `language` of the items a paused run already wrote: they are not written again."""
        if not self.resumed or self.output is None or not self.output.part.exists():
            return []
        with self.output.part.open("rb") as fh:
            return [json.loads(line) for line in fh if line.endswith(b"\n")]

    def item_dropped(self, item: Any, response: Any, exception: BaseException) -> None:
        if self.ledger is not None:
            self.ledger.forget_response(str(ItemAdapter(item).get("fetched_url")))

    def stop(self, exc: BaseException) -> None:
        """A write failed (disk full, say): stop rather than carry on with a hole in the output."""
        self.failure = str(getattr(exc, "strerror", None) or exc)
        logger.error("Cannot record items any more: %s; stopping the crawl", self.failure)
        stats = self.crawler.stats
        assert stats is not None
        assert self.crawler.engine is not None
        stats.set_value("carnegie/output/error", self.failure)
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="output_error"))

    # -- end ------------------------------------------------------------------------
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
            self.files.publish()
            if self.store is not None:
                self.removed = self.store.find_removals(self.run_id)
            self._write_manifest(reason, health, published=True)
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
        # Imported here: pyarrow takes a noticeable part of a second to load, and only this step needs it.
        from ..dataset import DatasetError, discover_runs, update_dataset
        from ..dataset.config import DatasetConfig

        try:
            config = DatasetConfig.from_settings(self.crawler.settings)
        except DatasetError as exc:  # no state or no output file: there is nothing to fold
            logger.info("Dataset not updated: %s", exc)
            return None
        if config is None:
            return None
        try:
            runs = discover_runs(config.manifest_dirs, config.state, config.pattern)
            logger.info("%s", update_dataset(config.directory, runs).line())
        except (DatasetError, OSError) as exc:
            logger.error("Dataset %s not updated: %s", config.directory, exc)
            return str(exc)
        return None

    def _keep_unpublished(self, reason: str, health: Health) -> None:
        self.exit_code = EXIT_FAILED
        if self.store is not None:
            try:
                self.store.drop_run(self.run_id)
            except StateError as exc:  # the next run drops them at its start
                logger.error("%s", exc)
        manifest = "manifest written"
        try:
            self._write_manifest(reason, health, published=False)
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
        if self.manifest_written:
            try:
                self._write_manifest(reason, health, published=False)
            except Exception:
                if self.manifest_path is not None:
                    self.manifest_path.unlink(missing_ok=True)
                self.manifest_written = False

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
        self.summary = summary(what, self._items(), self._seconds(), "; ".join(parts).capitalize() + ".")

    def _pause(self, stats: dict[str, Any]) -> None:
        if self.store is not None:
            self.store.pause_run(self.run_id)
        kept = {k: v for k, v in stats.items() if k.startswith("carnegie/") and isinstance(v, int)}
        marker = {"run_id": self.run_id, "time": self.time, "started_at": self.started_at}
        marker |= {"token": self._token(), "status": "paused", "pid": os.getpid(), "counters": kept}
        assert self.config.jobdir is not None
        jobdir.write_marker(self.config.jobdir, marker)
        self.exit_code = EXIT_PAUSED
        where = f"Lines so far in {self.output.part}" if self.output is not None else "No output file"
        self.summary = summary(
            "Run paused: run again with the same JOBDIR to resume", self._items(), self._seconds(), where
        )

    def _write_manifest(self, reason: str, health: Health, published: bool) -> None:
        if self.manifest_path is None:
            return
        stats = self.crawler.stats
        assert stats is not None
        manifest = build_manifest(self, reason, health, published, stats.get_stats())
        write_json(self.manifest_path, manifest)
        self.manifest_written = True
        self._set_stat("carnegie/manifest/path", str(self.manifest_path))

    def _release(self, started: bool = True) -> None:
        """Close the state and the files and let go of the locks, whatever happened before."""
        if self.files is not None:
            try:
                self.files.close() if started else self.files.discard_unused()
            except OSError as exc:
                logger.error("Could not close the run's files: %s", exc.strerror or exc)
        if self.store is not None:
            try:
                self.store.close()
            except StateError as exc:
                logger.error("%s", exc)
            self.store = None
        while self.locks:
            self.locks.pop().release()

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


def owner_of(crawler: Crawler) -> RunOwner | None:
    """The crawl's run owner; None when it is switched off or the crawler has no extensions yet."""
    try:
        return crawler.get_extension(RunOwner)
    except RuntimeError:  # a bare Crawler (a component test): no extension manager
        return None
