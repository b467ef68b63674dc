"""What one run reads from and stages into the cross-run state (`store.StateStore`).

The run's owner opens the store, and commits or discards what is staged here at
the end; the spider and the pipelines only ask and stage, through this object.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from itemadapter import ItemAdapter

from .store import Known, StateStore, is_fresh


class Ledger:
    def __init__(self, store: StateStore, run_id: str, refresh_days: float) -> None:
        self.store = store
        self.run_id = run_id
        self.refresh_days = refresh_days
        self._validators: dict[str, tuple[str | None, str | None]] = {}
        self._aliases: dict[str, list[str]] = {}
        self._fetched_at: dict[str, str] = {}

    # -- what the spider asks ---------------------------------------------------
    def lookup_url(self, url: str) -> Known | None:
        return self.store.lookup_url(url)

    def is_fresh(self, known: Known) -> bool:
        return is_fresh(known.last_seen, self.refresh_days)

    def is_fresh_dead_end(self, url: str) -> bool:
        seen = self.store.dead_end_seen(url)
        return seen is not None and is_fresh(seen, self.refresh_days)

    def remember_response(
        self,
        fetched_url: str,
        etag: str | None,
        last_modified: str | None,
        redirected_from: list[str],
        fetched_at: datetime | None = None,
    ) -> None:
        """Validators for the next conditional request; old addresses that redirected here; when the response
        was fetched, if not now (a re-extraction's archived response: re-reading it is no visit to the site,
        so it must not make the page look freshly seen to the next incremental crawl)."""
        if etag or last_modified:
            self._validators[fetched_url] = (etag, last_modified)
        if redirected_from:
            self._aliases[fetched_url] = redirected_from
        if fetched_at is not None:
            self._fetched_at[fetched_url] = fetched_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def forget_response(self, fetched_url: str) -> None:
        """The page's item was dropped (invalid, a duplicate): nothing of it is staged."""
        self._validators.pop(fetched_url, None)
        self._aliases.pop(fetched_url, None)
        self._fetched_at.pop(fetched_url, None)

    def stage_dead_end(self, url: str, reason: str) -> None:
        """A 404 or a non-HTML card target: not asked for again until refresh days pass."""
        self.store.stage_dead_end(self.run_id, url, reason)

    def stage_unchanged(self, known: Known, fetched_url: str) -> None:
        """A 304: the document is as we last saw it."""
        self.store.stage(
            self.run_id, url=known.url, language=known.language, fetched_url=fetched_url,
            content_hash=known.content_hash, published_date=None, emitted=False,
            etag=known.etag, last_modified=known.last_modified, links=known.links,
        )  # fmt: skip

    # -- what the pipelines ask and tell ------------------------------------------
    def lookup_document(self, url: str, language: str | None) -> Known | None:
        return self.store.lookup_document(url, language)

    def stage_item(self, item: Any, emitted: bool) -> None:
        adapter = ItemAdapter(item)
        fetched = adapter["fetched_url"]
        etag, last_modified = self._validators.pop(fetched, (None, None))
        seen_at = self._fetched_at.pop(fetched, None)
        links = [*adapter["related"]["recent_work"], *adapter["related"]["more_work"]]
        for url in (fetched, *self._aliases.pop(fetched, [])):
            self.store.stage(
                self.run_id, url=adapter["url"], language=adapter.get("language"), fetched_url=url,
                content_hash=adapter["content_hash"], published_date=adapter.get("published_date"),
                emitted=emitted and url == fetched, etag=etag, last_modified=last_modified, links=links,
                seen_at=seen_at,
            )  # fmt: skip
