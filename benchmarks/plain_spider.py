"""The plain spider: what someone would write with Scrapy's selectors to crawl the same pages.

    scrapy runspider benchmarks/plain_spider.py -a start_urls=URL1,URL2 -O items.jsonl:jsonlines ...

A normal Scrapy spider, written the usual way: CSS selectors on the mirror's
class names for the title, date, authors and body text, one dict item per page,
and the title links of the "Recent Work" and "More Work from ..." cards followed.
The card lists are found by their heading's text, as the real site needs (its
class names are hashed, `css-x7c8v9`; docs/site.md, "Anatomy"): the links are
those in the element right after the heading. No item pipelines; the benchmark
gives it a JSON Lines feed export (`-O`), so it writes its items as the full crawl
does. Run it outside the project directory (the benchmark does), so none of the
project's settings, pipelines or extensions load.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

# `scrapy runspider` puts this folder on sys.path while it loads the file.
from ceiling_spider import CeilingSpider
from scrapy.http import Response

# Card lists: the element after a heading that reads "Recent Work" or "More Work from <center>".
CARD_LINKS = (
    "//*[self::h2 or self::h3 or self::h4 or @role='heading']"
    "[starts-with(normalize-space(), 'Recent Work') or starts-with(normalize-space(), 'More Work')]"
    "/following-sibling::*[1]//a/@href"
)
# The byline reads "By A", "By A and B" or "By A, B, and C"; outside authors are not links.
AUTHOR_SEPARATOR = re.compile(r",\s*(?:and\s+)?|\s+and\s+")


class PlainSpider(CeilingSpider):
    """The ceiling's start and arguments; its own parse: fields read with selectors, an item per page."""

    name = "plain"

    def parse(self, response: Response) -> Iterator[Any]:
        yield {
            "url": response.url,
            "title": " ".join(response.css("h1 ::text").getall()).strip() or None,
            "published_date": self.date(response),
            "authors": self.authors(response),
            "body": "\n\n".join(
                text for p in response.css("div.post-body p") if (text := " ".join(p.xpath("string()").get("").split()))
            ),
        }
        for href in response.xpath(CARD_LINKS).getall():
            yield response.follow(href, callback=self.parse)

    @staticmethod
    def date(response: Response) -> str | None:
        line = response.css(".post-header__date::text").get()
        if not line:
            return None
        try:
            return datetime.strptime(line.strip().removeprefix("Published on "), "%b %d, %Y").date().isoformat()
        except ValueError:
            return None

    @staticmethod
    def authors(response: Response) -> list[str]:
        byline = response.css(".post-header__byline")
        if not byline:
            return []
        text = " ".join(byline.xpath("string()").get("").split()).removeprefix("By ")
        return [name for name in AUTHOR_SEPARATOR.split(text) if name]
