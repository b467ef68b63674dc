"""The `commentary` spider's arguments (`-a name=value`), checked and resolved once into one typed object.

The crawl command checks them before Scrapy starts, so a typo ends the run with one
`Error:` line and exit 2 instead of a full crawl with the default behaviour.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ..extraction.vocab import KNOWN_TYPES
from ..urls import normalize_url

DEFAULT_START_URLS = (
    "https://carnegieendowment.org/middle-east/posts/2014/02/deadlock-in-geneva-puts-more-responsibility-on-the-west-and-russia",
    "https://carnegieendowment.org/russia-eurasia/politika/2026/02/russia-negotiations-purpose",
)


class SpiderArgumentError(ValueError):
    """A spider argument is unusable; the message says which and why."""


def parse_start_urls(start_urls: str | None = None, start_urls_file: str | None = None) -> list[str]:
    raw: list[tuple[str, str]] = []
    if start_urls is not None and not any(u.strip() for u in start_urls.split(",")):
        raise SpiderArgumentError("start_urls is empty: give at least one URL, or leave the argument out")
    if start_urls_file is not None and not start_urls_file.strip():
        raise SpiderArgumentError("start_urls_file is empty: give a file path, or leave the argument out")
    if start_urls:
        raw += [(u, "start_urls") for u in start_urls.split(",") if u.strip()]
    if start_urls_file:
        raw += [(u, f"{start_urls_file}") for u in _read_url_file(start_urls_file)]
    if not start_urls and not start_urls_file:
        raw = [(u, "default") for u in DEFAULT_START_URLS]
    urls: list[str] = []
    for value, origin in raw:
        url = normalize_url(value)
        if url is None:
            raise SpiderArgumentError(f"not an http(s) URL in {origin}: {value.strip()!r}")
        if url not in urls:
            urls.append(url)
    if not urls:
        raise SpiderArgumentError("no start URLs given")
    return urls


def _read_url_file(path: str) -> Iterator[str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpiderArgumentError(f"cannot read start_urls_file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SpiderArgumentError(f"start_urls_file {path} is not UTF-8 text") from None
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            yield line


def parse_types(types: str | None) -> frozenset[str] | None:
    """Comma-separated content types to emit; None means all."""
    if types is None or not types.strip():
        return None
    wanted = set()
    for value in types.split(","):
        key = value.strip().lower()
        if not key:
            continue
        if key not in KNOWN_TYPES:
            known = ", ".join(sorted(KNOWN_TYPES.values()))
            raise SpiderArgumentError(f"unknown content type {value.strip()!r} in types (known: {known})")
        wanted.add(KNOWN_TYPES[key])
    return frozenset(wanted)


def parse_bool(name: str, value: str | bool | None) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    key = value.strip().lower()
    if key in ("1", "true", "yes", "on"):
        return True
    if key in ("0", "false", "no", "off"):
        return False
    raise SpiderArgumentError(f"{name} must be true or false, not {value!r}")


def parse_since(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise SpiderArgumentError(f"since must be a date as YYYY-MM-DD, not {value!r}") from None


NAMES = ("start_urls", "start_urls_file", "types", "incremental", "since")
LISTS = ("start_urls", "types")  # comma-separated


def refuse_empty(values: dict[str, str | None], lists: tuple[str, ...]) -> None:
    """A given argument must say something: a blank value (`-a since=`), or a list of blanks (`-a types=,`),
    is refused, never read as the argument left out. scrapyd's own (`_job`) are not checked."""
    for name, value in values.items():
        if value is None or name.startswith("_"):
            continue
        parts = value.split(",") if name in lists else [value]
        if not any(part.strip() for part in parts):
            raise SpiderArgumentError(f"{name} is empty: give a value, or leave the argument out")


def refuse_repeated(arglist: list[str]) -> None:
    """`-a name=value` given twice is refused: Scrapy would keep the last one without a word."""
    seen: set[str] = set()
    for entry in arglist:
        name = entry.split("=", 1)[0]
        if "=" in entry and name in seen:
            raise SpiderArgumentError(f"{name} is given twice (-a {name}=...): give it once")
        seen.add(name)


@dataclass(frozen=True)
class SpiderArguments:
    """What the user asked for; `given` keeps the raw values for the run manifest."""

    start_pages: tuple[str, ...]
    types: frozenset[str] | None
    incremental: bool | None  # None: CARNEGIE_INCREMENTAL decides
    since: str | None
    given: dict[str, str]

    @property
    def filtered(self) -> bool:
        """True when `types` or `since` leave documents out on purpose."""
        return self.types is not None or self.since is not None


def parse_arguments(given: dict[str, Any]) -> SpiderArguments:
    """Check every argument; raises SpiderArgumentError with a one-line reason."""
    # scrapyd passes arguments of its own, all named with a leading underscore (`_job`, `_version`).
    unknown = sorted(name for name in set(given) - set(NAMES) if not name.startswith("_"))
    if unknown:
        known = ", ".join(NAMES)
        raise SpiderArgumentError(f"unknown spider argument {unknown[0]!r} (known: {known})")
    values = {k: (v if v is None else str(v)) for k, v in given.items()}
    refuse_empty(values, LISTS)
    return SpiderArguments(
        tuple(parse_start_urls(values.get("start_urls"), values.get("start_urls_file"))),
        parse_types(values.get("types")),
        parse_bool("incremental", values.get("incremental")),
        parse_since(values.get("since")),
        {k: v for k, v in values.items() if v is not None},
    )
