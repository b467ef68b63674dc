"""A run killed (-9) at the end of its run, between publishing its files and committing its state.

The next run on the state file must neither emit the killed run's documents again as new (a
published output the state does not know of) nor leave an orphaned output nobody committed: it
finishes the killed run's commit when its manifest says published, and takes the run back otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.e2e.faults import (
    EXPECTED_URLS,
    check_manifest,
    crawl_args,
    documents_in_state,
    run,
    urls,
    whole_json_lines,
)

# Runs scrapy with one step of the end of the run followed by SIGKILL: "commit" kills instead of the
# state commit (files published, manifest written); "publish" kills right after the files are renamed.
KILLER = """
import os, signal, sys
from scrapy.cmdline import execute
from carnegie_crawler.run.files import RunFiles
from carnegie_crawler.run.store import StateStore

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if sys.argv[1] == "commit":
    StateStore.commit_run = die
else:
    publish = RunFiles.publish
    def publish_then_die(self):
        publish(self)
        die()
    RunFiles.publish = publish_then_die
sys.argv = ["scrapy", *sys.argv[2:]]
execute()
"""


def killed_run(server, out: Path, state: Path, at: str) -> list[Path]:
    script = out.parent / "killer.py"
    script.write_text(KILLER, encoding="utf-8")
    result = run(
        crawl_args(server, out, output=out / "%(run_id)s.jsonl", state=state), prefix=[sys.executable, str(script), at]
    )
    assert result.returncode == -9, result.stderr[-2000:]
    return sorted(out.glob("*.jsonl"))


@pytest.mark.e2e
def test_killed_before_its_state_commit_the_run_is_committed_by_the_next_one(site_server, tmp_path):
    state = tmp_path / "state.sqlite3"
    [published] = killed_run(site_server, tmp_path / "run1", state, "commit")
    manifest = check_manifest(published.with_name(published.name.replace(".jsonl", ".manifest.json")))
    assert manifest["published"] is True
    assert documents_in_state(state) == 0  # killed before the commit

    second = run(
        crawl_args(
            site_server,
            tmp_path / "run2",
            "-a",
            "incremental=true",
            output=tmp_path / "run2" / "%(run_id)s.jsonl",
            state=state,
        )
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert documents_in_state(state) == len(EXPECTED_URLS)
    assert sorted(urls(whole_json_lines(published))) == EXPECTED_URLS
    # The killed run's documents are not emitted again as new.
    [again] = sorted((tmp_path / "run2").glob("*.jsonl"))
    statuses = [record["crawl_status"] for record in whole_json_lines(again)]
    assert "new" not in statuses, statuses
    assert f"Run {manifest['run_id']} was cut short after publishing" in second.stderr


@pytest.mark.e2e
def test_killed_while_publishing_the_run_is_taken_back_by_the_next_one(site_server, tmp_path):
    state = tmp_path / "state.sqlite3"
    out = tmp_path / "run1"
    [orphan] = killed_run(site_server, out, state, "publish")
    run_id = orphan.name.removesuffix(".jsonl")
    assert not (out / f"{run_id}.manifest.json").exists()  # killed before the manifest

    second = run(
        crawl_args(
            site_server,
            tmp_path / "run2",
            "-a",
            "incremental=true",
            output=tmp_path / "run2" / "%(run_id)s.jsonl",
            state=state,
        )
    )
    assert second.returncode == 0, second.stderr[-3000:]
    # Its output is back under its part name, as an unhealthy run's would be: no published orphan.
    assert not orphan.exists()
    [part] = sorted(out.glob(f"{orphan.name}.*.part"))
    assert sorted(urls(whole_json_lines(part))) == EXPECTED_URLS
    assert not sorted(out.glob("*.warc.gz"))  # the archive went back to its part name too
    # The next run emits every document as new, exactly once, and commits them.
    [published] = sorted((tmp_path / "run2").glob("*.jsonl"))
    records = whole_json_lines(published)
    assert sorted(urls(records)) == EXPECTED_URLS
    assert {record["crawl_status"] for record in records} == {"new"}
    assert documents_in_state(state) == len(EXPECTED_URLS)
    assert f"Run {run_id} was cut short while publishing: taken back" in second.stderr


@pytest.mark.e2e
def test_a_run_killed_while_publishing_over_a_fixed_output_name_gives_the_old_file_back(site_server, tmp_path):
    state, fixed = tmp_path / "state.sqlite3", tmp_path / "run1" / "items.jsonl"
    first = run(crawl_args(site_server, tmp_path / "run1", output=fixed, state=state))
    assert first.returncode == 0, first.stderr[-2000:]
    before = fixed.read_bytes()
    script = tmp_path / "killer.py"
    script.write_text(KILLER, encoding="utf-8")
    args = crawl_args(site_server, tmp_path / "run1", "-a", "incremental=false", output=fixed, state=state)
    assert run(args, prefix=[sys.executable, str(script), "publish"]).returncode == -9
    assert fixed.read_bytes() != before  # the killed run's file took its place

    third = run(crawl_args(site_server, tmp_path / "run3", output=tmp_path / "run3" / "items.jsonl", state=state))
    assert third.returncode == 0, third.stderr[-3000:]
    assert fixed.read_bytes() == before
    assert json.loads((tmp_path / "run1" / "items.manifest.json").read_text())["published"] is True
    assert "was cut short while publishing: taken back" in third.stderr
