"""Spider arguments (`-a name=value`) that say nothing, say it twice or go where none is taken: refused.

README: "An unknown or empty argument is refused with exit 2", one `Error:` line, before anything
runs. Each case runs a real `python -m scrapy` process; a crawl that was not refused would run
against the local site and end 0 or 1, never 2 with the line asked for.
"""

from __future__ import annotations

import pytest

from tests.e2e.faults import crawl_args, run, start_urls
from tests.e2e.test_bad_input import one_line_error


def crawl(server, tmp_path, *arguments: str):
    """`scrapy crawl commentary` with these `-a` arguments (start_urls: the local site, unless given)."""
    named = [a.split("=", 1)[0] for a in arguments]
    starts = [] if "start_urls" in named else ["-a", f"start_urls={start_urls(server)}"]
    spider_args = [part for argument in arguments for part in ("-a", argument)]
    return run(crawl_args(None, tmp_path / "out", *starts, *spider_args))


def reextract(tmp_path, *arguments: str):
    """`scrapy reextract` over an empty archive directory: a run that got past its arguments says so."""
    spider_args = [part for argument in arguments for part in ("-a", argument)]
    return run([
        "reextract", *spider_args, "-s", f"CARNEGIE_ARCHIVE={tmp_path / 'archive'}",
        "-s", f"CARNEGIE_STATE={tmp_path / 'state.sqlite3'}", "-s", f"CARNEGIE_OUTPUT={tmp_path / 're.jsonl'}",
        "-s", f"CARNEGIE_REJECTS={tmp_path / 'rejects.jsonl'}", "-s", "CARNEGIE_DATASET=",
    ])  # fmt: skip


@pytest.mark.parametrize(
    "argument",
    [
        "types=",
        "types=,",  # ran as a healthy run that wrote nothing
        "types= , ",
        "since=",
        "since=  ",
        "incremental=",
        "start_urls=",
        "start_urls=,",
        "start_urls_file=",
    ],
)
def test_an_empty_crawl_argument_is_refused(site_server, tmp_path, argument):
    name = argument.split("=", 1)[0]
    one_line_error(crawl(site_server, tmp_path, argument), f"{name} is empty")
    assert not (tmp_path / "out" / "out.jsonl").exists()


@pytest.mark.parametrize("argument", ["since=", "until=", "workers=", "workers= ", "archives=", "archives=,"])
def test_an_empty_reextract_argument_is_refused(tmp_path, argument):
    one_line_error(reextract(tmp_path, argument), f"{argument.split('=', 1)[0]} is empty")


def test_a_repeated_crawl_argument_is_refused_not_the_last_kept(site_server, tmp_path):
    result = crawl(site_server, tmp_path, "types=commentary", "types=qa")
    one_line_error(result, "types is given twice")
    assert not (tmp_path / "out" / "out.jsonl").exists()
    same = crawl(site_server, tmp_path, "since=2024-01-01", "since=2024-01-01")
    one_line_error(same, "since is given twice")


def test_a_repeated_reextract_argument_is_refused(tmp_path):
    one_line_error(reextract(tmp_path, "workers=1", "workers=2"), "workers is given twice")


def test_demo_takes_no_spider_argument(tmp_path):
    result = run([
        "demo", "-a", "bogus=1", "-a", "types=nonsense",
        "-s", f"CARNEGIE_OUTPUT={tmp_path}/demo.jsonl", "-s", f"CARNEGIE_STATE={tmp_path}/state.sqlite3",
        "-s", f"CARNEGIE_REJECTS={tmp_path}/rejects.jsonl", "-s", "CARNEGIE_DATASET=", "-s", "CARNEGIE_ARCHIVE=",
    ])  # fmt: skip
    one_line_error(result, "demo takes no spider argument")
    assert not (tmp_path / "demo.jsonl").exists()
