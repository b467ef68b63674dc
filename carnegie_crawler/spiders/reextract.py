"""The `reextract` spider: today's extraction over archived pages, without a single request.

It reads the WARC files a crawl archived (`carnegie_crawler.archive`), takes the latest
response of each URL (of chosen files or a date range: only where it is the newest), and extracts every
publication page the way the crawl did (same response, same extractor, so the same item),
yielding the items straight from `start()`. They go through every pipeline, so the run is a
run like any other: JSON Lines, rejects, manifest, `crawl_status` against the state.

Extraction is CPU-bound: a pool of worker processes (`archive.extract.BatchPool`: the standard
library's, forked from a fork server) takes the pages in small batches (`archive.batches`), reading
them from the archive itself, one process per core by default; `workers=1` extracts in this
process. Items leave in the archive's order (so a duplicate is dropped as the crawl dropped it).
A page that fails to extract is counted (`carnegie/reextract/failed`) and logged, never fatal.

This process runs Scrapy's item path and every pipeline, so it does nothing else it need not: the
workers' fork server imports while Scrapy opens the run, the pool starts while the index is read,
and Scrapy's components for fetching (a run that fetches nothing never uses them) are not loaded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from dataclasses import fields
from functools import cached_property
from typing import Any

import scrapy
from scrapy import signals
from scrapy.exceptions import CloseSpider
from scrapy.settings import BaseSettings

from ..archive.batches import Batch, Batches, skip_reason
from ..archive.extract import BatchPool, Extracted, Failed, Outcome, Skipped
from ..archive.reader import ArchivedResponse, ArchiveError, archive_files
from ..archive.selection import Selection, choose
from ..items import Publication
from ..run.owner import RunOwner, owner_of
from .arguments import SpiderArgumentError
from .reextract_arguments import (
    ReextractArguments,
    archive_directory,
    parse_arguments,
    resolve_archives,
)

# Scrapy's components for fetching, dropped (a spider that fetches nothing): Scrapy imports every component
# it is given, a disabled one included, and these import aiohttp (remote control), TLS (the HTTP handlers,
# through the retry middleware too) and tldextract (cookies). Measured on the benchmark box, a 40-page
# re-extraction took 1.34 s with them and 1.07 s without (medians of 6). Without a handler, no request can
# be made at all. Spider middlewares only pass items through: none of Scrapy's own is left either.
_NOT_FETCHING = {
    "EXTENSIONS_BASE": ("scrapy.extensions.remote_control.RemoteControl", "scrapy.extensions.telnet.TelnetConsole"),
    "DOWNLOADER_MIDDLEWARES_BASE": None,  # None: all of them
    "DOWNLOAD_HANDLERS_BASE": None,
    "SPIDER_MIDDLEWARES_BASE": None,
}
_HAS_ARCHIVE_FIELD = "archive" in {f.name for f in fields(Publication)}


class ReextractSpider(scrapy.Spider):
    name = "reextract"
    # The run manifest's mode; the run's owner keeps no archive for a spider that fetches nothing.
    mode = "reextract"
    fetches = False
    # The crawl's extraction workers would only sit idle: this spider runs its own pool.
    custom_settings: dict[Any, Any] | None = {"CARNEGIE_EXTRACT_WORKERS": 0}  # noqa: RUF012 - Scrapy reads it

    def __init__(self, **kwargs: Any) -> None:
        # Not passed on: scrapy.Spider would set every argument as an attribute, typos included.
        super().__init__()
        self.arguments = parse_arguments(kwargs)
        # One process: extract here. More: a pool of that many worker processes (this one runs the pipelines).
        self.pool: BatchPool | None = BatchPool(self.arguments.workers if self.arguments.workers > 1 else 0)
        # Its fork server starts now: it imports what the workers need (0.35 s) on another core while Scrapy
        # opens the run and the index is read.
        self.pool.prepare()

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        for name, dropped in _NOT_FETCHING.items():
            kept = {} if dropped is None else {k: v for k, v in settings.getdict(name).items() if k not in dropped}
            settings.set(name, kept, priority="spider")

    @staticmethod
    def check_arguments(**given: Any) -> ReextractArguments:
        """Validate the spider arguments; raises SpiderArgumentError with a one-line reason."""
        return parse_arguments(given)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ReextractSpider:
        spider: ReextractSpider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.spider_closed, signal=signals.spider_closed)
        return spider

    @cached_property
    def run(self) -> RunOwner | None:
        return owner_of(self.crawler)

    async def start(self) -> AsyncIterator[Any]:
        pool = self.pool
        assert pool is not None
        batches = Batches(pool)
        try:
            try:
                paths = resolve_archives(self.arguments, self.settings)
                # Named files: the other published archives are indexed too, for each URL's newest response.
                others = archive_files(archive_directory(self.settings)) if self.arguments.archives is not None else []
                # In a thread, so the reactor keeps turning (log stats, signals); and submitted before the pool
                # starts, which waits for the fork server's imports (0.3 s into a 0.4 s index read, on the
                # benchmark box): both go on at once.
                index = asyncio.get_running_loop().run_in_executor(
                    None, choose, paths, self.arguments.since, self.arguments.until, others
                )
                pool.start()
                selection: Selection = await index
            except (SpiderArgumentError, ArchiveError) as exc:
                self.logger.error("%s", exc)
                raise CloseSpider("archive_error") from None
            self._count(selection)
            async with aclosing(batches.outcomes(self._wanted(selection.entries, batches.size))) as done:
                async for batch, outcomes in done:
                    for item in self._items(batch, outcomes):
                        yield item
        finally:  # also when the spider closes early: what is still in flight is not waited for
            batches.cancel()
            await self._close_pool()

    def _count(self, selection: Selection) -> None:
        stats = self.crawler.stats
        assert stats is not None
        for key, value in selection.counts.items():
            stats.set_value(f"carnegie/reextract/{key}", value)
        # The run's health asks for a fetched start page: here, an archive that gave a response (one damaged from
        # its first byte, said in an ERROR line, is none: a run of nothing but such files is no healthy empty run).
        stats.set_value("carnegie/start_pages/fetched", len(selection.files) - len(selection.unreadable))
        self.logger.info(
            "Re-extracting from %d archive(s): %d response(s), %d in range, the latest of %d URL(s); %s",
            len(selection.files), selection.responses, selection.in_range, len(selection.entries),
            f"{self.arguments.workers} processes" if self.arguments.workers > 1 else "in this process",
        )  # fmt: skip

    def _wanted(self, entries: list[ArchivedResponse], size: int) -> Iterator[Batch]:
        """The publication pages' successful responses, in batches; anything else is counted and left."""
        stats = self.crawler.stats
        assert stats is not None
        batch: Batch = []
        for entry in entries:
            if (reason := skip_reason(entry)) is not None:
                stats.inc_value(f"carnegie/reextract/skipped/{reason}")
                continue
            batch.append(entry)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _items(self, batch: Batch, outcomes: list[Outcome]) -> list[Publication]:
        """The batch's items, stamped as the crawl stamps them; a page that failed is counted and logged."""
        stats = self.crawler.stats
        assert stats is not None
        items = []
        for entry, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Failed):
                self._failed(entry, outcome.error)
            elif isinstance(outcome, Skipped):
                stats.inc_value(f"carnegie/reextract/skipped/{outcome.reason}")
            else:
                items.append(self._stamped(entry, outcome))
        return items

    def _stamped(self, entry: ArchivedResponse, page: Extracted) -> Publication:
        stats = self.crawler.stats
        assert stats is not None
        item = page.item
        stats.inc_value("carnegie/reextract/pages")
        if page.truncated:
            stats.inc_value("carnegie/pages/truncated")
            self.logger.warning("Truncated response from %s: extracting what arrived", entry.url)
        for key in page.wrong_typed:  # logged by the extractor, once per page
            stats.inc_value(f"carnegie/extraction/wrong_typed/{key}")
        stats.inc_value(f"carnegie/items/type/{item.content_type or 'unknown'}")
        run = self.run
        if run is not None:
            item.run_id = run.run_id  # lineage: every record names the run that wrote it
            if run.ledger is not None:  # the validators the next incremental crawl sends
                run.ledger.remember_response(entry.url, page.etag, page.last_modified, [], fetched_at=entry.date)
        if _HAS_ARCHIVE_FIELD:
            item.archive = entry.provenance  # type: ignore[assignment]  # a plain dict for the TypedDict
        return item

    def _failed(self, entry: ArchivedResponse, error: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("carnegie/reextract/failed")
        self.logger.warning(
            "Re-extraction of %s failed (%s, record %s): %s", entry.url, entry.file, entry.record_id, error
        )

    async def _close_pool(self) -> None:
        pool, self.pool = self.pool, None
        if pool is None:
            return
        await pool.close()
        stats = self.crawler.stats
        if stats is not None:
            stats.set_value("carnegie/extraction/in_workers", pool.in_workers)
            stats.set_value("carnegie/extraction/in_process", pool.in_process)
            if pool.size:  # what the workers spent (a fork server's workers are not this process's children)
                stats.set_value("carnegie/reextract/worker_cpu_seconds", round(pool.worker_cpu, 3))
            if pool.crashes:
                stats.set_value("carnegie/extraction/worker_crashes", pool.crashes)

    async def spider_closed(self) -> None:
        await self._close_pool()
