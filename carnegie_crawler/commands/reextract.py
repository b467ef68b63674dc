"""`scrapy reextract`: run today's extraction and every pipeline over the archived pages; no request is made.

    scrapy reextract                                   # the latest archived response of each URL
    scrapy reextract -a archives=data/archive/X.warc.gz,Y.warc.gz
    scrapy reextract -a since=2026-01-01 -a until=2026-03-31 -a workers=2

A run like `scrapy crawl`'s (docs/runs.md): the same checks before it starts (one `Error:`
line and exit 2 for a bad argument, a missing archive or a bad setting; 3 when another run
holds the state), the same owner, output, manifest (mode "reextract"), state and exit status.
"""

from __future__ import annotations

import argparse
import sys

from scrapy.commands import BaseRunSpiderCommand
from scrapy.exceptions import UsageError

from ..run.cli import fail, preflight, run_crawler
from ..run.outcome import EXIT_BAD_INPUT, RunStartError
from ..spiders.arguments import SpiderArgumentError
from ..spiders.reextract import ReextractSpider
from ..spiders.reextract_arguments import parse_arguments, resolve_archives
from .crawl import check_repeated


class Command(BaseRunSpiderCommand):
    requires_project = True

    def syntax(self) -> str:
        return "[options]"

    def short_desc(self) -> str:
        return "Re-extract the archived pages (WARC) with today's extractor, without fetching anything"

    def long_desc(self) -> str:
        return (
            "Re-extract the archived pages with today's extractor and run every pipeline, without a request. "
            "Spider arguments (-a): archives=FILE[,FILE...] (default: every archive in CARNEGIE_ARCHIVE), "
            "since=/until= (archive dates, YYYY-MM-DD or an ISO date and time), workers=N (processes; "
            "default: one per core, 1 extracts in this process). Each at most once, none empty."
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        check_repeated(opts)
        super().process_options(args, opts)
        if args:
            raise UsageError("reextract takes no positional argument (name archive files with -a archives=...)")
        assert self.settings is not None
        # Before Scrapy sets up its logging: bad input is one `Error:` line, before anything runs.
        try:
            resolve_archives(parse_arguments(opts.spargs), self.settings)
        except SpiderArgumentError as exc:
            sys.exit(fail(RunStartError(str(exc), EXIT_BAD_INPUT)))
        if problem := preflight(ReextractSpider, opts.spargs, self.settings):
            sys.exit(fail(problem))

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.crawler_process is not None
        crawler = self.crawler_process.create_crawler(ReextractSpider)
        self.exitcode = run_crawler(self.crawler_process, crawler, opts.spargs)
