"""Close a run in one ordered step: publish the output, commit the state, write the manifest.

The state is committed only after the output file is in place, so a document
counts as seen only once its item is durably written. The health verdict
decides the exit status of `scrapy crawl` (see `commands/crawl.py`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy import Spider, signals
from scrapy.crawler import Crawler

from ..items import SCHEMA_VERSION
from ..output import run_time
from ..pipelines.writer import JsonLinesWriterPipeline
from .health import Coverage, verdict
from .state import CrawlState

logger = logging.getLogger(__name__)


class RunFinalizer:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.coverage = Coverage(crawler.settings.getlist("CARNEGIE_STUB_TYPES"))
        self.started_at = datetime.now(UTC)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunFinalizer:
        ext = cls(crawler)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def item_scraped(self, item: Any) -> None:
        self.coverage.add(ItemAdapter(item))

    def spider_closed(self, spider: Spider, reason: str) -> None:
        stats = self.crawler.stats
        assert stats is not None
        paused = reason == "shutdown" and bool(self.crawler.settings.get("JOBDIR"))
        writer = self.crawler.get_item_pipeline(JsonLinesWriterPipeline)
        state = self.crawler.get_extension(CrawlState)
        output: Path | None = None
        if paused:
            if state is not None:
                state.store.flush()
            logger.info("Paused: output and state stay staged in JOBDIR until the run is resumed")
        else:
            output = writer.publish() if writer is not None else None
            if state is not None:
                # Without our writer (feeds only) nothing says the items are durable unless the crawl finished.
                durable = output is not None if writer is not None else reason == "finished"
                self._commit_state(state, output, durable)
        if state is not None:
            state.store.close()
        health = verdict(self.crawler, reason, self.coverage)
        stats.set_value("carnegie/health/ok", health.ok)
        stats.set_value("carnegie/health/reasons", health.reasons)
        if not paused:
            self._write_manifest(spider, reason, output, health.to_dict())

    def _commit_state(self, state: CrawlState, output: Path | None, output_ok: bool) -> None:
        stats = self.crawler.stats
        assert stats is not None
        if not output_ok:
            logger.error("State not committed: the output was not written, so nothing counts as seen")
            return
        emitted = int(stats.get_value("carnegie/output/items", 0))
        count = state.store.commit_run(state.run["run_id"], state.run["started_at"], str(output or ""), emitted)
        stats.set_value("carnegie/state/documents_committed", count)
        logger.info("Committed %d document(s) to state %s", count, state.store.path)

    def _write_manifest(self, spider: Spider, reason: str, output: Path | None, health: dict[str, Any]) -> None:
        stats = self.crawler.stats
        assert stats is not None
        path = self._manifest_path(output)
        if path is None:
            return
        state = self.crawler.get_extension(CrawlState)
        manifest = {
            "run_id": state.run["run_id"] if state else f"{spider.name}-{run_time(self.crawler)}",
            "spider": spider.name,
            "started_at": _iso(stats.get_value("start_time")) or _iso(self.started_at),
            "finished_at": _iso(datetime.now(UTC)),
            "finish_reason": reason,
            "arguments": getattr(spider, "arguments", {}),
            "counts": _counts(stats.get_stats()),
            "field_coverage": self.coverage.shares(),
            "output": _describe_output(output),
            "schema_version": SCHEMA_VERSION,
            "health": health,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        tmp.replace(path)
        stats.set_value("carnegie/manifest/path", str(path))
        logger.info("Wrote run manifest to %s", path)

    def _manifest_path(self, output: Path | None) -> Path | None:
        configured = self.crawler.settings.get("CARNEGIE_MANIFEST")
        if configured:
            return Path(configured % {"time": run_time(self.crawler), "name": self.crawler.spidercls.name})
        if output is not None:
            return output.with_name(output.name.removesuffix(".jsonl") + ".manifest.json")
        return None


def _iso(value: Any) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, datetime) else None


def _counts(stats: dict[str, Any]) -> dict[str, Any]:
    def get(key: str) -> int:
        return int(stats.get(key, 0) or 0)

    return {
        "requests": get("downloader/request_count"),
        "responses_by_status": {
            key.rsplit("/", 1)[1]: value
            for key, value in sorted(stats.items())
            if key.startswith("downloader/response_status_count/")
        },
        "items": {
            "written": get("carnegie/output/items"),
            "new": get("carnegie/items/new"),
            "updated": get("carnegie/items/updated"),
            "unchanged": get("carnegie/items/unchanged"),
            "duplicate": get("carnegie/dedupe/dropped"),
            "invalid": get("carnegie/validation/dropped"),
            "before_since": get("carnegie/items/before_since"),
            "skipped_type": get("carnegie/items/skipped_type"),
        },
        "start_pages": {"fetched": get("carnegie/start_pages/fetched"), "failed": get("carnegie/start_pages/failed")},
        "skipped_fresh": get("carnegie/incremental/skipped_fresh"),
        "errors": {k.rsplit("/", 1)[1]: v for k, v in sorted(stats.items()) if k.startswith("carnegie/errors/")},
    }


def _describe_output(path: Path | None) -> dict[str, Any] | None:
    if path is None or not path.exists():
        return None
    digest = hashlib.sha256()
    lines = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
            lines += chunk.count(b"\n")
    return {"path": str(path), "lines": lines, "sha256": digest.hexdigest()}
