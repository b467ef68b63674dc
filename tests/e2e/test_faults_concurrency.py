"""Two `scrapy crawl` runs over one state file at once: they serialise on a lock, or the second one
gives up cleanly (exit 3) without touching the first run's files."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.faults import (
    EXPECTED_URLS,
    check_manifest,
    crawl_args,
    crawling,
    described_file,
    lines_in_parts,
    part_files,
    run,
    wait_until,
    whole_json_lines,
)


@pytest.mark.e2e
def test_two_runs_started_in_the_same_second_publish_each_document_once(site_server, tmp_path):
    site_server.site.delay = 0.2  # the first run holds the state for a few seconds
    state = tmp_path / "state.sqlite3"
    template = str(tmp_path / "out-%(run_id)s.jsonl")

    def args(name: str) -> list[str]:
        return crawl_args(
            site_server, tmp_path, "-a", "incremental=true", "-s", "CARNEGIE_LOCK_TIMEOUT=60",
            output=template, state=state, rejects=tmp_path / f"rejects-{name}.jsonl",
        )  # fmt: skip

    while time.time() % 1 > 0.2:  # both start early in one wall-clock second
        time.sleep(0.01)
    with crawling(args("a"), tmp_path / "a.log") as first, crawling(args("b"), tmp_path / "b.log") as second:
        codes = first.wait(90), second.wait(90)
        logs = first.log, second.log
    assert codes == (0, 0), "\n\n".join(log[-2000:] for log in logs)

    manifests = sorted(tmp_path.glob("out-*.manifest.json"))
    assert len(manifests) == 2, sorted(p.name for p in tmp_path.iterdir())
    checked = [check_manifest(m) for m in manifests]
    assert len({m["run_id"] for m in checked}) == 2, "two runs, two run ids"
    assert all(m["published"] is True for m in checked)
    outputs = {described_file(path, m).resolve() for path, m in zip(manifests, checked, strict=True)}
    assert len(outputs) == 2, "each run has its own output file"
    assert not list(tmp_path.glob("*.part")), "both runs published; no part file is left"

    emitted = Counter(r["url"] for path in outputs for r in whole_json_lines(path))
    assert sorted(emitted) == EXPECTED_URLS
    assert set(emitted.values()) == {1}, f"documents published twice: {emitted}"

    third = run(crawl_args(site_server, tmp_path / "third", "-a", "incremental=true", state=state))
    assert third.returncode == 0, third.stderr[-3000:]
    assert whole_json_lines(tmp_path / "third" / "out.jsonl") == [], "the state holds both runs' documents"


@pytest.mark.e2e
def test_a_second_run_that_cannot_get_the_lock_exits_3_and_leaves_the_first_alone(site_server, tmp_path):
    state = tmp_path / "state.sqlite3"
    site_server.site.delay = 0.3
    with crawling(crawl_args(site_server, tmp_path), tmp_path / "first.log") as first:
        wait_until(lambda: lines_in_parts(tmp_path) >= 1, "the first run wrote a line", crawl=first)
        site_server.site.delay = 1.5  # keep the first run mid-crawl while the second one waits
        before = {  # SQLite's own -wal/-shm/-journal files come and go with the first run's connections
            p: p.stat().st_ino for p in tmp_path.iterdir()
            if p.is_file() and p.suffix != ".log" and not p.name.endswith(("-wal", "-shm", "-journal"))
        }  # fmt: skip
        parts = {p: p.read_bytes() for p in part_files(tmp_path)}

        second = run(crawl_args(site_server, tmp_path, "-s", "CARNEGIE_LOCK_TIMEOUT=1"), timeout=60)
        assert first.running(), "the first run was still crawling while the second one tried"
        site_server.site.delay = 0

        for path, inode in before.items():
            assert path.exists(), f"the second run moved {path.name}"
            assert path.stat().st_ino == inode, f"the second run replaced {path.name}"
        for path, content in parts.items():
            assert path.read_bytes().startswith(content), f"the second run rewrote {path.name}"
        assert second.returncode == 3, second.stderr[-3000:]
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr[-3000:]
        assert lines[0].startswith(f"Error: another run (pid {first.pid}, started "), lines[0]
        assert f"holds {state}" in lines[0], lines[0]
        assert "corrupt" not in second.stderr + second.stdout

        code = first.wait(90)
        log = first.log
    assert code == 0, log[-3000:]
    manifest = check_manifest(tmp_path / "out.manifest.json")
    assert manifest["published"] is True
    assert described_file(tmp_path / "out.manifest.json", manifest).resolve() == (tmp_path / "out.jsonl").resolve()
    assert sorted(r["url"] for r in whole_json_lines(tmp_path / "out.jsonl")) == EXPECTED_URLS
    assert json.loads((tmp_path / "out.manifest.json").read_text())["health"]["ok"] is True


def _waits_on(pid: int, lock: Path) -> bool:
    """Has process *pid* opened *lock* (so it is past its start-up checks, waiting for the lock)?"""
    try:
        return any(os.readlink(fd) == str(lock) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False


@pytest.mark.e2e
def test_a_run_waiting_for_the_lock_does_not_replace_the_files_of_a_run_the_dataset_missed(site_server, tmp_path):
    """Fixed file names, the dataset on. The second run's check that it replaces no run the dataset has not
    applied ran before it waited for the lock, while the first run was still crawling: the first run then
    ended without its dataset update (exit 5), and the second replaced its files, so its documents never
    reached the dataset. The check belongs under the lock."""
    dataset = tmp_path / "dataset"
    args = crawl_args(site_server, tmp_path, "-s", f"CARNEGIE_DATASET={dataset}", "-s", "CARNEGIE_LOCK_TIMEOUT=60")
    assert run(args).returncode == 0  # a first run the dataset applied
    lock = tmp_path / "dataset.lock"
    lock.unlink()
    lock.mkdir()  # the next dataset update cannot lock the dataset: the run ends with exit 5
    site_server.site.delay = 0.3
    with crawling(args, tmp_path / "first.log") as first:
        wait_until(lambda: lines_in_parts(tmp_path) >= 1, "the first run wrote a line", crawl=first)
        with crawling(args, tmp_path / "second.log") as second:
            state_lock = (tmp_path / "state.sqlite3.lock").resolve()
            wait_until(lambda: _waits_on(second.pid, state_lock), "the second run waits for the lock", crawl=second)
            assert first.running()
            site_server.site.delay = 0
            assert first.wait(90) == 5, first.log[-3000:]
            missed = check_manifest(tmp_path / "out.manifest.json")["run_id"]
            assert second.wait(90) == 2, second.log[-3000:]
            assert f"would replace the files of run {missed}" in second.log
    assert check_manifest(tmp_path / "out.manifest.json")["run_id"] == missed, "the missed run's files stay"
    lock.rmdir()
    caught_up = run(["dataset", *args[args.index("-s") :]])
    assert caught_up.returncode == 0, caught_up.stderr[-3000:]
    package = json.loads((dataset / "datapackage.json").read_text())
    assert package["runs"][-1]["run_id"] == missed
