"""`scrapy crawl`, with the project's checks before the first request.

A bad argument, an unwritable output path, a broken schema or a corrupt state
file ends the run with one line on stderr and exit status 2, instead of a
traceback. The checks run in `process_options`, before Scrapy starts logging,
so that line is all the user sees.

After the crawl, the exit status follows the run's health verdict: 0 when
healthy, 1 with a one-line reason at the end of the log otherwise.
"""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.spiderloader import get_spider_loader

from ..preflight import exit_status, preflight


class Command(ScrapyCrawlCommand):
    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        if len(args) != 1 or self.settings is None:
            return  # Scrapy's own usage message follows
        try:
            spider_cls = get_spider_loader(self.settings).load(args[0])
        except KeyError:
            return  # Scrapy's own "Spider not found" follows
        if problem := preflight(spider_cls, opts.spargs, self.settings):
            print(f"Error: {problem}", file=sys.stderr)
            sys.exit(2)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1 or self.crawler_process is None:
            super().run(args, opts)
            return
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        self.exitcode = 1 if self.crawler_process.bootstrap_failed else exit_status(crawler)
