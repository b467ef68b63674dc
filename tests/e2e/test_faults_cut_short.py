"""A run killed (-9) at the end of its run, between publishing its files and committing its state.

The next run on the state file must neither emit the killed run's documents again as new (a
published output the state does not know of) nor leave an orphaned output nobody committed: once
the killed run's manifest is published it finishes the run (the renames left, then the commit), and
takes the run back otherwise.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.faults import (
    EXPECTED_URLS,
    check_manifest,
    crawl_args,
    documents_in_state,
    env,
    run,
    urls,
    whole_json_lines,
)

# Runs scrapy with one step of the end of the run replaced by SIGKILL: "commit" kills instead of the
# state commit (manifest and files published); "publish" kills instead of renaming the files into
# place (the manifest written to its part file); "output" kills after the manifest is renamed into
# place, before the output is.
KILLER = """
import os, signal, sys
from scrapy.cmdline import execute
from carnegie_crawler.run.files import RunFiles
from carnegie_crawler.run.store import StateStore

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

def no_space(*args, **kwargs):
    raise OSError(28, "No space left on device")

if sys.argv[1] == "commit":
    StateStore.commit_run = die
elif sys.argv[1] == "commit-fails":
    StateStore.commit_run = no_space
elif sys.argv[1] == "removals":  # before the manifest is written
    StateStore.find_removals = die
elif sys.argv[1] == "publish":
    RunFiles.publish = die
elif sys.argv[1] == "settle":  # committed; the files replaced at fixed names not yet dropped
    RunFiles.settle = die
else:
    def manifest_only(self, manifest_first=True):
        self.to_publish(manifest_first)[0].publish()
        die()
    RunFiles.publish = manifest_only
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
    assert killed_run(site_server, out, state, "publish") == []
    assert sorted(out.glob("*.manifest.json")) == []  # killed before its first rename

    second = run(crawl_args(site_server, tmp_path / "run2", "-a", "incremental=true", state=state,
                            output=tmp_path / "run2" / "%(run_id)s.jsonl"))  # fmt: skip
    assert second.returncode == 0, second.stderr[-3000:]
    # Taken back: its files under their part names, as an unhealthy run's would be; nothing published.
    assert sorted(out.glob("*.manifest.json")) == []
    [part] = sorted(out.glob("*.jsonl.*.part"))
    assert sorted(urls(whole_json_lines(part))) == EXPECTED_URLS
    assert sorted(out.glob("*.warc.gz")) == []
    # The next run emits every document as new, exactly once, and commits them.
    [published] = sorted((tmp_path / "run2").glob("*.jsonl"))
    records = whole_json_lines(published)
    assert sorted(urls(records)) == EXPECTED_URLS
    assert {record["crawl_status"] for record in records} == {"new"}
    assert documents_in_state(state) == len(EXPECTED_URLS)
    run_id = part.name.split(".jsonl")[0]
    assert f"Run {run_id} was cut short while publishing: taken back" in second.stderr


@pytest.mark.e2e
def test_killed_after_its_manifest_was_published_the_run_is_finished_by_the_next_one(site_server, tmp_path):
    """A reader may have trusted the published manifest already: the run is finished, never taken back."""
    state = tmp_path / "state.sqlite3"
    out = tmp_path / "run1"
    assert killed_run(site_server, out, state, "output") == []  # never an output without its manifest
    [manifest] = sorted(out.glob("*.manifest.json"))

    second = run(crawl_args(site_server, tmp_path / "run2", "-a", "incremental=true", state=state,
                            output=tmp_path / "run2" / "%(run_id)s.jsonl"))  # fmt: skip
    assert second.returncode == 0, second.stderr[-3000:]
    body = check_manifest(manifest)  # the output it vouches for is in place now
    assert body["published"] is True
    assert sorted(urls(whole_json_lines(out / body["output"]["path"]))) == EXPECTED_URLS
    assert sorted(out.glob("*.part")) == []
    assert documents_in_state(state) == len(EXPECTED_URLS)
    [again] = sorted((tmp_path / "run2").glob("*.jsonl"))
    assert "new" not in {record["crawl_status"] for record in whole_json_lines(again)}
    assert f"Run {body['run_id']} was cut short after publishing its manifest" in second.stderr


@pytest.mark.e2e
def test_a_run_killed_while_publishing_over_fixed_names_is_finished_over_them(site_server, tmp_path):
    state, fixed = tmp_path / "state.sqlite3", tmp_path / "run1" / "items.jsonl"
    manifest = fixed.with_name("items.manifest.json")
    first = run(crawl_args(site_server, tmp_path / "run1", output=fixed, state=state))
    assert first.returncode == 0, first.stderr[-2000:]
    vouched = manifest.read_bytes()
    script = tmp_path / "killer.py"
    script.write_text(KILLER, encoding="utf-8")
    args = crawl_args(site_server, tmp_path / "run1", "-a", "incremental=false", output=fixed, state=state)
    assert run(args, prefix=[sys.executable, str(script), "output"]).returncode == -9
    assert manifest.read_bytes() != vouched  # the killed run's manifest took its place

    third = run(crawl_args(site_server, tmp_path / "run3", output=tmp_path / "run3" / "items.jsonl", state=state))
    assert third.returncode == 0, third.stderr[-3000:]
    body = check_manifest(manifest)  # the killed run's manifest, and the output it vouches for
    assert body["published"] is True
    assert body["run_id"] != json.loads(vouched)["run_id"]
    assert sorted(urls(whole_json_lines(fixed))) == EXPECTED_URLS
    assert sorted(fixed.parent.glob("*.previous")) == []
    assert "was cut short after publishing its manifest" in third.stderr


@pytest.mark.e2e
@pytest.mark.parametrize("at", ["removals", "commit-fails"])
def test_an_earlier_runs_manifest_at_a_fixed_name_survives_a_run_that_did_not_publish(site_server, tmp_path, at):
    """Killed before its manifest was written, or its commit failed and was undone: the earlier run's
    output and the manifest that vouches for it stay as they were."""
    state, fixed = tmp_path / "state.sqlite3", tmp_path / "run1" / "items.jsonl"
    manifest = fixed.with_name("items.manifest.json")
    assert run(crawl_args(site_server, tmp_path / "run1", output=fixed, state=state)).returncode == 0
    before, vouched = fixed.read_bytes(), manifest.read_bytes()
    script = tmp_path / "killer.py"
    script.write_text(KILLER, encoding="utf-8")
    args = crawl_args(site_server, tmp_path / "run1", "-a", "incremental=false", output=fixed, state=state)
    second = run(args, prefix=[sys.executable, str(script), at])
    assert second.returncode == (-9 if at == "removals" else 1), second.stderr[-2000:]
    third = run(crawl_args(site_server, tmp_path / "run3", output=tmp_path / "run3" / "items.jsonl", state=state))
    assert third.returncode == 0, third.stderr[-3000:]
    assert fixed.read_bytes() == before
    assert manifest.read_bytes() == vouched
    assert check_manifest(manifest)["published"] is True


@pytest.mark.e2e
def test_a_run_killed_after_publishing_is_committed_by_a_next_run_started_elsewhere(site_server, tmp_path):
    """The note names its files by absolute path: relative settings resolve against the first run's directory."""
    state = tmp_path / "state.sqlite3"
    out = tmp_path / "run1"
    out.mkdir()
    script = tmp_path / "killer.py"
    script.write_text(KILLER, encoding="utf-8")
    relative = crawl_args(site_server, out, output="run1/%(run_id)s.jsonl", state=state)
    project = env() | {"SCRAPY_SETTINGS_MODULE": "carnegie_crawler.settings"}  # run outside the checkout
    killed = subprocess.run([sys.executable, str(script), "commit", *relative], cwd=tmp_path, env=project,
                            capture_output=True, text=True, timeout=90, check=False)  # fmt: skip
    assert killed.returncode == -9, killed.stderr[-2000:]
    second = run(crawl_args(site_server, tmp_path / "run2", "-a", "incremental=true", state=state,
                            output=tmp_path / "run2" / "%(run_id)s.jsonl"))  # fmt: skip
    assert second.returncode == 0, second.stderr[-3000:]
    assert "was cut short after publishing" in second.stderr
    [again] = sorted((tmp_path / "run2").glob("*.jsonl"))
    assert "new" not in {record["crawl_status"] for record in whole_json_lines(again)}


@pytest.mark.e2e
def test_a_run_killed_after_its_commit_leaves_no_replaced_file_behind_for_good(site_server, tmp_path):
    """Over fixed names a run keeps a link to each file it replaces until its commit; killed just after
    the commit, the next run removes them (they held a whole older output's bytes on disk)."""
    state, fixed = tmp_path / "state.sqlite3", tmp_path / "run1" / "items.jsonl"
    assert run(crawl_args(site_server, tmp_path / "run1", output=fixed, state=state)).returncode == 0
    script = tmp_path / "killer.py"
    script.write_text(KILLER, encoding="utf-8")
    args = crawl_args(site_server, tmp_path / "run1", "-a", "incremental=false", output=fixed, state=state)
    assert run(args, prefix=[sys.executable, str(script), "settle"]).returncode == -9
    assert sorted(fixed.parent.glob("*.previous")) != []
    body = check_manifest(fixed.with_name("items.manifest.json"))  # the killed run's, committed

    third = run(crawl_args(site_server, tmp_path / "run1", "-a", "incremental=true", output=fixed, state=state))
    assert third.returncode == 0, third.stderr[-3000:]
    assert sorted(fixed.parent.glob("*.previous")) == []
    assert "kept by an earlier run killed before it could" in third.stderr
    assert body["published"] is True
