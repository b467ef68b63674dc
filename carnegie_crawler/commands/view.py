"""`scrapy view`, writing no output, manifest or state (commands/debugging.py)."""

from __future__ import annotations

from scrapy.commands.view import Command as ScrapyViewCommand

from .debugging import NoRecords


class Command(NoRecords, ScrapyViewCommand):
    pass
