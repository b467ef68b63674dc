"""Give the spider and pipelines access to the cross-run state of one run."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from ..output import run_time
from ..state import Known, StateStore, is_fresh, now_utc

logger = logging.getLogger(__name__)
_RUN_KEY = "carnegie_run"


class CrawlState:
    """Opens CARNEGIE_STATE; stages what the run sees. `RunFinalizer` commits it."""

    def __init__(self, crawler: Crawler, store: StateStore) -> None:
        self.crawler = crawler
        self.store = store
        self.refresh_days = crawler.settings.getfloat("CARNEGIE_REFRESH_DAYS")
        self._validators: dict[str, tuple[str | None, str | None]] = {}
        self._aliases: dict[str, list[str]] = {}
        self._run: dict[str, str] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlState:
        path = crawler.settings.get("CARNEGIE_STATE")
        if not path:
            raise NotConfigured("CARNEGIE_STATE is empty")
        store = StateStore(Path(path))
        ext = cls(crawler, store)
        crawler.signals.connect(ext.item_dropped, signal=signals.item_dropped)
        return ext

    @property
    def run(self) -> dict[str, str]:
        """Run id and start time; a resumed JOBDIR run keeps the ones it started with."""
        if self._run is None:
            state = getattr(self.crawler.spider, "state", None)
            saved = state.get(_RUN_KEY) if isinstance(state, dict) else None
            self._run = saved or {
                "run_id": f"{self.crawler.spidercls.name}-{run_time(self.crawler)}",
                "started_at": now_utc(),
            }
            if isinstance(state, dict):
                state[_RUN_KEY] = self._run
        return self._run

    # -- what the spider asks ---------------------------------------------------
    def lookup_url(self, url: str) -> Known | None:
        return self.store.lookup_url(url)

    def is_fresh(self, known: Known) -> bool:
        return is_fresh(known.last_seen, self.refresh_days)

    def is_fresh_dead_end(self, url: str) -> bool:
        seen = self.store.dead_end_seen(url)
        return seen is not None and is_fresh(seen, self.refresh_days)

    def remember_aliases(self, fetched_url: str, redirected_from: list[str]) -> None:
        """Old addresses that redirected here count as this document's URLs too."""
        if redirected_from:
            self._aliases[fetched_url] = redirected_from

    def stage_dead_end(self, url: str, reason: str) -> None:
        """A 404 or a non-HTML card target: not asked for again until refresh days pass."""
        self.store.stage_dead_end(self.run["run_id"], url, reason)

    def remember_validators(self, fetched_url: str, etag: str | None, last_modified: str | None) -> None:
        if etag or last_modified:
            self._validators[fetched_url] = (etag, last_modified)

    def stage_unchanged(self, known: Known, fetched_url: str) -> None:
        """A 304: the document is as we last saw it."""
        self.store.stage(
            self.run["run_id"], url=known.url, language=known.language, fetched_url=fetched_url,
            content_hash=known.content_hash, published_date=None, emitted=False,
            etag=known.etag, last_modified=known.last_modified, links=known.links,
        )  # fmt: skip

    # -- what the pipelines tell ------------------------------------------------
    def lookup_document(self, url: str, language: str | None) -> Known | None:
        return self.store.lookup_document(url, language)

    def stage_item(self, item: Any, emitted: bool) -> None:
        adapter = ItemAdapter(item)
        fetched = adapter["fetched_url"]
        etag, last_modified = self._validators.pop(fetched, (None, None))
        links = [*adapter["related"]["recent_work"], *adapter["related"]["more_work"]]
        for url in (fetched, *self._aliases.pop(fetched, [])):
            self.store.stage(
                self.run["run_id"], url=adapter["url"], language=adapter.get("language"), fetched_url=url,
                content_hash=adapter["content_hash"], published_date=adapter.get("published_date"),
                emitted=emitted and url == fetched, etag=etag, last_modified=last_modified, links=links,
            )  # fmt: skip

    def item_dropped(self, item: Any, response: Any, exception: BaseException) -> None:
        fetched = str(ItemAdapter(item).get("fetched_url"))
        self._validators.pop(fetched, None)
        self._aliases.pop(fetched, None)
