"""The item the spider yields: one publication page.

`schemas/publication.schema.json` describes the same record; a test keeps
the two in step (tests/unit/test_schema.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TypedDict

SCHEMA_VERSION = "2.1.0"


class Author(TypedDict):
    name: str
    url: str | None
    role: str | None


class Image(TypedDict):
    url: str
    credit: str | None


class ArchiveRef(TypedDict):
    file: str
    record_id: str


class Related(TypedDict):
    recent_work: list[str]
    more_work: list[str]


def _empty_related() -> Related:
    return {"recent_work": [], "more_work": []}


@dataclass
class Publication:
    url: str
    fetched_url: str
    language: str | None = None
    content_type: str | None = None
    title: str | None = None
    subtitle: str | None = None
    blog: str | None = None
    authors: list[Author] = field(default_factory=list)
    published_date: str | None = None
    source: str | None = None
    image: Image | None = None
    primary_center: str | None = None
    centers: list[str] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    body: str | None = None
    word_count: int = 0
    related: Related = field(default_factory=_empty_related)
    crawl_status: str | None = None
    crawled_at: str = ""
    content_hash: str = ""
    schema_version: str = SCHEMA_VERSION
    # The run that wrote the record (lineage); stamped by the spider from its run's owner.
    run_id: str = ""
    # Where the page is archived (provenance), stamped by the spider when the run keeps an archive.
    archive: ArchiveRef | None = None


# Fields that describe when and how we fetched, not what the document says.
# `related` is left out too: "More Work" lists the latest work at request time,
# so it changes while the document itself does not.
_VOLATILE = frozenset(
    {"fetched_url", "crawled_at", "content_hash", "related", "schema_version", "crawl_status", "run_id", "archive"}
)


def compute_content_hash(item: Publication) -> str:
    """sha256 over the document's own content, stable across fetches of an unchanged page."""
    content = {k: v for k, v in vars(item).items() if k not in _VOLATILE}
    blob = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
