"""`scrapy crawl`, with the project's checks before the first request.

A bad argument, an unwritable output path or a broken schema ends the run
with one line on stderr and exit status 2, instead of a traceback.
"""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.spiderloader import get_spider_loader

from ..preflight import preflight


class Command(ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) == 1 and self.settings is not None:
            try:
                spider_cls = get_spider_loader(self.settings).load(args[0])
            except KeyError:
                spider_cls = None  # Scrapy's own message follows
            if spider_cls is not None and (problem := preflight(spider_cls, opts.spargs, self.settings)):
                print(f"Error: {problem}", file=sys.stderr)
                self.exitcode = 2
                return
        super().run(args, opts)
