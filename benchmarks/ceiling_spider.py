"""The ceiling: a bare Scrapy spider that follows the same card links as `commentary` and extracts nothing.

    scrapy runspider benchmarks/ceiling_spider.py -a start_urls=URL1,URL2 -s DOWNLOAD_DELAY=0 ...

Run it outside the project directory (the benchmark does), so none of the project's
pipelines, extensions or middlewares load. The links are read with one regular
expression over the raw body: the mirror's markup is our own, so the card title
links are exactly the `<a class="card__title" href="...">` anchors, which sit only
in "Recent Work" and "More Work from ..." lists. No parse tree is built and no item
is yielded: what is left is Scrapy's own cost per page.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response

CARD_LINK = re.compile(rb'<a class="card__title" href="([^"]+)"')


class CeilingSpider(scrapy.Spider):
    name = "ceiling"

    def __init__(self, start_urls: str = "", *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.start_pages = [u.strip() for u in start_urls.split(",") if u.strip()]
        self.allowed_domains = sorted({urlsplit(u).hostname or "" for u in self.start_pages})

    async def start(self) -> AsyncIterator[Any]:
        for url in self.start_pages:
            yield scrapy.Request(url, callback=self.parse)

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        for match in CARD_LINK.finditer(response.body):
            yield scrapy.Request(response.urljoin(match.group(1).decode()), callback=self.parse)
