"""`scrapy demo`: crawl the bundled fixture site on 127.0.0.1, no internet needed."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scrapy.commands import BaseRunSpiderCommand

from ..devserver import SiteServer
from ..run.cli import fail, preflight, run_crawler
from ..run.outcome import EXIT_BAD_INPUT, RunStartError
from ..spiders.commentary import CommentarySpider

# Package data: reconstructed pages, found where the package is installed (a checkout, a wheel).
DEMO_SITE = Path(__file__).resolve().parents[1] / "demo_site"
# A local server needs no politeness delays. Set above project priority, below `-s`.
DEMO_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    # A file per run, as by default: the dataset's record of each run names files that still describe it.
    "CARNEGIE_OUTPUT": "data/demo/%(run_id)s.jsonl",
    "CARNEGIE_REJECTS": "data/demo/rejects/%(run_id)s.jsonl",
    "CARNEGIE_STATE": "data/demo-state.sqlite3",
    "CARNEGIE_DATASET": "data/demo-dataset",
    "CARNEGIE_ARCHIVE": "data/demo-archive",
}


class Command(BaseRunSpiderCommand):
    requires_project = True

    def syntax(self) -> str:
        return "[options]"

    def short_desc(self) -> str:
        return "Run the commentary spider against the bundled offline fixture site"

    def long_desc(self) -> str:
        return (
            "Run the commentary spider, with every pipeline, against the bundled demo site served on 127.0.0.1. "
            "It takes no spider argument (-a): the demo site sets them; run `scrapy crawl commentary -a ...` "
            "for your own. Settings (-s) and feeds (-o, -O) apply."
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        if opts.spargs:  # still Scrapy's list of `-a` values
            refused = f"demo takes no spider argument (got -a {opts.spargs[0]}): use scrapy crawl commentary -a ..."
            sys.exit(fail(RunStartError(refused, EXIT_BAD_INPUT)))
        super().process_options(args, opts)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        assert self.crawler_process is not None
        if not (DEMO_SITE / "expected.json").is_file():
            print(f"Error: demo site not found at {DEMO_SITE}", file=sys.stderr)
            self.exitcode = 2
            return
        start_paths = json.loads((DEMO_SITE / "expected.json").read_text())["start_paths"]
        with SiteServer(DEMO_SITE) as server:
            start_urls = ",".join(server.base_url + path for path in start_paths)
            settings = self.settings.copy()
            settings.setdict(DEMO_SETTINGS, priority="spider")
            if problem := preflight(CommentarySpider, {"start_urls": start_urls}, settings):
                self.exitcode = fail(problem)
                return
            print(f"Serving the demo site at {server.base_url}; crawling {len(start_paths)} start page(s)")
            # Spider-level settings: above the project's, below `-s` on the command line.
            demo_spider = type("DemoCommentarySpider", (CommentarySpider,), {"custom_settings": DEMO_SETTINGS})
            crawler = self.crawler_process.create_crawler(demo_spider)
            self.exitcode = run_crawler(self.crawler_process, crawler, {"start_urls": start_urls})
