"""`scrapy shell`, writing no output, manifest or state (commands/debugging.py)."""

from __future__ import annotations

from scrapy.commands.shell import Command as ScrapyShellCommand

from .debugging import NoRecords


class Command(NoRecords, ScrapyShellCommand):
    pass
