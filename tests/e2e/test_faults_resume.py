"""Resuming a paused JOBDIR job: only with the command, arguments and files that paused it, and its
coverage over every line it publishes. Found by a review: a job resumed with another output or state
file, other arguments, or by `scrapy reextract`, mixed two runs (documents committed but never
published; a manifest describing what the output does not hold), and coverage counted only the
lines written after the resume."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from itemadapter import ItemAdapter

from carnegie_crawler.run.health import Coverage
from tests.e2e.faults import crawl_args, crawling, lines_in_parts, run, wait_until

pytestmark = pytest.mark.e2e


def paused(site_server, tmp_path: Path) -> list[str]:
    """A job paused (one Ctrl-C) after two lines; returns the JOBDIR arguments to resume it with."""
    job = ["-s", f"JOBDIR={tmp_path / 'job'}"]
    site_server.site.delay = 0.3
    with crawling(crawl_args(site_server, tmp_path / "out", *job), tmp_path / "first.log") as first:
        wait_until(lambda: lines_in_parts(tmp_path / "out") >= 2, "two lines", crawl=first)
        first.signal(signal.SIGINT)
        site_server.site.delay = 0
        assert first.wait(60) == 4, first.log[-2000:]
    return job


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda tmp: {"output": tmp / "out" / "other.jsonl"}, "output"),
        (lambda tmp: {"state": tmp / "other.sqlite3"}, "state"),
        (lambda tmp: {"extra": ["-a", "types=qa"]}, "arguments"),
    ],
    ids=["another-output", "another-state", "other-arguments"],
)
def test_a_paused_job_resumed_otherwise_is_refused_and_stays_resumable(site_server, tmp_path, change, named):
    job = paused(site_server, tmp_path)
    given = change(tmp_path)
    extra = given.pop("extra", [])
    refused = run(crawl_args(site_server, tmp_path / "out", *job, *extra, **given))
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert refused.stderr.strip().splitlines()[-1].startswith("Error: JOBDIR"), refused.stderr[-2000:]
    assert named in refused.stderr
    assert sorted((tmp_path / "out").glob("*.jsonl")) == []
    resumed = run(crawl_args(site_server, tmp_path / "out", *job))  # the same command: it resumes
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming" in resumed.stderr


def test_scrapy_reextract_does_not_resume_a_paused_crawl(site_server, tmp_path):
    assert run(crawl_args(site_server, tmp_path / "full")).returncode == 0  # an archive to re-extract
    job = paused(site_server, tmp_path)
    out = tmp_path / "out"
    settings = ["-s", f"CARNEGIE_OUTPUT={out / 'out.jsonl'}", "-s", f"CARNEGIE_STATE={out / 'state.sqlite3'}",
                "-s", "CARNEGIE_DATASET=", "-s", f"CARNEGIE_ARCHIVE={tmp_path / 'full' / 'archive'}"]  # fmt: skip
    refused = run(["reextract", "-a", "workers=1", *settings, *job])
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "spider 'reextract', not 'commentary'" in refused.stderr


def test_a_resumed_runs_coverage_covers_every_line_it_publishes(site_server, tmp_path):
    job = paused(site_server, tmp_path)
    resumed = run(crawl_args(site_server, tmp_path / "out", *job))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    lines = (tmp_path / "out" / "out.jsonl").read_text(encoding="utf-8").splitlines()
    coverage = Coverage([])
    for line in lines:
        coverage.add(ItemAdapter(json.loads(line)))
    manifest = json.loads((tmp_path / "out" / "out.manifest.json").read_text(encoding="utf-8"))
    assert manifest["field_coverage"] == coverage.shares()
