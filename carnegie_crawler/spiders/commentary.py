"""The `commentary` spider: start pages, then Recent Work and More Work cards, nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from ..extraction import extract_from_response
from ..extraction.vocab import KNOWN_TYPES
from ..items import Publication
from ..urls import host_key, is_publication_url, normalize_url

DEFAULT_START_URLS = (
    "https://carnegieendowment.org/middle-east/posts/2014/02/deadlock-in-geneva-puts-more-responsibility-on-the-west-and-russia",
    "https://carnegieendowment.org/russia-eurasia/politika/2026/02/russia-negotiations-purpose",
)


class SpiderArgumentError(ValueError):
    """A spider argument is unusable; the message says which and why."""


def parse_start_urls(start_urls: str | None = None, start_urls_file: str | None = None) -> list[str]:
    raw: list[tuple[str, str]] = []
    if start_urls:
        raw += [(u, "start_urls") for u in start_urls.split(",") if u.strip()]
    if start_urls_file:
        raw += [(u, f"{start_urls_file}") for u in _read_url_file(start_urls_file)]
    if not start_urls and not start_urls_file:
        raw = [(u, "default") for u in DEFAULT_START_URLS]
    urls: list[str] = []
    for value, origin in raw:
        url = normalize_url(value)
        if url is None or ("." not in (urlsplit(url).hostname or "") and not _is_ip_or_localhost(url)):
            raise SpiderArgumentError(f"not an http(s) URL in {origin}: {value.strip()!r}")
        if url not in urls:
            urls.append(url)
    if not urls:
        raise SpiderArgumentError("no start URLs given")
    return urls


def _is_ip_or_localhost(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host == "localhost" or host.replace(".", "").isdigit() or ":" in host


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


class CommentarySpider(scrapy.Spider):
    name = "commentary"

    def __init__(
        self,
        start_urls: str | None = None,
        start_urls_file: str | None = None,
        types: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.start_pages, self.emit_types = self.check_arguments(start_urls, start_urls_file, types)
        self.hosts = frozenset(host_key(urlsplit(u).hostname or "") for u in self.start_pages)
        # Scrapy's offsite filter also applies to redirects.
        self.allowed_domains = sorted(self.hosts)

    @staticmethod
    def check_arguments(
        start_urls: str | None = None, start_urls_file: str | None = None, types: str | None = None, **_: Any
    ) -> tuple[list[str], frozenset[str] | None]:
        """Validate the spider arguments; raises SpiderArgumentError with a one-line reason."""
        return parse_start_urls(start_urls, start_urls_file), parse_types(types)

    async def start(self) -> AsyncIterator[Any]:
        for url in self.start_pages:
            yield scrapy.Request(url, callback=self.parse, errback=self.on_error, meta={"carnegie_start": True})

    def parse(self, response: Response) -> Iterator[Any]:
        stats = self.crawler.stats
        assert stats is not None
        if response.meta.get("carnegie_start"):
            stats.inc_value("carnegie/start_pages/fetched")
        if not isinstance(response, TextResponse) or b"html" not in (response.headers.get("Content-Type") or b"html"):
            stats.inc_value("carnegie/pages/not_html")
            self.logger.info("Skipped %s: not an HTML page (%s)", response.url, _content_type(response))
            return
        item = extract_from_response(response)
        yield from self.follow_cards(response, item)
        if not is_publication_url(response.url):
            stats.inc_value("carnegie/pages/not_publication")
            self.logger.warning("No item from %s: not a publication page", response.url)
        elif self.emit_types is not None and item.content_type not in self.emit_types:
            stats.inc_value("carnegie/items/skipped_type")
        else:
            stats.inc_value(f"carnegie/items/type/{item.content_type or 'unknown'}")
            yield item

    def follow_cards(self, response: Response, item: Publication) -> Iterable[scrapy.Request]:
        stats = self.crawler.stats
        assert stats is not None
        for url in dict.fromkeys(item.related["recent_work"] + item.related["more_work"]):
            if host_key(urlsplit(url).hostname or "") not in self.hosts:
                stats.inc_value("carnegie/links/offsite")
                continue
            stats.inc_value("carnegie/links/followed")
            yield response.follow(url, callback=self.parse, errback=self.on_error)

    def on_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        stats = self.crawler.stats
        assert stats is not None
        kind = failure.type.__name__ if failure.type else "Exception"
        stats.inc_value(f"carnegie/errors/{kind}")
        if request.meta.get("carnegie_start"):
            stats.inc_value("carnegie/start_pages/failed")
        self.logger.warning("Failed %s: %s", request.url, failure.getErrorMessage() or kind)


def _content_type(response: Response) -> str:
    return (response.headers.get("Content-Type") or b"unknown").decode("latin-1")
