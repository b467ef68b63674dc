"""Faults between a run's first rename and its state commit that the cut-short tests do not reach.

Found by a review: `scrapy dataset` run between a kill and the next crawl, a take-back that itself
fails, a run without a state file (no note, so nothing finishes its renames later), and an unhealthy
run over fixed file names.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
from collections import Counter

import pyarrow.parquet as pq
import pytest

from tests.e2e.faults import (
    EXPECTED_URLS,
    check_manifest,
    crawl_args,
    documents_in_state,
    run,
    whole_json_lines,
)
from tests.e2e.test_faults_dataset_archive import KILLER, check_version, crawl, killed_at, scrapy, settings

pytestmark = pytest.mark.e2e


def test_scrapy_dataset_between_a_kill_and_the_next_run_waits_for_the_run_to_be_finished(site_server, tmp_path):
    """Killed after its manifest and output were renamed into place, before its archive was. A
    `scrapy dataset` (another cron line) before the next crawl must not apply the run yet; the next
    crawl finishes it; the dataset then holds it once."""
    data, state = tmp_path / "data", tmp_path / "state.sqlite3"
    # Renames in data/: the manifest's tmp file to its part (write_json), the part to the manifest, the
    # output; the archive (another directory) is not renamed yet.
    killed = scrapy(*crawl(site_server, tmp_path), prefix=KILLER, extra_env=killed_at(data, 3, "after"))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    [manifest] = sorted(data.glob("*.manifest.json"))
    killed_run = json.loads(manifest.read_text(encoding="utf-8"))["run_id"]
    assert documents_in_state(state) == 0

    between = scrapy("dataset", *settings(tmp_path))
    assert between.returncode == 0, between.stderr[-3000:]
    assert f"Skipping run {killed_run}: cut short while publishing" in between.stderr
    assert killed_run not in check_version(tmp_path / "ds" / "dataset")

    following = scrapy(*crawl(site_server, tmp_path, "-a", "incremental=true"))
    assert following.returncode == 0, following.stderr[-3000:]
    assert f"Run {killed_run} was cut short after publishing its manifest" in following.stderr
    assert sorted((tmp_path / "archive").glob(f"{killed_run}.warc.gz")), "the archive is published too"
    assert documents_in_state(state) == len(EXPECTED_URLS)
    [again] = [path for path in data.glob("*.jsonl") if killed_run not in path.name]
    assert "new" not in {record["crawl_status"] for record in whole_json_lines(again)}

    applied = check_version(tmp_path / "ds" / "dataset")
    assert killed_run in applied
    history = pq.read_table(tmp_path / "ds" / "dataset" / "history.parquet").to_pylist()
    news = Counter(row["url"] for row in history if row["crawl_status"] == "new")
    assert sorted(news) == EXPECTED_URLS
    assert set(news.values()) == {1}, news


# The state commit fails (a full disk), and so does renaming the output back to its part name (a full
# disk fails a rename too, as does EIO): only that one rename is refused.
UNDO_FAILS = """
import os, sys
from scrapy.cmdline import execute
from carnegie_crawler.run.errors import StateError
from carnegie_crawler.run.store import StateStore

def no_space(*args, **kwargs):
    raise StateError("state file: database or disk is full", "io")

StateStore.commit_run = no_space
real = os.replace
def replace(src, dst, *a, **k):
    if str(src).endswith(".jsonl") and str(dst).endswith(".part"):
        raise OSError(28, "No space left on device", str(src))
    return real(src, dst, *a, **k)
os.replace = replace
sys.argv = ["scrapy", *sys.argv[1:]]
execute()
"""


def test_an_output_that_could_not_be_taken_back_is_taken_back_by_the_next_run(site_server, tmp_path):
    data, state = tmp_path / "data", tmp_path / "state.sqlite3"
    script = tmp_path / "undo_fails.py"
    script.write_text(UNDO_FAILS, encoding="utf-8")
    failed = scrapy(*crawl(site_server, tmp_path, CARNEGIE_DATASET=""), prefix=[sys.executable, str(script)])
    assert failed.returncode == 1, failed.stderr[-2000:]
    [stuck] = sorted(data.glob("*.jsonl"))  # the rename back was refused
    db = sqlite3.connect(state)
    try:
        assert db.execute("SELECT run_id FROM publishing").fetchall() != [], "the note must stay"
    finally:
        db.close()

    following = scrapy(*crawl(site_server, tmp_path, "-a", "incremental=true", CARNEGIE_DATASET=""))
    assert following.returncode == 0, following.stderr[-3000:]
    assert "was cut short while publishing: taken back" in following.stderr
    assert not stuck.exists()
    seen = Counter(record["url"] for path in data.glob("*.jsonl") for record in whole_json_lines(path))
    assert sorted(seen) == EXPECTED_URLS
    assert set(seen.values()) == {1}, "a document published twice"


def test_a_run_without_a_state_file_never_leaves_a_manifest_vouching_for_a_missing_output(site_server, tmp_path):
    """No state file (allowed; the dataset is then off): no note, so nothing finishes the renames of a
    killed run. Its manifest goes last: a kill between them leaves an output without a manifest."""
    data = tmp_path / "data"
    args = crawl(site_server, tmp_path, CARNEGIE_STATE="", CARNEGIE_DATASET="")
    # Renames in data/: the manifest's tmp file to its part (write_json), then the output.
    killed = scrapy(*args, prefix=KILLER, extra_env=killed_at(data, 2, "after"))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert len(sorted(data.glob("*.jsonl"))) == 1
    again = scrapy(*crawl(site_server, tmp_path, CARNEGIE_STATE="", CARNEGIE_DATASET=""))
    assert again.returncode == 0, again.stderr[-2000:]
    manifests = sorted(data.glob("*.manifest.json"))
    assert len(manifests) == 1, "only the second run got to publish its manifest"
    for manifest in manifests:
        body = json.loads(manifest.read_text(encoding="utf-8"))
        assert body["published"] is True
        assert (manifest.parent / body["output"]["path"]).exists(), f"{manifest.name} vouches for a missing output"


def test_an_unhealthy_run_over_fixed_names_leaves_the_earlier_runs_manifest_vouching(site_server, tmp_path):
    """An unhealthy run publishes nothing; its unpublished manifest must not replace the earlier run's,
    or a rebuild from the run files would skip that earlier run's published output."""
    state, fixed = tmp_path / "state.sqlite3", tmp_path / "run1" / "items.jsonl"
    manifest = fixed.with_name("items.manifest.json")
    assert run(crawl_args(site_server, tmp_path / "run1", output=fixed, state=state)).returncode == 0
    vouched = manifest.read_bytes()
    gone = f"{site_server.base_url}/no/such/page"  # no start page fetched: unhealthy
    args = crawl_args(None, tmp_path / "run1", "-a", f"start_urls={gone}", output=fixed, state=state)
    unhealthy = run(args)
    assert unhealthy.returncode == 1, unhealthy.stderr[-2000:]
    assert manifest.read_bytes() == vouched
    assert check_manifest(manifest)["published"] is True
    [beside] = sorted(fixed.parent.glob("items.manifest.json.*.part"))
    assert json.loads(beside.read_text(encoding="utf-8"))["published"] is False
