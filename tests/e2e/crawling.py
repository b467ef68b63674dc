"""In-process crawls for the end-to-end tests: project settings, a tmp output dir, items collected."""

from __future__ import annotations

import json
from typing import Any

import pytest_twisted
from scrapy import signals
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

from carnegie_crawler.spiders.commentary import CommentarySpider
from tests.helpers import SITE

EXPECTED = json.loads((SITE / "expected.json").read_text(encoding="utf-8"))


def crawl_settings(tmp_path, **overrides: Any) -> dict[str, Any]:
    project = get_project_settings()
    settings = {k: v.value for k, v in project.attributes.items() if v.priority >= SETTINGS_PRIORITIES["project"]}
    settings.update(
        DOWNLOAD_DELAY=0,
        AUTOTHROTTLE_ENABLED=False,
        CARNEGIE_OUTPUT=str(tmp_path / "items.jsonl"),
        CARNEGIE_REJECTS=str(tmp_path / "rejects.jsonl"),
        CARNEGIE_STATE=str(tmp_path / "state.sqlite3"),
        CARNEGIE_DATASET="",  # off unless a test is about it: runs in separate folders share no dataset
        CARNEGIE_ARCHIVE=str(tmp_path / "archive"),
        FEEDS={str(tmp_path / "feed.jsonl"): {"format": "jsonlines"}},
        LOG_LEVEL="INFO",
    )
    settings.update(overrides)
    return settings


@pytest_twisted.inlineCallbacks
def run_crawl(settings: dict[str, Any], **spider_args: Any):
    crawler = get_crawler(CommentarySpider, settings)
    items: list[Any] = []

    def collect(item: Any) -> None:
        items.append(item)

    # Scrapy holds signal receivers weakly: keep `collect` referenced until the crawl ends.
    crawler.signals.connect(collect, signal=signals.item_scraped)
    yield crawler.crawl(**spider_args)
    return crawler, items


def start_urls(server) -> str:
    return ",".join(server.base_url + path for path in EXPECTED["start_paths"])
