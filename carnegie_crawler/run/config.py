"""The project's settings for one run, each checked once, before the first request.

A value Scrapy would read lazily (and fail on hours into a crawl, or never) is
read here, and a bad one is a `ConfigError` with one line naming the setting.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from scrapy.settings import BaseSettings

from ..extraction.vocab import KNOWN_TYPES
from ..items import Publication


class ConfigError(ValueError):
    """A setting or path is unusable; the message names it and says why."""


# Placeholders a path template may use: the spider's name, the run's start time (UTC) and its id.
_PLACEHOLDERS = {"name": "commentary", "time": "2026-01-01T00-00-00", "run_id": "commentary-2026-01-01T00-00-00-0"}


@dataclass(frozen=True)
class RunConfig:
    output: str
    rejects: str
    manifest: str
    state: Path | None
    schema: str | None
    incremental: bool
    refresh_days: float
    max_invalid_ratio: float
    min_coverage: dict[str, float]
    coverage_min_items: int
    stub_types: tuple[str, ...]
    lock_timeout: float
    max_cards_per_page: int
    jobdir: Path | None
    archive: Path | None = None

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> RunConfig:
        state = settings.get("CARNEGIE_STATE") or ""
        jobdir = settings.get("JOBDIR") or ""
        archive = settings.get("CARNEGIE_ARCHIVE") or ""
        if not isinstance(archive, str) or "%(" in archive:
            raise ConfigError(f"CARNEGIE_ARCHIVE must be a directory path without placeholders, not {archive!r}")
        return cls(
            output=_template(settings, "CARNEGIE_OUTPUT"),
            rejects=_template(settings, "CARNEGIE_REJECTS"),
            manifest=_template(settings, "CARNEGIE_MANIFEST"),
            state=Path(state) if state else None,
            schema=settings.get("CARNEGIE_SCHEMA") or None,
            incremental=_bool(settings, "CARNEGIE_INCREMENTAL"),
            # Up to a century: a larger number overflows the date arithmetic of freshness checks.
            refresh_days=_number(settings, "CARNEGIE_REFRESH_DAYS", 0, 36525),
            max_invalid_ratio=_number(settings, "CARNEGIE_MAX_INVALID_RATIO", 0, 1),
            min_coverage=_coverage(settings),
            coverage_min_items=int(_number(settings, "CARNEGIE_COVERAGE_MIN_ITEMS", 0, None, integer=True)),
            stub_types=_types(settings),
            lock_timeout=_number(settings, "CARNEGIE_LOCK_TIMEOUT", 0, None),
            max_cards_per_page=int(_number(settings, "CARNEGIE_MAX_CARDS_PER_PAGE", 1, None, integer=True)),
            jobdir=Path(jobdir) if jobdir else None,
            archive=Path(archive) if archive else None,
        )


def render(template: str, **values: str) -> Path:
    return Path(template % values)


def check_writable(path: Path, what: str) -> None:
    """Fail early, before any request, if *path* cannot be written."""
    if path.is_dir():
        raise ConfigError(f"{what} {path} is a directory")
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{what}: cannot create directory {directory}: {exc.strerror or exc}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigError(f"{what}: directory {directory} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{what} {path} is not writable")


def check_paths(config: RunConfig, settings: BaseSettings, spider_name: str) -> None:
    """Every file the run will write, and Scrapy's own feed files (`-o`/`-O`), can be written, and no
    two of them are the same file."""
    values = _PLACEHOLDERS | {"name": spider_name}
    paths: dict[str, Path] = {}
    for name, template in (("CARNEGIE_OUTPUT", config.output), ("CARNEGIE_REJECTS", config.rejects)):
        if template:
            paths[name] = path = render(template, **values)
            check_writable(path, name)
            # The run writes `<name>.<6 hex>.part` beside it first.
            check_name_length(path.with_name(path.name + ".000000.part"), name)
    if config.manifest:
        paths["CARNEGIE_MANIFEST"] = render(config.manifest, **values)
        check_writable(paths["CARNEGIE_MANIFEST"], "CARNEGIE_MANIFEST")
    elif "CARNEGIE_OUTPUT" in paths:
        output = paths["CARNEGIE_OUTPUT"]
        paths["the manifest"] = output.with_name(output.name.removesuffix(".jsonl") + ".manifest.json")
    if config.archive is not None:
        check_writable(config.archive / "x.warc.gz", "CARNEGIE_ARCHIVE")
    if config.state is not None:
        check_writable(config.state, "CARNEGIE_STATE")
        for suffix in ("", "-wal", "-shm", ".lock"):
            paths[f"CARNEGIE_STATE{suffix and ' ' + suffix}"] = config.state.with_name(config.state.name + suffix)
    _check_distinct(paths)
    for uri in settings.getdict("FEEDS"):
        target = str(uri)
        if "://" in target and not target.startswith("file://"):
            continue  # s3://, ftp://: Scrapy's feed storage checks those itself
        local = target.removeprefix("file://")
        try:
            rendered = local % (values | {"batch_id": 1, "batch_time": "t"})
        except (KeyError, ValueError, TypeError):
            rendered = local  # Scrapy fills other placeholders from spider attributes
        feed = Path(rendered)
        check_writable(feed, "feed")
        if any(feed.absolute() == other.absolute() for other in paths.values()):
            raise ConfigError(f"the feed {feed} is also a file the run writes itself")


def check_name_length(path: Path, what: str) -> None:
    try:
        limit = os.pathconf(path.parent if path.parent.exists() else ".", "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    if len(path.name.encode()) > limit:
        raise ConfigError(f"{what}: the file name {path.name[:40]}... is longer than {limit} bytes")


def _check_distinct(paths: dict[str, Path]) -> None:
    seen: dict[Path, str] = {}
    for name, path in paths.items():
        key = path.absolute()
        if key in seen:
            raise ConfigError(f"{name} and {seen[key]} are the same file: {path}")
        seen[key] = name


def _template(settings: BaseSettings, name: str) -> str:
    value = settings.get(name) or ""
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a path, not {value!r}")
    try:
        value % _PLACEHOLDERS
    except (KeyError, ValueError, TypeError) as exc:
        known = ", ".join(f"%({k})s" for k in _PLACEHOLDERS)
        raise ConfigError(f"{name}: bad path template {value!r}: {exc} (placeholders: {known})") from None
    return value


def _bool(settings: BaseSettings, name: str) -> bool:
    try:
        return settings.getbool(name)
    except ValueError:
        raise ConfigError(f"{name} must be True or False, not {settings.get(name)!r}") from None


def _number(settings: BaseSettings, name: str, low: float, high: float | None, integer: bool = False) -> float:
    raw = settings.get(name)
    try:
        value = float(raw)
        if integer and value != int(value):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"{name} must be {kind}, not {raw!r}") from None
    if value != value or value < low or (high is not None and value > high):  # NaN fails too
        bounds = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise ConfigError(f"{name} must be {bounds}, not {raw!r}")
    return value


def _coverage(settings: BaseSettings) -> dict[str, float]:
    name = "CARNEGIE_MIN_COVERAGE"
    try:
        raw: Any = settings.getdict(name)
    except (ValueError, TypeError):
        raise ConfigError(
            f'{name} must be a JSON object such as {{"title": 1.0}}, not {settings.get(name)!r}'
        ) from None
    known = {f.name for f in fields(Publication)}
    out: dict[str, float] = {}
    for field, share in raw.items():
        if field not in known:
            raise ConfigError(f"{name}: {field!r} is not a field of the item")
        try:
            value = float(share)
        except (TypeError, ValueError):
            value = -1.0
        if not 0 <= value <= 1:
            raise ConfigError(f"{name}: the share for {field!r} must be between 0 and 1, not {json.dumps(share)}")
        out[str(field)] = value
    return out


def _types(settings: BaseSettings) -> tuple[str, ...]:
    name = "CARNEGIE_STUB_TYPES"
    try:
        values = settings.getlist(name)
    except (ValueError, TypeError):
        raise ConfigError(f"{name} must be a list of content types, not {settings.get(name)!r}") from None
    for value in values:
        if str(value).lower() not in KNOWN_TYPES:
            raise ConfigError(f"{name}: unknown content type {value!r}")
    return tuple(KNOWN_TYPES[str(v).lower()] for v in values)
