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

from .config import NOT_COVERAGE, RunConfig

# Thresholds on these fields apply to every item; the others skip stub types (docs/site.md, "Stubs").
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
            if name not in NOT_COVERAGE and _filled(value):
                self.filled[name] += 1
                self.filled_non_stub[name] += not stub

    def shares(self) -> dict[str, float]:
        """Share of written items with each field filled."""
        if not self.total:
            return {}
        return {name: round(self.filled[name] / self.total, 4) for name in sorted(self.filled)}

    def share(self, name: str, min_sample: int = 1) -> float | None:
        """The share a threshold is checked against; None when fewer than *min_sample* items count."""
        if name in _ALL_TYPES:
            counted, filled = self.total, self.filled[name]
        else:
            counted, filled = self.non_stub, self.filled_non_stub[name]
        return filled / counted if counted and counted >= min_sample else None


@dataclass
class Health:
    ok: bool
    reasons: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "reasons": self.reasons}


def verdict(
    finish_reason: str,
    stats: dict[str, Any],
    coverage: Coverage,
    config: RunConfig,
    *,
    written: int,
    incremental: bool,
    filtered: bool,
) -> Health:
    """The run's health from its finish reason, its counters and the coverage of what it wrote.

    *written* counts every line of the output, a resumed JOBDIR run's earlier ones too.
    Empty output is a failure only for a full, unfiltered run: an incremental run on an
    unchanged site, or a `types`/`since` filter that matched nothing, writes nothing by design.
    """
    reasons: list[str] = []
    if finish_reason != "finished":
        reasons.append(f"the crawl did not finish normally (finish reason: {finish_reason})")
    if not stats.get("carnegie/start_pages/fetched"):
        reasons.append("no start page was fetched")
    if errors := int(stats.get("spider_exceptions/count", 0)):
        reasons.append(f"{errors} page(s) raised an error in the spider, so their items or cards may be missing")
    if not incremental and not filtered and not written:
        reasons.append("the run produced no items")
    checked = int(stats.get("carnegie/validation/checked", 0))
    invalid = int(stats.get("carnegie/validation/dropped", 0))
    if checked and invalid / checked > config.max_invalid_ratio:
        ratio = config.max_invalid_ratio
        reasons.append(f"{invalid} of {checked} items were invalid ({invalid / checked:.0%} > {ratio:.0%})")
    # A share of a handful of items says nothing about the extractor (one update to a page
    # without an author is 0 % authors), so coverage is judged from a minimum sample on.
    for name, minimum in sorted(config.min_coverage.items()):
        share = coverage.share(name, min_sample=config.coverage_min_items)
        if share is not None and share < minimum:
            reasons.append(f"field '{name}' is filled in {share:.0%} of items, below {minimum:.0%}")
    if reason := _undated_under_since(stats, config):
        reasons.append(reason)
    return Health(ok=not reasons, reasons=reasons)


def _undated_under_since(stats: dict[str, Any], config: RunConfig) -> str | None:
    """A `since` run drops the pages whose date it cannot read, so their coverage never counts: judged here."""
    judged, undated = int(stats.get("carnegie/items/since_judged", 0)), int(stats.get("carnegie/items/undated", 0))
    minimum = config.min_coverage.get("published_date")
    if minimum is None or judged < max(config.coverage_min_items, 1) or (judged - undated) / judged >= minimum:
        return None
    dated = f"{1 - undated / judged:.0%} dated, below {minimum:.0%}"
    return f"{undated} of {judged} pages had no date for the since filter to judge ({dated})"
