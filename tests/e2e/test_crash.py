"""Crashes and interruptions of real `scrapy crawl` processes: nothing unwritten counts as seen."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.test_smoke import REPO, scrapy
from tests.helpers import SITE

EXPECTED = json.loads((SITE / "expected.json").read_text(encoding="utf-8"))
EXPECTED_URLS = sorted(e["url"] for e in EXPECTED["expected_items"])


def crawl_args(server, tmp_path: Path, *extra: str) -> list[str]:
    starts = ",".join(server.base_url + p for p in EXPECTED["start_paths"])
    return [
        "crawl", "commentary", "-a", f"start_urls={starts}",
        "-s", f"CARNEGIE_OUTPUT={tmp_path / 'out.jsonl'}", "-s", f"CARNEGIE_REJECTS={tmp_path / 'rejects.jsonl'}",
        "-s", f"CARNEGIE_STATE={tmp_path / 'state.sqlite3'}", "-s", f"CARNEGIE_DATASET={tmp_path / 'dataset'}",
        "-s", f"CARNEGIE_ARCHIVE={tmp_path / 'archive'}",
        "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS=1", *extra,
    ]  # fmt: skip


def start(args: list[str]) -> subprocess.Popen[str]:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "scrapy", *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def part_files(output: Path) -> list[Path]:
    """The part files of *output*: each run writes its own, `<output>.<token>.part`."""
    return sorted(output.parent.glob(f"{output.name}.*.part"))


def wait_for_lines(output: Path, count: int, process: subprocess.Popen[str], timeout: float = 60) -> Path:
    """Wait until the running crawl's part file of *output* holds *count* lines; return that file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        parts = part_files(output)
        if parts and parts[-1].read_bytes().count(b"\n") >= count:
            return parts[-1]
        assert process.poll() is None, "the crawl ended before it could be interrupted"
        time.sleep(0.05)
    raise AssertionError(f"{output} did not reach {count} lines")


def documents_in_state(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_kill_9_loses_nothing_and_marks_nothing_unwritten_as_seen(site_server, tmp_path):
    site_server.site.delay = 0.3
    process = start(crawl_args(site_server, tmp_path))
    try:
        part = wait_for_lines(tmp_path / "out.jsonl", 2, process)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)  # reaps it and closes its pipe

    assert not (tmp_path / "out.jsonl").exists(), "only a .part file after a crash"
    written = read_lines(part)  # every line is whole JSON
    assert 2 <= len(written) < len(EXPECTED_URLS)
    assert documents_in_state(tmp_path / "state.sqlite3") == 0, "nothing counts as seen before the output is"

    site_server.site.delay = 0
    result = scrapy(*crawl_args(site_server, tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    recovered = read_lines(tmp_path / "out.jsonl")
    assert sorted(r["url"] for r in recovered) == EXPECTED_URLS
    assert {r["crawl_status"] for r in recovered} == {"new"}
    assert documents_in_state(tmp_path / "state.sqlite3") == len(EXPECTED_URLS)
    assert part_files(tmp_path / "out.jsonl") == [part], "the crashed run's lines are kept, not overwritten"
    assert len(read_lines(part)) == len(written)


def test_jobdir_pause_and_resume_completes_the_output_without_duplicates(site_server, tmp_path):
    job = ["-s", f"JOBDIR={tmp_path / 'job'}"]
    site_server.site.delay = 0.3
    process = start(crawl_args(site_server, tmp_path, *job))
    part = wait_for_lines(tmp_path / "out.jsonl", 2, process)
    process.send_signal(signal.SIGINT)  # one Ctrl-C: Scrapy stops gracefully and keeps the job
    log, _ = process.communicate(timeout=60)
    assert process.returncode == 4, log[-3000:]
    assert log.strip().splitlines()[-1].split("] INFO: ", 1)[-1].startswith("Run paused:"), log[-3000:]
    assert "Run failed" not in log, "a deliberate pause is not a failure"
    assert part.exists()
    assert not (tmp_path / "out.jsonl").exists()
    paused = len(read_lines(part))
    assert paused < len(EXPECTED_URLS)

    site_server.site.delay = 0
    result = scrapy(*crawl_args(site_server, tmp_path, *job))
    assert result.returncode == 0, result.stderr[-3000:]
    records = read_lines(tmp_path / "out.jsonl")
    assert sorted(r["url"] for r in records) == EXPECTED_URLS, "complete, and each document once"
    assert not part.exists()
    assert documents_in_state(tmp_path / "state.sqlite3") == len(EXPECTED_URLS)
    manifest = json.loads((tmp_path / "out.manifest.json").read_text())
    assert manifest["output"]["lines"] == len(EXPECTED_URLS)
    assert manifest["health"] == {"ok": True, "reasons": []}


def test_a_markup_change_that_empties_a_field_fails_the_run_and_names_it(tmp_path):
    import shutil

    from carnegie_crawler.devserver import SiteServer

    root = tmp_path / "site"
    shutil.copytree(SITE, root)
    months = "January|February|March|April|May|June|July|August|September|October|November|December"
    dates = re.compile(rf"\b(?:{months}|[A-Z][a-z]{{2}}\.?) \d{{1,2}}, \d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}[T\d:+Z-]*")
    for page in (root / "pages").rglob("*.html"):  # the "redesign" prints no date we can read
        page.write_text(dates.sub("", page.read_text(encoding="utf-8")), encoding="utf-8")
    with SiteServer(root) as server:
        # The fixture site has 10 documents: judge coverage from 5 on (the default waits for 20).
        result = scrapy(*crawl_args(server, tmp_path / "out", "-s", "CARNEGIE_COVERAGE_MIN_ITEMS=5"))
    assert result.returncode == 1, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert "Run failed: field 'published_date' is filled in" in last


def test_a_paused_job_overtaken_by_another_run_starts_afresh(site_server, tmp_path):
    """Another run committed to the state while the job was paused: the job's staged versions may be older
    than that run's, and resuming would write them over the newer ones (found by a review)."""
    job = ["-s", f"JOBDIR={tmp_path / 'job'}"]
    site_server.site.delay = 0.3
    process = start(crawl_args(site_server, tmp_path, *job))
    part = wait_for_lines(tmp_path / "out.jsonl", 2, process)
    process.send_signal(signal.SIGINT)
    log, _ = process.communicate(timeout=60)
    assert process.returncode == 4, log[-3000:]
    paused_run = json.loads((tmp_path / "job" / "carnegie-run.json").read_text())["run_id"]

    site_server.site.delay = 0
    other = ["-s", f"CARNEGIE_OUTPUT={tmp_path / 'other.jsonl'}", "-s", f"CARNEGIE_MANIFEST={tmp_path / 'other.json'}"]
    overtaking = scrapy(*crawl_args(site_server, tmp_path, *other))
    assert overtaking.returncode == 0, overtaking.stderr[-3000:]

    resumed = scrapy(*crawl_args(site_server, tmp_path, *job))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"after run {paused_run} paused" in resumed.stderr
    records = read_lines(tmp_path / "out.jsonl")
    assert sorted(r["url"] for r in records) == EXPECTED_URLS
    assert {r["crawl_status"] for r in records} == {"unchanged"}, "as the overtaking run left them"
    assert paused_run not in {r["run_id"] for r in records}
    assert part.exists(), "the paused run's lines stay in its part file, unpublished"
