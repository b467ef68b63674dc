"""The run manifest (a JSON file beside the output) and the summary line that ends every run."""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import suppress
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..items import SCHEMA_VERSION
from ..schema import default_schema_path
from .health import Health

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from ..archive import WarcFile
    from ..output import JsonLinesFile, PartFile
    from .config import RunConfig
    from .files import RunFiles
    from .health import Coverage
    from .store import Removal


class RunFacts(Protocol):
    """What a manifest is built from: the run's owner, as the end of the run sees it."""

    crawler: Crawler
    config: RunConfig
    files: RunFiles | None
    coverage: Coverage
    removed: list[Removal]
    run_id: str
    started_at: str
    previous_run: str | None

    @property
    def arguments(self) -> Any: ...
    @property
    def mode(self) -> str: ...
    @property
    def archive(self) -> WarcFile | None: ...
    @property
    def output(self) -> JsonLinesFile | None: ...
    @property
    def rejects(self) -> JsonLinesFile | None: ...
    @property
    def manifest_path(self) -> Path | None: ...
    @property
    def written(self) -> int: ...


# Settings that shape what a run emits, recorded so a reader can tell two runs' outputs apart.
_RECORDED_SETTINGS = (
    "CARNEGIE_INCREMENTAL", "CARNEGIE_REFRESH_DAYS", "CARNEGIE_MAX_INVALID_RATIO", "CARNEGIE_MIN_COVERAGE",
    "CARNEGIE_COVERAGE_MIN_ITEMS", "CARNEGIE_STUB_TYPES", "CARNEGIE_MAX_CARDS_PER_PAGE", "CARNEGIE_SCHEMA",
    "ROBOTSTXT_OBEY", "DOWNLOAD_DELAY", "AUTOTHROTTLE_ENABLED", "USER_AGENT", "JOBDIR",
)  # fmt: skip


def build_manifest(
    run: RunFacts, reason: str, health: Health, published: bool, stats: dict[str, Any]
) -> dict[str, Any]:
    """Everything a consumer needs to trust (or not) one run's output, with paths relative to the manifest."""
    assert run.manifest_path is not None
    here = run.manifest_path.parent
    # A published run's manifest is written just before its files are renamed into place (so no
    # output is ever seen without its manifest): it names their final paths, read from the parts.
    files = run.files
    rejects_published = False
    if published and files is not None:
        rejects_published = files.rejects_published or run.rejects in files.to_publish()
    settings = run.crawler.settings
    return {
        "run_id": run.run_id,
        "previous_run_id": run.previous_run,
        "spider": run.crawler.spidercls.name,
        "mode": run.mode,
        "published": published,
        "state": str(run.config.state.resolve()) if run.config.state is not None else None,
        "started_at": run.started_at,
        "finished_at": iso(datetime.now(UTC)),
        "finish_reason": reason,
        "arguments": dict(getattr(run.arguments, "given", {}) or {}),
        "settings": {name: settings.get(name) for name in _RECORDED_SETTINGS},
        "crawler_version": _version(),
        "schema_version": SCHEMA_VERSION,
        "schema_sha256": _schema_sha256(run.config.schema),
        "counts": counts(stats, run.written),
        "field_coverage": run.coverage.shares(),
        "output": _describe(run.output, published, here),
        "rejects": _describe(run.rejects, rejects_published, here),
        "archive": _describe_archive(run, published, here),
        "removed": [vars(gone) for gone in run.removed] if published else [],
        "health": health.to_dict(),
    }


@cache
def _version() -> str:
    try:
        return metadata.version("carnegie-crawler")
    except metadata.PackageNotFoundError:
        return "unknown"


@cache
def _schema_sha256(path: str | None) -> str:
    source = Path(path) if path else default_schema_path()
    return hashlib.sha256(source.read_bytes()).hexdigest()


def iso(value: Any) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, datetime) else None


def _describe(file: PartFile | None, published: bool, here: Path) -> dict[str, Any] | None:
    """*file* as the manifest names it: its final path if *published*, else its part file."""
    if file is None:
        return None
    shown = file.path if published else file.part
    return describe_file(file.part if file.part.exists() else shown, here, shown=shown)


def describe_file(
    path: Path | None, relative_to: Path | None = None, shown: Path | None = None
) -> dict[str, Any] | None:
    """Path (*shown*, or *path*; relative to the manifest's directory when it can be), whole lines and
    sha256 of *path*."""
    if path is None or not path.exists():
        return None
    digest = hashlib.sha256()
    lines = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
            lines += chunk.count(b"\n")
    name = str(shown or path)
    if relative_to is not None:
        with suppress(ValueError):  # another drive (Windows): keep the absolute path
            name = os.path.relpath(shown or path, relative_to)
    return {"path": name, "lines": lines, "sha256": digest.hexdigest()}


def counts(stats: dict[str, Any], written: int) -> dict[str, Any]:
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
            "written": written,
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


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write *data* to *path* atomically: a reader sees the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def summary(verdict: str, items: dict[str, int], seconds: float, output: str) -> str:
    """One line: the verdict, then what a scheduler's log reader needs to know."""
    return (
        f"{verdict}. {items['written']} written ({items['new']} new, {items['updated']} updated), "
        f"{items['unchanged']} unchanged, {items['invalid']} invalid, in {seconds:.1f} s. {output}"
    )


def _describe_archive(run: RunFacts, published: bool, here: Path) -> dict[str, Any] | None:
    """The run's WARC file: path (relative to the manifest), size, sha256, and its response count."""
    if run.archive is None:
        return None
    described = _describe(run.archive, published, here)
    if described is None:
        return None
    described.pop("lines")
    source = run.archive.part if run.archive.part.exists() else run.archive.path
    return described | {"bytes": source.stat().st_size, "responses": run.archive.responses}
