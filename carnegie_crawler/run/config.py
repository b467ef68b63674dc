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
# Fields whose coverage says nothing about extraction quality: run/health.py does not count them.
NOT_COVERAGE = frozenset({"crawled_at", "content_hash", "schema_version", "fetched_url", "crawl_status"})
# More extraction workers than this is a typo, not a machine: each is a process of its own.
MAX_EXTRACT_WORKERS = 64


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
    extract_workers: int = 0

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
            extract_workers=extract_workers(settings),
        )


def extract_workers(settings: BaseSettings) -> int:
    if settings.get("CARNEGIE_EXTRACT_WORKERS") is None:  # not set (a test's bare settings): none
        return 0
    return int(_number(settings, "CARNEGIE_EXTRACT_WORKERS", 0, MAX_EXTRACT_WORKERS, integer=True))


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


def check_creatable(directory: Path, what: str) -> None:
    """*directory* is there or can be made, without making it: a path whose name is not known yet
    (a placeholder) must not leave a directory named with made-up values behind."""
    existing = Path(os.path.abspath(directory))
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{what}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{what}: directory {existing} is not writable")


def check_target(template: str, path: Path, what: str) -> None:
    """check_writable, or, for a template with a placeholder in its directory, check_creatable on the
    directory its fixed part names."""
    if "%(" not in os.path.dirname(template):
        check_writable(path, what)
    else:
        check_creatable(Path(os.path.dirname(template.split("%(", 1)[0]) or "."), what)


def check_paths(config: RunConfig, settings: BaseSettings, spider_name: str, spider_cls: type | None = None) -> None:
    """Every file the run will write, and Scrapy's own feed files (`-o`/`-O`), can be written, and no
    two of them are the same file."""
    values = _PLACEHOLDERS | {"name": spider_name}
    paths: dict[str, Path] = {}
    for name, template in (("CARNEGIE_OUTPUT", config.output), ("CARNEGIE_REJECTS", config.rejects)):
        if template:
            paths[name] = path = render(template, **values)
            check_target(template, path, name)
            # The run writes `<name>.<6 hex>.part` beside it first.
            check_name_length(path.with_name(path.name + ".000000.part"), name)
    if config.manifest:
        paths["CARNEGIE_MANIFEST"] = render(config.manifest, **values)
        check_target(config.manifest, paths["CARNEGIE_MANIFEST"], "CARNEGIE_MANIFEST")
    elif "CARNEGIE_OUTPUT" in paths:
        paths["the manifest"] = manifest_beside(paths["CARNEGIE_OUTPUT"])
    if config.state is not None:
        check_writable(config.state, "CARNEGIE_STATE")
        for suffix in ("", "-wal", "-shm", ".lock"):
            paths[f"CARNEGIE_STATE{suffix and ' ' + suffix}"] = config.state.with_name(config.state.name + suffix)
    # Before the archive's directory is made: one inside the dataset is refused, not created.
    dataset = check_dataset(settings, config.archive, paths)
    if config.archive is not None:
        check_writable(config.archive / "x.warc.gz", "CARNEGIE_ARCHIVE")
    if config.jobdir is not None:  # Scrapy makes it, and fails with a traceback on a file
        if config.jobdir.exists() and not config.jobdir.is_dir():
            raise ConfigError(f"JOBDIR {config.jobdir} is not a directory")
        check_creatable(config.jobdir, "JOBDIR")
    _check_distinct(paths)
    for uri, options in settings.getdict("FEEDS").items():
        target = str(uri)
        if "://" in target and not target.startswith("file://"):
            continue  # s3://, ftp://: Scrapy's feed storage checks those itself
        local = target.removeprefix("file://")
        custom = settings.get("FEED_URI_PARAMS") or (isinstance(options, dict) and options.get("uri_params"))
        feed = Path(local if custom else _feed_path(local, spider_name, spider_cls))
        check_target(local, feed, "feed")
        if any(feed.absolute() == other.absolute() for other in paths.values()):
            raise ConfigError(f"the feed {feed} is also a file the run writes itself")
        if dataset is not None and _inside(feed, dataset):
            raise ConfigError(f"the feed {feed} is inside the dataset directory {dataset} (CARNEGIE_DATASET)")


def _feed_path(uri: str, spider_name: str, spider_cls: type | None) -> str:
    """The feed's path as Scrapy renders it; a placeholder Scrapy does not fill is refused: Scrapy
    would raise KeyError at the spider's start, write no feed, and the run still exit 0."""
    from scrapy.extensions.feedexport import apply_uri_params  # what Scrapy itself renders with

    # Scrapy fills the spider's attributes (only those of its class are known before it starts),
    # the start time, and the batch's time and number.
    params: dict[str, Any] = {key: getattr(spider_cls, key, "") for key in dir(spider_cls)} if spider_cls else {}
    params |= {"name": spider_name, "time": _PLACEHOLDERS["time"], "batch_time": "2026-01-01T00-00-00.000000"}
    params["batch_id"] = 1
    try:
        return apply_uri_params(uri, params)
    except KeyError as exc:
        raise ConfigError(
            f"the feed {uri}: Scrapy does not fill %({exc.args[0]})s (it fills %(name)s, %(time)s, "
            "%(batch_time)s, %(batch_id)d and the spider's other class attributes)"
        ) from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"the feed {uri}: bad placeholder: {exc}") from None


DATASET_DEFAULT = "data/dataset"  # dataset/config.py's DEFAULT_DIRECTORY (a test keeps them equal)


def check_dataset(settings: BaseSettings, archive: Path | None, paths: dict[str, Path]) -> Path | None:
    """The dataset directory a healthy run's end folds the run into (None: off, or nothing to fold), checked
    now by the rules the end reads it with (`dataset.config`), and against the run's other files."""
    from ..dataset.config import DatasetConfig, check_dataset_directory  # pyarrow-free: builders load lazily
    from ..dataset.runs import DatasetError

    # Without a state or an output the run folds nothing in: only the dataset setting itself is read.
    folds = bool(settings.get("CARNEGIE_STATE") and settings.get("CARNEGIE_OUTPUT"))
    checked = settings if folds else {"CARNEGIE_DATASET": settings.get("CARNEGIE_DATASET", DATASET_DEFAULT)}
    try:
        config = DatasetConfig.from_settings(checked)
    except DatasetError as exc:
        if not folds and "CARNEGIE_DATASET" not in str(exc):
            return None  # the missing state or output, which is fine here
        raise ConfigError(f"{exc} (or set CARNEGIE_DATASET= to turn the dataset off)") from None
    if config is None or not folds:
        return None
    dataset = config.directory
    try:
        check_dataset_directory(dataset)
    except DatasetError as exc:
        raise ConfigError(str(exc)) from None
    check_creatable(dataset.parent, "CARNEGIE_DATASET")  # a build writes beside it, then swaps it in
    # A rebuild replaces the directory whole, and the archive's files are no dataset's.
    if archive is not None and (_inside(archive, dataset) or _inside(dataset, archive)):
        raise ConfigError(f"CARNEGIE_ARCHIVE {archive} and CARNEGIE_DATASET {dataset} overlap")
    for what, path in paths.items():
        if _inside(path, dataset):
            raise ConfigError(f"{what} {path} is inside the dataset directory {dataset} (CARNEGIE_DATASET)")
    return dataset


def check_replaced_runs(config: RunConfig, settings: BaseSettings, spider_name: str) -> None:
    """With fixed file names (no `%(run_id)s` or `%(time)s`) a run replaces the last one's files: refused if
    the dataset has not applied that run (its documents would never reach it). Asked under the state's lock,
    once no other run can publish or fold in before this one does."""
    from ..dataset.config import DatasetConfig
    from ..dataset.runs import DatasetError

    templates = [template for template in (config.output, config.manifest) if template]
    if config.state is None or not config.output:
        return
    if all("%(run_id)s" in template or "%(time)s" in template for template in templates):
        return
    try:
        dataset = DatasetConfig.from_settings(settings)
    except DatasetError:  # refused by check_paths already
        return
    if dataset is None:
        return
    values = _PLACEHOLDERS | {"name": spider_name}
    output = render(config.output, **values)
    manifest = render(config.manifest, **values) if config.manifest else manifest_beside(output)
    if (run := dataset.unapplied_run_replaced(output, manifest)) is not None:
        raise ConfigError(
            f"this run would replace the files of run {run.run_id} ({run.manifest}), which the dataset "
            f"{dataset.directory} has not applied: bring it up to date first (scrapy dataset), or name each "
            "run's file apart (%(run_id)s in CARNEGIE_OUTPUT)"
        )


def manifest_beside(output: Path) -> Path:
    """Where a run's manifest goes when CARNEGIE_MANIFEST is not set (docs/runs.md)."""
    return output.with_name(output.name.removesuffix(".jsonl") + ".manifest.json")


def _inside(path: Path, directory: Path) -> bool:
    path, directory = Path(os.path.abspath(path)), Path(os.path.abspath(directory))
    return path == directory or directory in path.parents


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
        if field in NOT_COVERAGE:  # a threshold on it would fail every run
            raise ConfigError(f"{name}: coverage is not counted for {field!r} (it says nothing of the extraction)")
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
