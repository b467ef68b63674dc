"""`scrapy crawl`, with the project's checks before the first request and an exit status that tells the truth.

Exit statuses (README, "Exit codes"): 0 healthy and published, 1 unhealthy or
failed, 2 bad input, 3 locked by another run, 4 paused (JOBDIR, resumable).
"""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.spiderloader import get_spider_loader

from ..run.cli import fail, preflight, run_crawler
from ..run.outcome import EXIT_BAD_INPUT, RunStartError
from ..spiders.arguments import SpiderArgumentError, refuse_repeated


def check_repeated(opts: argparse.Namespace) -> None:
    """Before Scrapy turns the `-a` list into a dict (keeping the last of a repeated name): refuse a repeat."""
    try:
        refuse_repeated(opts.spargs)
    except SpiderArgumentError as exc:
        sys.exit(fail(RunStartError(str(exc), EXIT_BAD_INPUT)))


class Command(ScrapyCrawlCommand):
    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        check_repeated(opts)
        super().process_options(args, opts)
        if len(args) != 1 or self.settings is None:
            return  # Scrapy's own usage message follows
        loader = get_spider_loader(self.settings)
        try:
            spider_cls = loader.load(args[0])
        except KeyError:
            known = ", ".join(sorted(loader.list())) or "none"
            print(f"Error: no spider named {args[0]!r} (spiders: {known})", file=sys.stderr)
            sys.exit(EXIT_BAD_INPUT)
        if problem := preflight(spider_cls, opts.spargs, self.settings):
            sys.exit(fail(problem))

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1 or self.crawler_process is None:
            super().run(args, opts)
            return
        crawler = self._create_crawler(args[0])
        self.exitcode = run_crawler(self.crawler_process, crawler, opts.spargs)
