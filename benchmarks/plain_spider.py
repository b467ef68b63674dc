"""The plain spider: what someone would write with Scrapy's selectors to build the same records.

    scrapy runspider benchmarks/plain_spider.py -a start_urls=URL1,URL2 -O items.jsonl:jsonlines ...

A normal Scrapy spider, written the usual way, that yields one dict per page with the fields of
our record (`schemas/publication.schema.json`): the metadata block read with `json.loads`, the
`<head>` links, and CSS selectors on the mirror's class names for the title, dek, byline, date,
hero image and credit, author cards (names, roles, Recent Work), body paragraphs and the "More
Work from ..." cards, plus `crawled_at` and a content hash. It follows the title links of the
Recent Work and More Work cards with `response.follow`. The card lists are found by their
heading's text, as the real site needs (its class names are hashed, `css-x7c8v9`; docs/site.md,
"Anatomy").

The comparison is like for like: the same pages, the same links, the same record. It has no
item pipelines, no validation, no state and no archive: the benchmark gives it a JSON Lines feed
export (`-O`), so it writes its items as the full crawl does. Run it outside the project
directory (the benchmark does), so none of the project's settings, pipelines or extensions load.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

# `scrapy runspider` puts this folder on sys.path while it loads the file.
from ceiling_spider import CeilingSpider
from scrapy.http import Response

# Card lists: the element after a heading that reads "Recent Work" or "More Work from <center>".
CARDS_AFTER = (
    "./following-sibling::*[1]//a[contains(@class, 'card__title')]/@href"
)  # fmt: skip
RECENT_WORK = ".//*[self::h2 or self::h3 or self::h4][starts-with(normalize-space(), 'Recent Work')]"
MORE_WORK = "//*[self::h2 or self::h3 or self::h4][starts-with(normalize-space(), 'More Work')]"
# The byline reads "By A", "By A and B" or "By A, B, and C"; outside authors are not links.
AUTHOR_SEPARATOR = re.compile(r",\s*(?:and\s+)?|\s+and\s+")
VOLATILE = ("fetched_url", "crawled_at", "content_hash", "related", "schema_version")


def text(selector: Any) -> str:
    return " ".join(selector.xpath("string()").get("").split())


class PlainSpider(CeilingSpider):
    """The ceiling's start and arguments; its own parse: fields read with selectors, an item per page."""

    name = "plain"

    def parse(self, response: Response) -> Iterator[Any]:
        meta = json.loads(response.css("script.js-analytics-data::text").get() or "{}")
        recent = [
            response.urljoin(href)
            for heading in response.xpath(RECENT_WORK)
            for href in heading.xpath(CARDS_AFTER).getall()
        ]  # fmt: skip
        more = [response.urljoin(href) for href in response.xpath(MORE_WORK).xpath(CARDS_AFTER).getall()]
        paragraphs = [t for p in response.css("div.post-body p") if (t := text(p))]
        body = "\n\n".join(paragraphs)
        hero = response.css("figure.post-hero")
        item = {
            "url": response.css("link[rel=canonical]::attr(href)").get() or response.url,
            "fetched_url": response.url,
            "language": response.xpath("/html/@lang").get(),
            "content_type": meta.get("type"),
            "title": text(response.css("h1")) or None,
            "subtitle": text(response.css(".post-header__dek")) or None,
            "blog": response.css(".post-header__blog::text").get(),
            "authors": self.authors(response),
            "published_date": self.date(response),
            "image": {
                "url": response.urljoin(src),
                "credit": (hero.css(".post-hero__credit::text").get() or "").removeprefix("Source: ") or None,
            }
            if (src := hero.css("img::attr(src)").get())
            else None,
            "primary_center": meta.get("primaryCenter") or None,
            **{name: meta.get(name) or [] for name in ("centers", "programs", "projects", "collections")},
            **{name: meta.get(name) or [] for name in ("regions", "topics")},
            "body": body or None,
            "word_count": len(body.split()),
            "related": {"recent_work": recent, "more_work": more},
            "crawled_at": datetime.now(UTC).isoformat(),
        }
        content = {k: v for k, v in item.items() if k not in VOLATILE}
        digest = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        item["content_hash"] = hashlib.sha256(digest.encode()).hexdigest()
        yield item
        for href in dict.fromkeys(recent + more):
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
    def authors(response: Response) -> list[dict[str, str | None]]:
        cards = {
            text(card.css(".author-card__name")): (
                response.urljoin(card.css(".author-card__name::attr(href)").get("")),
                card.css(".author-card__role::text").get(),
            )
            for card in response.css(".author-card")
        }
        byline = response.css(".post-header__byline")
        names = [name for name in AUTHOR_SEPARATOR.split(text(byline).removeprefix("By ")) if name] if byline else []
        return [
            {"name": name, "url": cards.get(name, (None, None))[0], "role": cards.get(name, (None, None))[1]}
            for name in names
        ]
