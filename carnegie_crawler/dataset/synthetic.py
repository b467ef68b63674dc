"""Synthetic runs (JSON Lines output plus manifest, as a healthy run publishes them), for tests and the benchmark.

Records follow the publication schema as loaded now: a field the schema gains (such as
`run_id`) is filled when this module knows it, so the data keeps up with the schema.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from .schema import json_schema

SITE = "https://carnegieendowment.org"
TYPES = ("commentary", "legacyinthemedia", "pressRelease", "event", "qa", "research")
LANGUAGES = ("en", "en", "en", "en", "ru", "ar", "zh", None)
_WORDS = (
    "security",
    "policy",
    "nuclear",
    "Russia",
    "Ukraine",
    "China",
    "trade",
    "sanctions",
    "diplomacy",
    "Türkiye",
    "governance",
    "reform",
    "election",
    "energy",
    "climate",
    "Gulf",
    "Iran",
    "India",
    "democracy",
    "alliance",
    "treaty",
    "deterrence",
    "economy",
    "migration",
    "technology",
    "—",
    "strategy",
    "regional",
    "conflict",
    "ceasefire",
    "negotiations",
    "parliament",
    "budget",
    "growth",
    "inflation",
    "coalition",
)
_LABELS = (
    "Security",
    "Economy",
    "Democracy",
    "Foreign Policy",
    "Energy",
    "Climate",
    "Technology",
    "Nuclear Policy",
    "Middle East",
    "Russia",
    "China",
    "South Asia",
    "Europe",
    "Africa",
    "Türkiye",
    "Trade",
    "Gulf States",
)
_CENTERS = (
    "Carnegie Endowment for International Peace",
    "Carnegie Russia Eurasia Center",
    "Malcolm H. Kerr Carnegie Middle East Center",
)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Corpus:
    """Deterministic record maker: one seed, the same records."""

    seed: int = 0
    rng: random.Random = field(init=False)
    paragraphs: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        rng = self.rng
        self.paragraphs = [
            " ".join(rng.choice(_WORDS) for _ in range(rng.randint(60, 220))).capitalize() + "." for _ in range(400)
        ]

    def body(self, low: int = 4000, high: int = 12000) -> str:
        target = self.rng.randint(low, high)
        parts: list[str] = []
        size = 0
        while size < target:
            paragraph = self.rng.choice(self.paragraphs)
            parts.append(paragraph)
            size += len(paragraph.encode("utf-8")) + 2
        return "\n\n".join(parts)

    def record(self, number: int, crawled_at: str, run_id: str, content_type: str | None = None) -> dict[str, Any]:
        """Document *number*, fully filled in; what a run writes apart from `crawl_status` and the hash."""
        rng = self.rng
        kind = content_type or rng.choice(TYPES)
        language = LANGUAGES[number % len(LANGUAGES)]
        url = f"{SITE}/posts/{2000 + number % 26}/{number % 12 + 1:02d}/doc-{number:06d}"
        body = self.body()
        authors = [
            {
                "name": f"Author {rng.randint(1, 900)}",
                "url": f"{SITE}/people/a-{rng.randint(1, 900)}" if rng.random() < 0.8 else None,
                "role": rng.choice([None, "Senior Fellow", "Director"]),
            }
            for _ in range(rng.randint(1, 3))
        ]
        year, day = 2000 + number % 26, rng.randint(0, 364)
        values: dict[str, Any] = {
            "url": url + (f"?lang={language}" if language else ""),
            "fetched_url": url + (f"?lang={language}" if language else ""),
            "language": language,
            "content_type": kind,
            "title": f"Document {number}: {rng.choice(_WORDS)} and {rng.choice(_WORDS)}",
            "subtitle": rng.choice([None, "A closer look at " + rng.choice(_WORDS)]),
            "blog": rng.choice([None, None, "Diwan", "Carnegie Politika"]),
            "authors": authors,
            "published_date": (datetime(year, 1, 1) + timedelta(days=day)).strftime("%Y-%m-%d")
            if rng.random() < 0.95
            else None,
            "source": "Foreign Affairs" if kind == "legacyinthemedia" else None,
            "image": {"url": f"{SITE}/images/{number}.jpg", "credit": rng.choice([None, "Getty"])}
            if rng.random() < 0.7
            else None,
            "primary_center": rng.choice(_CENTERS),
            "centers": rng.sample(_CENTERS, rng.randint(1, 2)),
            "programs": rng.sample(_LABELS, rng.randint(0, 2)),
            "projects": rng.sample(_LABELS, rng.randint(0, 1)),
            "collections": [],
            "regions": rng.sample(_LABELS, rng.randint(0, 3)),
            "topics": rng.sample(_LABELS, rng.randint(1, 4)),
            "body": body,
            "word_count": len(body.split()),
            "related": {
                "recent_work": [f"{SITE}/posts/r/{rng.randint(1, 99999)}" for _ in range(rng.randint(0, 3))],
                "more_work": [f"{SITE}/posts/m/{rng.randint(1, 99999)}" for _ in range(rng.randint(0, 4))],
            },
            "crawl_status": "new",
            "crawled_at": crawled_at,
            "content_hash": "",
            "schema_version": "",
            "run_id": run_id,
        }
        return conform(values)


def stub(
    url: str, language: str | None, run_id: str, crawled_at: str, status: str = "new", **fields: Any
) -> dict[str, Any]:
    """A small hand-made record: a press release with nothing but a title, unless *fields* say more."""
    values: dict[str, Any] = {
        "url": url,
        "fetched_url": url,
        "language": language,
        "content_type": "pressRelease",
        "title": f"Title of {url.rsplit('/', 1)[-1]}",
        "authors": [],
        "centers": [],
        "programs": [],
        "projects": [],
        "collections": [],
        "regions": [],
        "topics": [],
        "word_count": 0,
        "related": {"recent_work": [], "more_work": []},
        "crawl_status": status,
        "crawled_at": crawled_at,
        "run_id": run_id,
        **fields,
    }
    return conform(values)


def conform(values: dict[str, Any]) -> dict[str, Any]:
    """*values* shaped to the schema as loaded now: its properties in order, the version, a hash."""
    properties = _properties()
    record = {name: values.get(name) for name in properties}
    if "run_id" not in record and "run_id" in values:  # before the schema has it (2.0.0)
        record["run_id"] = values["run_id"]
    record["schema_version"] = properties.get("schema_version", {}).get("const", values.get("schema_version"))
    if not record.get("content_hash"):
        content = {k: v for k, v in record.items() if k not in ("crawled_at", "crawl_status", "run_id", "fetched_url")}
        record["content_hash"] = hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return record


@cache
def _properties() -> dict[str, Any]:
    return dict(json_schema()["properties"])


def write_run(
    directory: Path,
    run_id: str,
    records: Iterable[dict[str, Any]],
    *,
    state: Path,
    started_at: str,
    finished_at: str,
    previous_run_id: str | None = None,
    mode: str = "full",
    removed: Iterable[dict[str, Any]] = (),
    published: bool = True,
) -> Path:
    """Write `<run_id>.jsonl` and `<run_id>.manifest.json` into *directory*; the manifest's path."""
    directory.mkdir(parents=True, exist_ok=True)
    output = directory / f"{run_id}.jsonl"
    digest = hashlib.sha256()
    lines = 0
    with open(output, "wb") as fh:
        for chunk in _chunks(records):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            fh.write(chunk)
    manifest = {
        "run_id": run_id,
        "previous_run_id": previous_run_id,
        "spider": "commentary",
        "mode": mode,
        "published": published,
        "started_at": started_at,
        "finished_at": finished_at,
        "state": str(Path(state).resolve()),
        "crawler_version": "0.1.0",
        "schema_version": _properties().get("schema_version", {}).get("const"),
        "output": {"path": output.name, "lines": lines, "sha256": digest.hexdigest()},
        "removed": list(removed),
    }
    path = directory / f"{run_id}.manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path


def _chunks(records: Iterable[dict[str, Any]], size: int = 1 << 20) -> Iterator[bytes]:
    buffer = bytearray()
    for record in records:
        buffer += orjson.dumps(record)
        buffer += b"\n"
        if len(buffer) >= size:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


def run_id_at(moment: datetime, token: int = 0) -> str:
    return f"commentary-{moment.strftime('%Y-%m-%dT%H-%M-%S')}-{token:06x}"
