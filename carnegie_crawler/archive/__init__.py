"""The raw-page archive: every response a crawl fetches, kept in a gzip-compressed WARC file per run.

- `warc.WarcFile`: the run's archive file, written as the run goes and published by its owner;
- `middleware.ArchiveMiddleware`: the downloader middleware that writes each exchange to it;
- `reader`: reads archives back (the latest response per URL, by file and date) for `scrapy reextract`;
- `scan`: a file's whole records, and where a torn or damaged one stops them;
- `responses`: each archived exchange as the Scrapy response the crawl had.
"""

from __future__ import annotations

from .reader import ARCHIVE_SUFFIX
from .warc import RECORD_META, WarcFile, provenance

__all__ = ["ARCHIVE_SUFFIX", "RECORD_META", "WarcFile", "provenance"]
