"""`scrapy fetch`, writing no output, manifest or state (commands/debugging.py)."""

from __future__ import annotations

from scrapy.commands.fetch import Command as ScrapyFetchCommand

from .debugging import NoRecords


class Command(NoRecords, ScrapyFetchCommand):
    pass
