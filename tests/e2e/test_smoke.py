"""`scrapy crawl` as users run it: a real subprocess, the project's settings, the local site."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.helpers import SITE, TESTS

EXPECTED = json.loads((SITE / "expected.json").read_text(encoding="utf-8"))
REPO = TESTS.parent


def scrapy(*args: str, cwd=REPO, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "scrapy", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_scrapy_crawl_writes_the_dataset(site_server, tmp_path):
    starts = ",".join(site_server.base_url + p for p in EXPECTED["start_paths"])
    out = tmp_path / "out.jsonl"
    result = scrapy(
        "crawl", "commentary", "-a", f"start_urls={starts}", "-O", str(tmp_path / "feed.jsonl"),
        "-s", f"CARNEGIE_OUTPUT={out}", "-s", f"CARNEGIE_REJECTS={tmp_path / 'rejects.jsonl'}",
        "-s", f"CARNEGIE_STATE={tmp_path / 'state.sqlite3'}", "-s", f"CARNEGIE_DATASET={tmp_path / 'dataset'}",
        "-s", f"CARNEGIE_ARCHIVE={tmp_path / 'archive'}",
        "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["url"] for r in records) == sorted(e["url"] for e in EXPECTED["expected_items"])
    feed = [json.loads(line) for line in (tmp_path / "feed.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(feed) == len(records)
    assert "Traceback" not in result.stderr
    # A healthy run also brings the dataset up to date: one row per document, with its run id.
    import pyarrow.parquet as pq

    documents = pq.read_table(tmp_path / "dataset" / "documents.parquet")
    assert sorted(documents.column("url").to_pylist()) == sorted(r["url"] for r in records)
    assert set(documents.column("run_id").to_pylist()) == {records[0]["run_id"]}


def test_bad_argument_is_one_line_and_exit_2(tmp_path):
    result = scrapy("crawl", "commentary", "-a", "types=blogpost")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
    assert result.stderr.startswith("Error: unknown content type 'blogpost'")


def test_missing_start_urls_file_is_one_line_and_exit_2(tmp_path):
    result = scrapy("crawl", "commentary", "-a", f"start_urls_file={tmp_path / 'nope.txt'}")
    assert result.returncode == 2
    assert "Error: cannot read start_urls_file" in result.stderr
    assert "Traceback" not in result.stderr


def test_unwritable_output_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "file").write_text("")
    result = scrapy("crawl", "commentary", "-s", f"CARNEGIE_OUTPUT={tmp_path / 'file' / 'x.jsonl'}")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: CARNEGIE_OUTPUT: cannot create directory")
    assert "Traceback" not in result.stderr


def test_scrapy_demo_twice_on_an_unchanged_site_reports_nothing_updated(tmp_path):
    """The demo serves the site on a new port each time; items name canonical URLs, so nothing changes."""
    paths = [f"CARNEGIE_OUTPUT={tmp_path / 'demo.jsonl'}", f"CARNEGIE_STATE={tmp_path / 'state.sqlite3'}"]
    paths += [f"CARNEGIE_DATASET={tmp_path / 'dataset'}", f"CARNEGIE_ARCHIVE={tmp_path / 'archive'}"]
    args = ["demo", *(arg for path in paths for arg in ("-s", path))]
    first, second = scrapy(*args), scrapy(*args)
    assert (first.returncode, second.returncode) == (0, 0), second.stderr[-2000:]
    manifest = json.loads((tmp_path / "demo.manifest.json").read_text(encoding="utf-8"))
    items = manifest["counts"]["items"]
    assert (items["new"], items["updated"], items["unchanged"]) == (0, 0, len(EXPECTED["expected_items"]))
