"""Checks run before the first request, so bad input fails fast with one clear line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scrapy.settings import BaseSettings

from .output import OutputError, check_writable
from .schema import SchemaLoadError, load_validator
from .spiders.commentary import CommentarySpider, SpiderArgumentError


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
    except (SpiderArgumentError, SchemaLoadError, OutputError) as exc:
        return str(exc)
    return None
