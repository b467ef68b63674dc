"""`scrapy parse`, writing no output, manifest or state (commands/debugging.py), for a page on any host."""

from __future__ import annotations

import argparse

from scrapy.commands.parse import Command as ScrapyParseCommand

from .debugging import NoRecords


class Command(NoRecords, ScrapyParseCommand):
    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        # The spider stays on the hosts of its start pages; the page to parse is the start page here,
        # so a mirror's page is not turned away as off-site.
        given = opts.spargs
        if args and opts.spider in (None, "commentary") and not {"start_urls", "start_urls_file"} & set(given):
            given["start_urls"] = args[0]
