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
from typing import Any
from urllib.parse import urlsplit

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro

from ..archive import WarcFile
from ..output import OutputError, item_line
from ..urls import SITE_HOST
from . import jobdir
from .config import ConfigError, RunConfig
from .ending import RunEnding
from .files import RunFiles
from .health import Coverage
from .ledger import Ledger
from .lock import LockHeldError, RunLock, acquire
from .outcome import (
    EXIT_BAD_INPUT,
    EXIT_LOCKED,
    RunStartError,
    new_identity,
)
from .recovery import recover
from .store import Removal, StateError, StateStore

logger = logging.getLogger("carnegie_crawler.run")


class RunOwner(RunEnding):
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
    def archive(self) -> WarcFile | None:
        """The run's WARC file (CARNEGIE_ARCHIVE), for the archive middleware; published with the output."""
        return self.files.archive if self.files is not None else None

    @property
    def mode(self) -> str:
        """full, incremental, filtered, or the spider's own (`reextract`)."""
        if (own := getattr(self.crawler.spidercls, "mode", None)) is not None:
            return str(own)
        return "incremental" if self.incremental else ("filtered" if self.filtered else "full")

    # -- start --------------------------------------------------------------------
    def _start(self, name: str) -> None:
        config = self.config
        # The state file and the job directory are each one run's at a time.
        for target in (config.state, config.jobdir):
            if target is not None:
                try:
                    self.locks.append(acquire(target, config.lock_timeout, the_file=target == config.state))
                except LockHeldError as exc:
                    raise RunStartError(str(exc), EXIT_LOCKED) from None
        found = jobdir.inspect(config.jobdir) if config.jobdir is not None else jobdir.Inspection()
        if found.warning:
            logger.warning(found.warning)
        if found.resume is not None and (different := jobdir.mismatch(found.resume, self.job())):
            raise RunStartError(
                f"JOBDIR {config.jobdir} holds a job paused by another command or settings ({different}): resume "
                "it with the same ones, or give this run another JOBDIR",
                EXIT_BAD_INPUT,
            )
        self.resumed = found.resume
        identity = self.resumed or new_identity(name)
        self.run_id, self.time, self.started_at = identity["run_id"], identity["time"], identity["started_at"]
        for lock in self.locks:
            lock.describe(run_id=self.run_id)
        if config.state is not None:
            self._open_state(found.abandoned_run)
            if self.resumed is not None:
                self._start_afresh_if_overtaken(name)
        values = {"name": name, "time": self.time, "run_id": self.run_id}
        fetches = getattr(self.crawler.spidercls, "fetches", True)
        self.files = RunFiles(config, values, self._token(), fetches=fetches)
        try:  # after the recovery, which may need them
            if stale := self.files.remove_stale_previous():
                logger.info("Removed %s, kept by an earlier run killed before it could", ", ".join(map(str, stale)))
        except OSError as exc:  # housekeeping: the run goes on
            logger.warning("Could not remove %s: %s", exc.filename, exc.strerror or exc)
        try:
            self.files.open(resume=self.resumed is not None)
        except OutputError as exc:
            raise RunStartError(str(exc), EXIT_BAD_INPUT) from None

    def _open_state(self, abandoned_run: str | None) -> None:
        assert self.config.state is not None
        try:
            self.store = StateStore(self.config.state)
            # First: a run cut short before its commit is finished or undone (run/recovery.py), before
            # its staged rows could be dropped as an abandoned job's.
            for line in recover(self.store):
                logger.warning("%s", line)
            if abandoned_run:
                self.store.drop_run(abandoned_run)
            dropped = self.store.discard_runs(keep=self.run_id if self.resumed else None)
            self.previous_run = self.store.last_run()
        except StateError as exc:
            raise RunStartError(str(exc), EXIT_LOCKED if exc.kind == "locked" else EXIT_BAD_INPUT) from None
        if dropped:
            logger.info("Discarded %d staged row(s) of earlier runs that did not finish healthy", dropped)
        self.ledger = Ledger(self.store, self.run_id, self.config.refresh_days)

    def _start_afresh_if_overtaken(self, name: str) -> None:
        """A paused job whose state another run has committed to since: its staged versions may be older than
        that run's, and committing them would take the documents back. It starts afresh instead."""
        assert self.store is not None
        assert self.config.jobdir is not None
        assert self.resumed is not None
        # Since the pause: the job's own start may have committed a run cut short before it (run/recovery.py).
        # Markers from before `paused_at`: its start, when no other run can commit while the job runs.
        try:
            later = self.store.committed_since(str(self.resumed.get("paused_at") or self.started_at))
        except StateError as exc:
            raise RunStartError(str(exc), EXIT_BAD_INPUT) from None
        if later is None:
            return
        logger.warning(
            "JOBDIR %s cannot be resumed: run %s committed to the state after run %s paused, and resuming would "
            "write older versions over newer ones; starting the job afresh",
            self.config.jobdir, later, self.run_id,
        )  # fmt: skip
        try:
            self.store.drop_run(self.run_id)
        except StateError as exc:
            raise RunStartError(str(exc), EXIT_BAD_INPUT) from None
        jobdir.reset(self.config.jobdir)
        self.resumed = None
        identity = new_identity(name)
        self.run_id, self.time, self.started_at = identity["run_id"], identity["time"], identity["started_at"]
        for lock in self.locks:
            lock.describe(run_id=self.run_id)
        self.ledger = Ledger(self.store, self.run_id, self.config.refresh_days)

    def spider_opened(self) -> None:
        stats = self.crawler.stats
        assert stats is not None
        self._warn_placeholder_contact()
        for key, value in (self.resumed or {}).get("counters", {}).items():
            stats.inc_value(key, value)  # a resumed run goes on counting where it paused
        for record in self.resumed_records():  # and its coverage covers every line it publishes
            self.coverage.add(ItemAdapter(record))
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


def owner_of(crawler: Crawler) -> RunOwner | None:
    """The crawl's run owner; None when it is switched off or the crawler has no extensions yet."""
    try:
        return crawler.get_extension(RunOwner)
    except RuntimeError:  # a bare Crawler (a component test): no extension manager
        return None
