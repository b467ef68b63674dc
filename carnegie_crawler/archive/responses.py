"""The Scrapy response the crawl had, rebuilt from an archived exchange: status, headers, the body
decoded as Scrapy's HttpCompressionMiddleware decodes it, and the response class it would choose."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from typing import Any

from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes
from scrapy.utils.gz import gunzip

# What the crawl decodes (HttpCompressionMiddleware), decoded here the same way, by Scrapy's own functions.
_DECODERS: dict[bytes, Callable[..., bytes]] = {b"gzip": gunzip, b"x-gzip": gunzip}
try:  # Scrapy's helpers for the other encodings (private, but the ones its middleware calls)
    from scrapy.utils._compression import _inflate, _unbrotli, _unzstd

    _DECODERS |= {b"deflate": _inflate, b"br": _unbrotli, b"zstd": _unzstd}
except ImportError:  # pragma: no cover - a future Scrapy that moved them: deflate at least
    _DECODERS[b"deflate"] = lambda data, max_size=0: zlib.decompress(data)


def response_of(record: Any, url: str, body: bytes) -> Response:
    http = record.http_headers
    try:
        status = int(http.get_statuscode())
    except (TypeError, ValueError):
        status = 0
    truncated = bool(record.rec_headers.get_header("WARC-Truncated"))
    return rebuild_response(url, status, http.headers, body, truncated=truncated)


def rebuild_response(
    url: str, status: int, headers: Iterable[tuple[str, str]], body: bytes, *, truncated: bool = False
) -> Response:
    """The response Scrapy hands the spider for this status, these headers and this body as received.

    As HttpCompressionMiddleware does: the body is decoded per Content-Encoding (what cannot be
    decoded stays, and stays named in the header), then the response class is chosen from the
    headers, the URL and the decoded body, and the text encoding found afresh.
    """
    scrapy_headers = Headers()
    for name, value in headers:
        scrapy_headers.appendlist(name, _header_bytes(value))
    encodings = scrapy_headers.getlist("Content-Encoding")
    if encodings:
        body, kept = _decode(body, encodings)
        if kept:
            scrapy_headers["Content-Encoding"] = kept
        else:
            del scrapy_headers["Content-Encoding"]
    cls = responsetypes.from_args(headers=scrapy_headers, url=url, body=body)
    return cls(url=url, status=status, headers=scrapy_headers, body=body, flags=["dataloss"] if truncated else None)


def _header_bytes(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def _decode(body: bytes, content_encoding: list[bytes]) -> tuple[bytes, list[bytes]]:
    """Scrapy's order: the encodings are undone from the last one applied, up to the first it cannot undo."""
    to_keep = [e.strip().lower() for value in content_encoding for e in value.split(b",")]
    while to_keep and to_keep[-1] in _DECODERS:
        body = _DECODERS[to_keep.pop()](body, max_size=0)
    return body, to_keep
