"""`scrapy check`, writing no output, manifest or state (commands/debugging.py)."""

from __future__ import annotations

from scrapy.commands.check import Command as ScrapyCheckCommand

from .debugging import NoRecords


class Command(NoRecords, ScrapyCheckCommand):
    pass
