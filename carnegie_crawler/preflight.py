"""Checks run before the first request, so bad input fails fast with one clear line."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from .output import OutputError, check_writable
from .schema import SchemaLoadError, load_validator
from .spiders.commentary import CommentarySpider, SpiderArgumentError
from .state import StateError, StateStore

logger = logging.getLogger("carnegie_crawler")


def preflight(spider_cls: type[Any], spider_args: dict[str, str], settings: BaseSettings) -> str | None:
    """Return a one-line problem description, or None when the run can start."""
    try:
        if issubclass(spider_cls, CommentarySpider):
            CommentarySpider.check_arguments(**spider_args)
        load_validator(settings.get("CARNEGIE_SCHEMA") or None)
        for name in ("CARNEGIE_OUTPUT", "CARNEGIE_REJECTS"):
            template = settings.get(name)
            if template:
                try:
                    path = template % {"time": "preflight", "name": spider_cls.name}
                except (KeyError, ValueError, TypeError) as exc:
                    raise OutputError(f"{name}: bad path template {template!r}: {exc}") from None
                check_writable(Path(path))
        if state_path := settings.get("CARNEGIE_STATE"):
            StateStore(Path(state_path)).close()
    except (SpiderArgumentError, SchemaLoadError, OutputError, StateError) as exc:
        return str(exc)
    return None


def exit_status(crawler: Crawler) -> int:
    """0 for a healthy run; otherwise 1, after logging the reasons on one line."""
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    healthy = stats.get("carnegie/health/ok")
    if healthy is None:  # the finalizer is switched off: judge by the finish reason alone
        healthy = stats.get("finish_reason") == "finished"
        reasons = [f"finish reason: {stats.get('finish_reason')}"]
    else:
        reasons = stats.get("carnegie/health/reasons", [])
    if healthy:
        return 0
    logger.error("Run failed: %s", "; ".join(reasons))
    return 1
