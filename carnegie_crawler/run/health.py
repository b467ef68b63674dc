"""Is this run's output fit to load? Field coverage and the health verdict.

A site redesign rarely crashes a crawler: it quietly empties fields. So a run
is unhealthy when fields fall below their usual coverage, as well as when it
did not finish, fetched no start page, produced nothing or rejected too much.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler

# Fields whose coverage says nothing about extraction quality.
_NOT_COVERAGE = frozenset({"crawled_at", "content_hash", "schema_version", "fetched_url", "crawl_status"})
# Thresholds on these fields apply to every item; the others skip stub types (SITE.md: stubs).
_ALL_TYPES = frozenset({"title", "url", "language", "content_type"})


def _filled(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_filled(v) for v in value.values())
    return value not in (None, "", [], 0)


@dataclass
class Coverage:
    stub_types: list[str]
    total: int = 0
    non_stub: int = 0
    filled: Counter[str] = field(default_factory=Counter)
    filled_non_stub: Counter[str] = field(default_factory=Counter)

    def add(self, item: ItemAdapter) -> None:
        self.total += 1
        stub = item.get("content_type") in self.stub_types
        self.non_stub += not stub
        for name, value in item.items():
            if name not in _NOT_COVERAGE and _filled(value):
                self.filled[name] += 1
                self.filled_non_stub[name] += not stub

    def shares(self) -> dict[str, float]:
        """Share of written items with each field filled."""
        if not self.total:
            return {}
        return {name: round(self.filled[name] / self.total, 4) for name in sorted(self.filled)}

    def share(self, name: str) -> float | None:
        """The share a threshold is checked against; None when no item counts."""
        if name in _ALL_TYPES:
            return self.filled[name] / self.total if self.total else None
        return self.filled_non_stub[name] / self.non_stub if self.non_stub else None


@dataclass
class Health:
    ok: bool
    reasons: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "reasons": self.reasons}


def verdict(crawler: Crawler, finish_reason: str, coverage: Coverage) -> Health:
    settings = crawler.settings
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    reasons: list[str] = []
    if finish_reason != "finished":
        reasons.append(f"the crawl did not finish normally (finish reason: {finish_reason})")
    job = getattr(crawler.spider, "state", None)
    earlier_starts = job.get("carnegie_start_pages_fetched", 0) if isinstance(job, dict) else 0
    if not stats.get("carnegie/start_pages/fetched") and not earlier_starts:
        reasons.append("no start page was fetched")
    incremental = bool(getattr(crawler.spider, "incremental", False))
    # A resumed JOBDIR run counts the lines its earlier part wrote too.
    if not incremental and not stats.get("item_scraped_count") and not stats.get("carnegie/output/lines"):
        reasons.append("the run produced no items")
    checked = int(stats.get("carnegie/validation/checked", 0))
    invalid = int(stats.get("carnegie/validation/dropped", 0))
    max_invalid = settings.getfloat("CARNEGIE_MAX_INVALID_RATIO")
    if checked and invalid / checked > max_invalid:
        reasons.append(f"{invalid} of {checked} items were invalid ({invalid / checked:.0%} > {max_invalid:.0%})")
    for name, minimum in sorted(settings.getdict("CARNEGIE_MIN_COVERAGE").items()):
        share = coverage.share(name)
        if share is not None and share < float(minimum):
            reasons.append(f"field '{name}' is filled in {share:.0%} of items, below {float(minimum):.0%}")
    return Health(ok=not reasons, reasons=reasons)
