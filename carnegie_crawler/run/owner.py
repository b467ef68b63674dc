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
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from itemadapter import ItemAdapter
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro

from ..output import JsonLinesFile, OutputError, _complete_lines, item_line
from ..urls import SITE_HOST
from . import jobdir
from .config import ConfigError, RunConfig, render
from .health import Coverage, Health, verdict
from .ledger import Ledger
from .lock import LockHeldError, RunLock, acquire
from .manifest import build_manifest, counts, summary, write_json
from .store import Removal, StateError, StateStore, now_utc

logger = logging.getLogger("carnegie_crawler.run")

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_LOCKED, EXIT_PAUSED = 0, 1, 2, 3, 4


class RunStartError(Exception):
    """The run cannot start; `code` is its exit status (2 bad input, 3 locked)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class RunOwner:
    def __init__(self, crawler: Crawler, config: RunConfig) -> None:
        self.crawler = crawler
        self.config = config
        self.max_cards_per_page = config.max_cards_per_page
        self.coverage = Coverage(list(config.stub_types))
        self.clock = time.monotonic()
        self.exit_code: int | None = None
        self.summary: str | None = None
        self.lock: RunLock | None = None
        self.store: StateStore | None = None
        self.ledger: Ledger | None = None
        self.previous_run: str | None = None
        self.output: JsonLinesFile | None = None
        self.rejects: JsonLinesFile | None = None
        self.manifest_path: Path | None = None
        self.resumed: dict[str, Any] | None = None
        self.failure: str | None = None  # why the run stopped early (output or state error)
        self.recorded = 0  # items written (or, without an output file, staged) by this process
        self.removed: list[Removal] = []  # documents this run found gone (docs/runs.md, "Removals")

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
            owner._release()
            raise
        crawler.signals.connect(owner.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(owner.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(owner.item_dropped, signal=signals.item_dropped)
        return owner

    @property
    def arguments(self) -> Any:
        """The spider's `SpiderArguments` (None for another spider); read late, as the spider may come after us."""
        return getattr(getattr(self.crawler, "spider", None), "arguments", None)

    @property
    def incremental(self) -> bool:
        """The `incremental` argument, else CARNEGIE_INCREMENTAL."""
        asked = getattr(self.arguments, "incremental", None)
        return self.config.incremental if asked is None else bool(asked)

    @property
    def filtered(self) -> bool:
        return bool(getattr(self.arguments, "filtered", False))

    # -- start --------------------------------------------------------------------
    def _start(self, name: str) -> None:
        config = self.config
        target = config.state or config.jobdir
        if target is not None:
            try:
                self.lock = acquire(target, config.lock_timeout)
            except LockHeldError as exc:
                raise RunStartError(str(exc), EXIT_LOCKED) from None
        if config.jobdir is not None:
            self.resumed, warning = jobdir.inspect(config.jobdir)
            if warning:
                logger.warning(warning)
        identity = self.resumed or _new_identity(name)
        self.run_id, self.time, self.started_at = identity["run_id"], identity["time"], identity["started_at"]
        if self.lock is not None:
            self.lock.describe(run_id=self.run_id)
        self._paths(name, identity["token"])
        if config.state is not None:
            try:
                self.store = StateStore(config.state)
                dropped = self.store.discard_runs(keep=self.run_id if self.resumed else None)
                self.previous_run = self.store.last_run()
            except StateError as exc:
                raise RunStartError(str(exc), EXIT_LOCKED if exc.kind == "locked" else EXIT_BAD_INPUT) from None
            if dropped:
                logger.info("Discarded %d staged row(s) of earlier runs that did not finish healthy", dropped)
            self.ledger = Ledger(self.store, self.run_id, config.refresh_days)
        if config.jobdir is not None:
            jobdir.write_marker(config.jobdir, {**identity, "status": "running", "pid": _pid()})

    def _paths(self, name: str, token: str) -> None:
        values = {"name": name, "time": self.time, "run_id": self.run_id}
        if self.config.output:
            path = render(self.config.output, **values)
            self.output = JsonLinesFile(path, path.with_name(f"{path.name}.{token}.part"))
        if self.config.rejects:
            path = render(self.config.rejects, **values)
            self.rejects = JsonLinesFile(path, path.with_name(f"{path.name}.{token}.part"))
        if self.config.manifest:
            self.manifest_path = render(self.config.manifest, **values)
        elif self.output is not None:
            self.manifest_path = self.output.path.with_name(
                self.output.path.name.removesuffix(".jsonl") + ".manifest.json"
            )

    def spider_opened(self) -> None:
        stats = self.crawler.stats
        assert stats is not None
        self._warn_placeholder_contact()
        for key, value in (self.resumed or {}).get("counters", {}).items():
            stats.inc_value(key, value)  # a resumed run goes on counting where it paused
        if self.output is not None:
            self.output.open(resume=self.resumed is not None)
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
            self._stop(exc)
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
            self._stop(exc)

    def resumed_records(self) -> list[dict[str, Any]]:
        """`url` and `language` of the items a paused run already wrote: they are not written again."""
        if not self.resumed or self.output is None or not self.output.part.exists():
            return []
        _complete_lines(self.output.part)
        with self.output.part.open("rb") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def item_dropped(self, item: Any, response: Any, exception: BaseException) -> None:
        if self.ledger is not None:
            self.ledger.forget_response(str(ItemAdapter(item).get("fetched_url")))

    def _stop(self, exc: BaseException) -> None:
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
            self._release()

    def _finish(self, reason: str) -> None:
        stats = self.crawler.stats
        assert stats is not None
        for file in (self.output, self.rejects):
            if file is not None:
                file.close()
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
            if self.removed:
                logger.info("%d document(s) removed from the site: listed in the manifest", len(self.removed))
        else:
            self._keep_unpublished(reason, health)
        if self.config.jobdir is not None:
            jobdir.reset(self.config.jobdir)  # the job is over: the next run starts afresh

    @property
    def written(self) -> int:
        return self.output.lines if self.output is not None else self.recorded

    def _publish(self, reason: str, health: Health) -> None:
        done: list[str] = []
        try:
            for file in (self.output, self.rejects):
                if file is not None and (file is self.output or file.part.exists()):
                    file.publish()
                    done.append("output" if file is self.output else "rejects")
            if self.store is not None:
                self.removed = self.store.find_removals(self.run_id)
            self._write_manifest(reason, health, published=True)
            done.append("manifest")
            if self.store is not None:
                count = self.store.commit_run(
                    self.run_id, self.started_at, self._output_name(), self.written, removed=self.removed
                )
                self._set_stat("carnegie/state/documents_committed", count)
                logger.info("Committed %d document(s) to state %s", count, self.store.path)
        except Exception as exc:
            self._undo(done, reason, health)
            raise FinishingError(f"{exc}", done) from exc
        self.exit_code = EXIT_OK
        where = (
            f"Output: {self.output.path}" if self.output is not None else "No output file (CARNEGIE_OUTPUT is empty)"
        )
        self.summary = summary("Run finished: healthy", self._items(), self._seconds(), where)

    def _keep_unpublished(self, reason: str, health: Health) -> None:
        self.exit_code = EXIT_FAILED
        manifest = "manifest written"
        try:
            self._write_manifest(reason, health, published=False)
        except Exception as exc:
            manifest = f"manifest not written ({exc})"
        kept = f"kept in {self.output.part}" if self.output is not None else "no output file"
        verdict_text = "Run failed: " + "; ".join(health.reasons)
        self.summary = summary(verdict_text, self._items(), self._seconds(), f"Not published ({kept}); {manifest}.")

    def _undo(self, done: list[str], reason: str, health: Health) -> None:
        """Take back what an end sequence that failed halfway had published."""
        for file, step in ((self.output, "output"), (self.rejects, "rejects")):
            if file is not None and step in done:
                try:
                    file.unpublish()
                except OSError as exc:
                    logger.error("Could not take back the published %s %s: %s", step, file.path, exc)
        if "manifest" in done:
            try:
                self._write_manifest(reason, health, published=False)
            except Exception:
                if self.manifest_path is not None:
                    self.manifest_path.unlink(missing_ok=True)

    def _finishing_failed(self, exc: Exception) -> None:
        self.exit_code = EXIT_FAILED
        cause = exc.__cause__ or exc
        output = f"kept in {self.output.part}" if self.output is not None and self.output.part.exists() else "none"
        logger.debug("End of run failed", exc_info=exc)
        self.summary = summary(
            f"Run failed: the end of the run broke ({type(cause).__name__}: {cause})",
            self._items(), self._seconds(),
            f"Nothing published (output {output}), state not committed.",
        )  # fmt: skip

    def _pause(self, stats: dict[str, Any]) -> None:
        if self.store is not None:
            self.store.flush()
        kept = {k: v for k, v in stats.items() if k.startswith("carnegie/") and isinstance(v, int)}
        marker = {"run_id": self.run_id, "time": self.time, "started_at": self.started_at}
        marker |= {"token": self._token(), "status": "paused", "pid": _pid(), "counters": kept}
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
        self._set_stat("carnegie/manifest/path", str(self.manifest_path))

    def _release(self) -> None:
        if self.store is not None:
            try:
                self.store.close()
            except StateError as exc:
                logger.error("%s", exc)
            self.store = None
        if self.lock is not None:
            self.lock.release()
            self.lock = None

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

    def _stat(self, key: str) -> Any:
        return self.crawler.stats.get_value(key, 0) if self.crawler.stats is not None else 0

    def _set_stat(self, key: str, value: Any) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.set_value(key, value)


def owner_of(crawler: Crawler) -> RunOwner | None:
    """The crawl's run owner; None when it is switched off or the crawler has no extensions yet."""
    try:
        return crawler.get_extension(RunOwner)
    except RuntimeError:  # a bare Crawler (a component test): no extension manager
        return None


class FinishingError(Exception):
    """A step of the end sequence failed; the steps in `done` were undone."""

    def __init__(self, message: str, done: list[str]) -> None:
        super().__init__(message)
        self.done = done


def _new_identity(name: str) -> dict[str, str]:
    """A run id unique even for two runs started in the same second: time plus random bits."""
    now = datetime.now(UTC)
    token = secrets.token_hex(3)
    stamp = now.strftime("%Y-%m-%dT%H-%M-%S")
    return {"run_id": f"{name}-{stamp}-{token}", "time": stamp, "started_at": now_utc(), "token": token}


def _pid() -> int:
    return os.getpid()
