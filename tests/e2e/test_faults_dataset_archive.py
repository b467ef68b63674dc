"""Operational faults around the dataset (issue 12) and the WARC archive with re-extraction (issue 13).

Real `scrapy crawl`, `scrapy dataset` and `scrapy reextract` processes against the local site. Each test
asserts what an operator of scheduled runs expects from the README and docs/runs.md:

- the dataset directory is always one complete version (every file loads, and agrees with the sha256 and
  row counts of datapackage.json), whatever moment a process is killed; `scrapy dataset` catches up, and
  its result equals `scrapy dataset --rebuild`;
- an archive is always a readable prefix; `scrapy reextract` reads what is readable, says in one line what
  is not, and makes no request;
- the exit codes of the README (0 ok, 1 failed, 2 bad input, 3 locked, 5 published but the dataset behind),
  one `Error:` line for bad input or a lock, never a traceback, no record lost or doubled.

Kills at exact moments use a wrapper that SIGKILLs the process itself just before or just after its Nth
rename inside a given directory: renames are how files are published, so these are the moments that matter.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator

from carnegie_crawler.devserver import SiteServer
from tests.e2e.faults import (
    EXPECTED_URLS,
    LOG_RECORD,
    REPO,
    SITE,
    Crawl,
    check_manifest,
    copy_site,
    documents_in_state,
    edit,
    env,
    file_size_limit,
    last_message,
    start_urls,
    wait_until,
    whole_json_lines,
)

pytestmark = pytest.mark.e2e

# One document served under two paths: an edit is made to both copies.
EDITED_PAGES = (
    "pages/posts/2021/12/gulf-states-and-the-iran-nuclear-talks.html",
    "pages/middle-east/posts/2021/12/gulf-states-and-the-iran-nuclear-talks.html",
)
EDITED_URL = "https://carnegieendowment.org/posts/2021/12/gulf-states-and-the-iran-nuclear-talks?lang=en"
GONE_PATH = "/posts/2022/09/carnegie-announces-new-middle-east-fellows"

# SIGKILL this process just before or just after its Nth rename whose source or target contains KILL_MATCH.
KILL_AT_RENAME = r"""
import os, signal, sys
match, nth, when = os.environ["KILL_MATCH"], int(os.environ["KILL_NTH"]), os.environ["KILL_WHEN"]
seen = 0
def hooked(real):
    def rename(src, dst, *args, **kwargs):
        global seen
        if match not in os.fsdecode(src) and match not in os.fsdecode(dst):
            return real(src, dst, *args, **kwargs)
        seen += 1
        if seen == nth and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(src, dst, *args, **kwargs)
        if seen == nth and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    return rename
os.rename, os.replace = hooked(os.rename), hooked(os.replace)
from scrapy.cmdline import execute
execute(["scrapy", *sys.argv[1:]])
"""
KILLER = [sys.executable, "-c", KILL_AT_RENAME]


def killed_at(directory: Path, nth: int, when: str) -> dict[str, str]:
    return {"KILL_MATCH": f"{directory}{os.sep}", "KILL_NTH": str(nth), "KILL_WHEN": when}


# ---------------------------------------------------------------------------------------------- processes


def scrapy(
    *args: str, prefix: list[str] | None = None, extra_env: dict[str, str] | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    command = prefix or [sys.executable, "-m", "scrapy"]
    return subprocess.run(
        [*command, *args], cwd=REPO, env=env() | (extra_env or {}), capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip


class Proc(Crawl):
    """A scrapy process in the background, in its own session; stdout and stderr in two files."""

    def __init__(
        self, args: list[str], log: Path, prefix: list[str] | None = None, extra_env: dict[str, str] | None = None
    ) -> None:
        self.err_path, self.out_path = log, log.with_suffix(".out")
        command = prefix or [sys.executable, "-m", "scrapy"]
        with self.err_path.open("w") as err, self.out_path.open("w") as out:
            self.process = subprocess.Popen(
                [*command, *args], cwd=REPO, env=env() | (extra_env or {}), stdout=out, stderr=err, text=True,
                start_new_session=True,
            )  # fmt: skip

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    @property
    def log(self) -> str:  # what Crawl.wait shows when the process does not end
        return self.stderr

    def kill(self) -> None:
        self.kill_group()

    def reap(self) -> None:
        """Kill the process and anything it left behind (pool workers of a killed run)."""
        self.kill()


@contextlib.contextmanager
def background(*args: Any, **kwargs: Any):
    proc = Proc(*args, **kwargs)
    try:
        yield proc
    finally:
        proc.reap()


def settings(root: Path, *, state: Path | None = None, dataset: str | Path | None = None, **more: str) -> list[str]:
    """Every file of a run under `root`; the dataset in `root/ds/dataset` (its own parent directory)."""
    values = {
        "CARNEGIE_OUTPUT": f"{root}/data/%(run_id)s.jsonl",
        "CARNEGIE_REJECTS": f"{root}/data/rejects/%(run_id)s.jsonl",
        "CARNEGIE_STATE": str(state or root / "state.sqlite3"),
        "CARNEGIE_DATASET": str(root / "ds" / "dataset") if dataset is None else str(dataset),
        "CARNEGIE_ARCHIVE": str(root / "archive"),
        "DOWNLOAD_DELAY": "0",
        "AUTOTHROTTLE_ENABLED": "False",
        "LOG_LEVEL": "INFO",
        **more,
    }
    return [part for name, value in values.items() for part in ("-s", f"{name}={value}")]


def crawl(server: SiteServer, root: Path, *extra: str, **more: str) -> list[str]:
    return ["crawl", "commentary", "-a", f"start_urls={start_urls(server)}", *extra, *settings(root, **more)]


def no_traceback(text: str) -> None:
    assert "Traceback" not in text, f"a traceback:\n{text[-4000:]}"


def one_error_line(result: subprocess.CompletedProcess[str] | Proc, *fragments: str) -> str:
    """stderr is exactly one line, `Error: ...`, naming every fragment."""
    stderr = result.stderr.strip()
    assert stderr.startswith("Error: "), f"expected one 'Error:' line, got:\n{stderr[-3000:]}"
    assert "\n" not in stderr, f"expected one 'Error:' line, got {stderr.count(chr(10)) + 1} lines:\n{stderr[-3000:]}"
    for fragment in fragments:
        assert fragment in stderr, f"{fragment!r} not in {stderr!r}"
    return stderr


def ended_or_locked(procs: tuple[Proc, Proc], codes: tuple[int, int], *fragments: str) -> None:
    """Two processes at once: each ended cleanly (0) or was locked out in one `Error:` line (3)."""
    for proc, code in zip(procs, codes, strict=True):
        no_traceback(proc.stderr)
        assert code in (0, 3), f"exit {code}:\n{proc.stderr[-3000:]}"
        if code == 3:
            one_error_line(proc, *fragments)


def problems_in_log(log: str) -> list[str]:
    """WARNING, ERROR and CRITICAL records."""
    return [
        line for line in log.splitlines() if LOG_RECORD.match(line) and re.search(r"\] (WARNING|ERROR|CRITICAL):", line)
    ]


# ----------------------------------------------------------------------------------------------- datasets


def check_version(directory: Path) -> tuple[str, ...]:
    """The directory holds one complete dataset version; returns the run ids it was built from."""
    assert directory.is_dir(), f"{directory} does not exist"
    present = sorted(p.name for p in directory.iterdir())
    assert {"documents.parquet", "history.parquet", "README.md", "datapackage.json"} <= set(present), present
    package = json.loads((directory / "datapackage.json").read_text(encoding="utf-8"))
    for resource in package["resources"]:
        path = directory / resource["path"]
        data = path.read_bytes()
        assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest(), f"{path} differs from its sha256"
        if "bytes" in resource:
            assert resource["bytes"] == len(data), f"{path}: {len(data)} bytes, datapackage.json says {resource}"
        rows = pq.read_table(path).num_rows
        assert resource["rows"] == rows, f"{path}: {rows} rows, datapackage.json says {resource['rows']}"
    documents = pq.read_table(directory / "documents.parquet", columns=["url", "language"]).to_pylist()
    keys = Counter((d["url"], d["language"]) for d in documents)
    assert all(n == 1 for n in keys.values()), f"documents held twice: {[k for k, n in keys.items() if n > 1]}"
    return tuple(sorted(run["run_id"] for run in package["runs"]))


def version_or_problem(directory: Path) -> tuple[tuple[str, ...] | None, str | None]:
    try:
        return check_version(directory), None
    except (AssertionError, OSError, ValueError) as error:
        return None, f"{type(error).__name__}: {error}"


def same_dataset(directory: Path, reference: Path) -> None:
    """The same tables as the reference dataset (the rebuild), and the same source runs."""
    for name in ("documents.parquet", "history.parquet"):
        ours, theirs = pq.read_table(directory / name), pq.read_table(reference / name)
        assert ours.num_rows == theirs.num_rows, f"{name}: {ours.num_rows} rows, the rebuild has {theirs.num_rows}"
        assert ours.equals(theirs), f"{directory / name} differs from the rebuild's {reference / name}"
    assert check_version(directory) == check_version(reference)


def new_rows_per_document(directory: Path) -> Counter[tuple[str, str | None]]:
    history = pq.read_table(directory / "history.parquet").to_pylist()
    return Counter((row["url"], row["language"]) for row in history if row["crawl_status"] == "new")


def leftovers(parent: Path, dataset: Path) -> list[str]:
    """Directories a dataset build leaves beside the dataset (temporary or previous versions). The
    dataset path may be a link to the version it shows (docs: dataset/versions.py): that one is the
    dataset itself."""
    shown = dataset.resolve() if dataset.is_symlink() else dataset
    return sorted(p.name for p in parent.iterdir() if p.is_dir() and p not in (dataset, shown))


# -------------------------------------------------------------------------------- two published runs


@dataclass
class Published:
    """Two published runs on one state (a full run, then an edit, a 410 and an incremental run), the dataset
    off, their archives, and the dataset rebuilt from them as the reference."""

    root: Path
    state: Path
    manifests: list[Path]  # in run order
    run_ids: list[str]
    records: list[list[dict[str, Any]]]
    archives: list[Path]
    reference: Path


def manifest_of(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Published:
    root = tmp_path_factory.mktemp("published")
    site = copy_site(root / "site")
    with SiteServer(site) as server:
        first = scrapy(*crawl(server, root, dataset=""))
        assert first.returncode == 0, first.stderr[-3000:]
        for page in EDITED_PAGES:
            edit(site / page, "Their leverage is limited", "Their leverage is small")
        routes = json.loads((site / "routes.json").read_text(encoding="utf-8"))
        routes[GONE_PATH] = {"status": 410}
        server.site.routes = routes
        second = scrapy(*crawl(server, root, "-a", "incremental=true", dataset="", CARNEGIE_REFRESH_DAYS="0"))
        assert second.returncode == 0, second.stderr[-3000:]
    manifests = list((root / "data").glob("*.manifest.json"))
    assert len(manifests) == 2, manifests
    by_previous = {manifest_of(m)["previous_run_id"]: m for m in manifests}
    ordered = [by_previous[None], by_previous[manifest_of(by_previous[None])["run_id"]]]
    reference = root / "reference" / "dataset"
    rebuilt = scrapy("dataset", "--rebuild", *settings(root, dataset=reference))
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    loaded = [manifest_of(m) for m in ordered]
    return Published(
        root=root,
        state=root / "state.sqlite3",
        manifests=ordered,
        run_ids=[m["run_id"] for m in loaded],
        records=[whole_json_lines(m.parent / d["output"]["path"]) for m, d in zip(ordered, loaded, strict=True)],
        archives=[m.parent / d["archive"]["path"] for m, d in zip(ordered, loaded, strict=True)],
        reference=reference,
    )


def stage(published: Published, root: Path, count: int) -> list[Path]:
    """Copy the first `count` published runs (manifest and output) into `root/data`; returns the outputs."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    outputs = []
    for manifest in published.manifests[:count]:
        output = manifest.parent / manifest_of(manifest)["output"]["path"]
        shutil.copy2(manifest, data / manifest.name)
        shutil.copy2(output, data / output.name)
        outputs.append(data / output.name)
    return outputs


def dataset_args(published: Published, root: Path) -> list[str]:
    return settings(root, state=published.state)


def apply_first_run(published: Published, root: Path) -> tuple[str, ...]:
    stage(published, root, 1)
    result = scrapy("dataset", *dataset_args(published, root))
    assert result.returncode == 0, result.stderr[-3000:]
    return check_version(root / "ds" / "dataset")


# ==================================================================================== dataset: kill -9


@pytest.mark.parametrize(
    ("nth", "when"),
    [(1, "before"), (1, "after"), (2, "after")],
    ids=["before-the-first-rename", "after-the-first-rename", "after-the-second-rename"],
)
def test_scrapy_dataset_killed_while_swapping_in_the_new_version_leaves_a_whole_version(published, tmp_path, nth, when):
    dataset = tmp_path / "ds" / "dataset"
    old = apply_first_run(published, tmp_path)
    assert old == (published.run_ids[0],)
    stage(published, tmp_path, 2)

    killed = scrapy("dataset", *dataset_args(published, tmp_path), prefix=KILLER,
                    extra_env=killed_at(tmp_path / "ds", nth, when))  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, (
        f"the update made fewer than {nth} renames in {tmp_path / 'ds'}, exit {killed.returncode}:\n"
        f"{killed.stderr[-2000:]}"
    )
    after_kill, problem = version_or_problem(dataset)
    listing = sorted(p.name for p in (tmp_path / "ds").iterdir())

    again = scrapy("dataset", *dataset_args(published, tmp_path))
    assert again.returncode == 0, f"the rerun after kill -9 did not catch up:\n{again.stderr[-3000:]}"
    no_traceback(again.stderr)
    assert check_version(dataset) == tuple(sorted(published.run_ids))
    same_dataset(dataset, published.reference)
    assert leftovers(tmp_path / "ds", dataset) == [], "the rerun cleans up what the killed build left behind"

    assert problem is None, (
        f"right after kill -9 {when} rename {nth}, {dataset} was not a complete version: {problem}; "
        f"{tmp_path / 'ds'} held {listing}"
    )
    assert after_kill in (old, tuple(sorted(published.run_ids))), after_kill


def test_scrapy_dataset_killed_while_writing_parquet_keeps_the_old_version(tmp_path):
    """A big update (synthetic runs), killed as soon as it has started writing files."""
    from carnegie_crawler.dataset.synthetic import iso, run_id_at, stub, write_run

    data, state, dataset = tmp_path / "data", tmp_path / "state.sqlite3", tmp_path / "ds" / "dataset"
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    first_id, second_id = run_id_at(t0, 1), run_id_at(t0 + timedelta(days=1), 2)
    site = "https://carnegieendowment.org/posts"
    write_run(data, first_id, [stub(f"{site}/small-{i}", "en", first_id, iso(t0)) for i in range(5)], state=state,
              started_at=iso(t0), finished_at=iso(t0 + timedelta(hours=1)))  # fmt: skip
    args = settings(tmp_path, state=state)
    result = scrapy("dataset", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    old = check_version(dataset)
    at = t0 + timedelta(days=1)
    body = " ".join(["The negotiations stalled again as outside powers hedged their bets."] * 40)
    big = [stub(f"{site}/big-{i}", "en", second_id, iso(at), body=body, word_count=400) for i in range(12_000)]
    write_run(data, second_id, big, state=state, started_at=iso(at), finished_at=iso(at + timedelta(hours=1)),
              previous_run_id=first_id, mode="incremental")  # fmt: skip

    before = set((tmp_path / "ds").rglob("*"))

    def writing() -> bool:
        return any(p not in before and p.is_file() and p.stat().st_size > 0 for p in (tmp_path / "ds").rglob("*"))

    with background(["dataset", *args], tmp_path / "update.log") as update:
        deadline = time.monotonic() + 60
        while not writing():
            assert update.running(), f"the update ended before it could be killed:\n{update.stderr[-2000:]}"
            assert time.monotonic() < deadline, "the update never started writing"
            time.sleep(0.002)
        update.kill()
        assert update.process.returncode == -signal.SIGKILL, "killed mid-way, not finished"
    after_kill, problem = version_or_problem(dataset)
    assert problem is None, f"right after kill -9 mid-write, the dataset is not a complete version: {problem}"
    assert after_kill in (old, tuple(sorted((first_id, second_id))))

    again = scrapy("dataset", *args)
    assert again.returncode == 0, again.stderr[-3000:]
    no_traceback(again.stderr)
    assert check_version(dataset) == tuple(sorted((first_id, second_id)))
    reference = tmp_path / "reference" / "dataset"
    rebuilt = scrapy("dataset", "--rebuild", *settings(tmp_path, state=state, dataset=reference))
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    same_dataset(dataset, reference)
    assert leftovers(tmp_path / "ds", dataset) == [], "the rerun cleans up what the killed build left behind"


def test_a_crawl_killed_during_its_dataset_update_keeps_its_run_and_scrapy_dataset_catches_up(tmp_path):
    site = copy_site(tmp_path / "site")
    dataset = tmp_path / "ds" / "dataset"
    with SiteServer(site) as server:
        first = scrapy(*crawl(server, tmp_path))
        assert first.returncode == 0, first.stderr[-3000:]
        old = check_version(dataset)
        for page in EDITED_PAGES:
            edit(site / page, "Their leverage is limited", "Their leverage is small")
        second = scrapy(*crawl(server, tmp_path), prefix=KILLER, extra_env=killed_at(tmp_path / "ds", 1, "after"))
    assert second.returncode == -signal.SIGKILL, f"no rename in the dataset's directory:\n{second.stderr[-3000:]}"
    after_kill, problem = version_or_problem(dataset)
    listing = sorted(p.name for p in (tmp_path / "ds").iterdir())

    # The dataset is the last step: the run itself was published and committed before it.
    manifests = sorted((tmp_path / "data").glob("*.manifest.json"))
    assert len(manifests) == 2, manifests
    checked = [check_manifest(m) for m in manifests]
    assert all(m["published"] is True for m in checked)
    run_ids = tuple(sorted(m["run_id"] for m in checked))
    assert documents_in_state(tmp_path / "state.sqlite3") == len(EXPECTED_URLS)

    again = scrapy("dataset", *settings(tmp_path))
    assert again.returncode == 0, again.stderr[-3000:]
    no_traceback(again.stderr)
    assert check_version(dataset) == run_ids
    documents = {row["url"]: row for row in pq.read_table(dataset / "documents.parquet").to_pylist()}
    assert sorted(documents) == EXPECTED_URLS
    assert "Their leverage is small" in documents[EDITED_URL]["body"]
    reference = tmp_path / "reference" / "dataset"
    rebuilt = scrapy("dataset", "--rebuild", *settings(tmp_path, dataset=reference))
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    same_dataset(dataset, reference)

    assert problem is None, (
        f"right after the crawl was killed in its dataset update, {dataset} was not a complete version: "
        f"{problem}; {tmp_path / 'ds'} held {listing}"
    )
    assert after_kill in (old, run_ids)


# ========================================================================== dataset: locks, overlap


def test_scrapy_dataset_while_a_crawl_holds_the_state_is_locked_or_waits_and_corrupts_nothing(site_server, tmp_path):
    dataset = tmp_path / "ds" / "dataset"
    site_server.site.delay = 0.3
    with background(crawl(site_server, tmp_path), tmp_path / "crawl.log") as running:
        wait_until(lambda: any((tmp_path / "data").glob("*.part")), "the crawl's first line", timeout=60)
        during = scrapy("dataset", *settings(tmp_path, CARNEGIE_LOCK_TIMEOUT="1"), timeout=60)
        still_running = running.running()
        site_server.site.delay = 0
        code = running.wait(90)
        log = running.stderr
    no_traceback(during.stderr)
    assert during.returncode in (0, 3), f"exit {during.returncode}:\n{during.stderr[-3000:]}"
    if during.returncode == 3:
        one_error_line(during, str(running.process.pid))  # names the holder
        assert still_running, "exit 3 means it gave up while the crawl held the lock"
    assert code == 0, (
        f"the crawl was disturbed by `scrapy dataset` (which exited {during.returncode}, stdout "
        f"{during.stdout.strip()!r}, stderr {during.stderr.strip()[-500:]!r}):\n{log[-3000:]}"
    )
    no_traceback(log)
    [manifest] = (tmp_path / "data").glob("*.manifest.json")
    run_id = check_manifest(manifest)["run_id"]
    assert check_version(dataset) == (run_id,), "the crawl's end-of-run update"
    assert sorted(pq.read_table(dataset / "documents.parquet").column("url").to_pylist()) == EXPECTED_URLS


def test_scrapy_dataset_before_the_first_run_does_not_wedge_the_later_updates(site_server, tmp_path):
    """A new user asks for the dataset before any run (the state is empty), then crawls."""
    dataset = tmp_path / "ds" / "dataset"
    early = scrapy("dataset", *settings(tmp_path))
    no_traceback(early.stderr)
    assert early.returncode in (0, 2), f"exit {early.returncode}:\n{early.stderr[-3000:]}"
    if early.returncode == 2:
        one_error_line(early)
    first = scrapy(*crawl(site_server, tmp_path))
    later = scrapy("dataset", *settings(tmp_path))
    story = (
        f"`scrapy dataset` before any run exited {early.returncode} ({early.stdout.strip()!r}); the first crawl "
        f"then exited {first.returncode} ({last_message(first.stderr)!r}); `scrapy dataset` then exited "
        f"{later.returncode} ({(later.stderr or later.stdout).strip()[-600:]!r})"
    )
    assert first.returncode == 0, story
    assert later.returncode == 0, story
    no_traceback(first.stderr + later.stderr)
    [manifest] = (tmp_path / "data").glob("*.manifest.json")
    assert check_version(dataset) == (check_manifest(manifest)["run_id"],)
    assert sorted(pq.read_table(dataset / "documents.parquet").column("url").to_pylist()) == EXPECTED_URLS


def test_two_scrapy_dataset_at_once_both_end_cleanly_and_agree_with_the_rebuild(published, tmp_path):
    stage(published, tmp_path, 2)
    args = dataset_args(published, tmp_path)
    with (
        background(["dataset", *args], tmp_path / "a.log") as first,
        background(["dataset", "--rebuild", *args], tmp_path / "b.log") as second,
    ):
        codes = first.wait(60), second.wait(60)
        both = first, second
    ended_or_locked(both, codes)
    assert 0 in codes, codes
    dataset = tmp_path / "ds" / "dataset"
    same_dataset(dataset, published.reference)
    assert leftovers(tmp_path / "ds", dataset) == []


# ================================================================ dataset: unwritable, full, corrupt


@contextlib.contextmanager
def unwritable(directory: Path):
    """No file can be created in `directory` (chattr +i for root, who ignores permission bits)."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(directory)], check=True, capture_output=True)

        def undo() -> None:
            subprocess.run(["chattr", "-i", str(directory)], check=True, capture_output=True)
    else:
        mode = directory.stat().st_mode
        directory.chmod(0o500)

        def undo() -> None:
            directory.chmod(mode)

    try:
        probe = directory / ".probe"
        with contextlib.suppress(OSError):
            probe.touch()
            probe.unlink()
            raise AssertionError(f"could not make {directory} unwritable here")
        yield
    finally:
        undo()


def test_a_dataset_directory_that_turns_unwritable_mid_crawl_gives_exit_5_then_scrapy_dataset_catches_up(
    site_server, tmp_path
):
    parent, dataset = tmp_path / "ds", tmp_path / "ds" / "dataset"
    parent.mkdir()
    site_server.site.delay = 0.2
    with background(crawl(site_server, tmp_path), tmp_path / "crawl.log") as running:
        wait_until(lambda: any((tmp_path / "data").glob("*.part")), "the crawl's first line", timeout=60)
        with unwritable(parent):
            site_server.site.delay = 0
            code = running.wait(90)
            log = running.stderr
            behind = scrapy("dataset", *settings(tmp_path))
    assert code == 5, f"exit {code}, expected 5 (published, the dataset behind):\n{log[-3000:]}"
    [manifest] = (tmp_path / "data").glob("*.manifest.json")
    run = check_manifest(manifest)
    assert run["published"] is True
    assert documents_in_state(tmp_path / "state.sqlite3") == len(EXPECTED_URLS)
    assert any("dataset" in line for line in problems_in_log(log)), "the log says the dataset was not updated"

    assert behind.returncode in (1, 2), f"`scrapy dataset` on an unwritable directory: exit {behind.returncode}"
    one_error_line(behind)

    again = scrapy("dataset", *settings(tmp_path))
    assert again.returncode == 0, again.stderr[-3000:]
    assert check_version(dataset) == (run["run_id"],)
    assert sorted(pq.read_table(dataset / "documents.parquet").column("url").to_pylist()) == EXPECTED_URLS
    no_traceback(log)  # the crawl said what happened in a line, not with a traceback


def test_a_full_disk_during_scrapy_dataset_is_one_error_line_and_keeps_the_old_version(published, tmp_path):
    dataset = tmp_path / "ds" / "dataset"
    old = apply_first_run(published, tmp_path)
    before = {p.name: p.read_bytes() for p in dataset.iterdir()}
    stage(published, tmp_path, 2)
    full = scrapy("dataset", *dataset_args(published, tmp_path), prefix=file_size_limit(8192))
    assert full.returncode == 1, f"exit {full.returncode}, expected 1 (failed while writing):\n{full.stderr[-3000:]}"
    one_error_line(full)
    assert check_version(dataset) == old
    assert {p.name: p.read_bytes() for p in dataset.iterdir()} == before, "the old version is untouched"

    again = scrapy("dataset", *dataset_args(published, tmp_path))
    assert again.returncode == 0, again.stderr[-3000:]
    same_dataset(dataset, published.reference)
    assert leftovers(tmp_path / "ds", dataset) == [], "nothing left of the failed build"


@pytest.mark.parametrize("pending", [True, False], ids=["a-run-to-apply", "nothing-to-apply"])
def test_a_garbage_documents_parquet_is_refused_in_one_line_and_rebuild_recovers(published, tmp_path, pending):
    dataset = tmp_path / "ds" / "dataset"
    apply_first_run(published, tmp_path)
    stage(published, tmp_path, 2)  # every run the state has committed is found (else one WARNING says so)
    if not pending:
        assert scrapy("dataset", *dataset_args(published, tmp_path)).returncode == 0
    target = dataset / "documents.parquet"
    target.write_bytes(random.Random(7).randbytes(target.stat().st_size))

    result = scrapy("dataset", *dataset_args(published, tmp_path))
    no_traceback(result.stderr)
    if result.returncode == 0:  # it may repair the dataset itself, but then the dataset must be whole
        _, problem = version_or_problem(dataset)
        assert problem is None, (
            f"`scrapy dataset` exited 0 over a garbage documents.parquet: {problem}\n{result.stdout}"
        )
    else:
        assert result.returncode in (1, 2), result.returncode
        one_error_line(result, "documents.parquet")

    rebuilt = scrapy("dataset", "--rebuild", *dataset_args(published, tmp_path))
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    same_dataset(dataset, published.reference)


def test_a_run_output_edited_after_its_run_is_refused_in_one_line_and_the_dataset_kept(published, tmp_path):
    dataset = tmp_path / "ds" / "dataset"
    old = apply_first_run(published, tmp_path)
    before = {p.name: p.read_bytes() for p in dataset.iterdir()}
    _, second = stage(published, tmp_path, 2)
    original = second.read_bytes()
    assert b'"Gulf States' in original
    second.write_bytes(original.replace(b'"Gulf States', b'"Gulf Stakes', 1))  # same length, same line count
    args = dataset_args(published, tmp_path)

    for command in (["dataset"], ["dataset", "--rebuild"]):
        result = scrapy(*command, *args)
        assert result.returncode == 2, f"{command}: exit {result.returncode}:\n{result.stderr[-3000:]}"
        one_error_line(result, published.run_ids[1])
        assert check_version(dataset) == old
        assert {p.name: p.read_bytes() for p in dataset.iterdir()} == before, f"{command} changed the dataset"

    second.write_bytes(original)
    again = scrapy("dataset", *args)
    assert again.returncode == 0, again.stderr[-3000:]
    same_dataset(dataset, published.reference)


# ================================================================================ archive: crashes


def warc_records(path: Path) -> list[tuple[str, dict[str, str], int, int]]:
    """(type, headers, offset, length) of every record warcio reads; payload digests checked."""
    out = []
    with path.open("rb") as fh:
        records = ArchiveIterator(fh, check_digests="raise")
        for record in records:
            record.content_stream().read()
            out.append((record.rec_type, dict(record.rec_headers.headers), records.get_record_offset(),
                        records.get_record_length()))  # fmt: skip
    return out


def run_outputs(root: Path, spider: str) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(manifest, records) of every published run of `spider` under root/data."""
    found = []
    for path in sorted((root / "data").glob(f"{spider}-*.manifest.json")):
        manifest = check_manifest(path)
        if manifest["published"]:
            found.append((manifest, whole_json_lines(path.parent / manifest["output"]["path"])))
    return found


def test_a_crawl_killed_with_the_archive_on_leaves_a_readable_prefix_and_blocks_nothing(tmp_path):
    archive = tmp_path / "archive"
    with SiteServer(SITE) as server:
        server.site.delay = 0.3
        with background(crawl(server, tmp_path), tmp_path / "killed.log") as killed:
            wait_until(lambda: sum(p.read_bytes().count(b"\n") for p in (tmp_path / "data").glob("*.part")) >= 2,
                       "two lines written", timeout=60)  # fmt: skip
            killed.kill()
        left = sorted(archive.iterdir())
        assert left, "the killed run's archive part file is kept"
        assert all(p.name.endswith(".part") for p in left), f"a killed run publishes no archive: {left}"
        [part] = left
        records = warc_records(part)  # no exception: a readable prefix
        assert records[0][0] == "warcinfo"
        assert sum(kind == "response" for kind, *_ in records) >= 3, "robots.txt and the pages parsed so far"

        server.site.delay = 0
        second = scrapy(*crawl(server, tmp_path))
        assert second.returncode == 0, f"the run after kill -9 was blocked:\n{second.stderr[-3000:]}"
    [(manifest, crawled)] = run_outputs(tmp_path, "commentary")
    published_warc = archive / f"{manifest['run_id']}.warc.gz"
    assert published_warc.is_file()
    warc_records(published_warc)

    # The server is stopped: any request would fail.
    again = scrapy("reextract", *settings(tmp_path))
    no_traceback(again.stderr)
    assert again.returncode == 0, again.stderr[-3000:]
    assert last_message(again.stderr).startswith("Run finished: healthy"), again.stderr[-2000:]
    assert "downloader/request_count" not in again.stderr
    [(reextracted, records_again)] = run_outputs(tmp_path, "reextract")
    assert reextracted["counts"]["requests"] == 0
    assert sorted(r["url"] for r in records_again) == EXPECTED_URLS
    assert {r["content_hash"] for r in records_again} == {r["content_hash"] for r in crawled}


def test_a_full_disk_while_archiving_is_reported_and_provenance_never_lies(tmp_path):
    """RLIMIT_FSIZE (SIGXFSZ ignored): the archive, by far the largest file, fills the 'disk' mid-crawl."""
    site = copy_site(tmp_path / "site")
    noise = random.Random(3)
    for page in (site / "pages").rglob("*.html"):
        padding = base64.b64encode(noise.randbytes(240_000)).decode()
        edit(page, "<head>", f"<head><!-- {padding} -->")
    limit = 600_000  # about the third page's response; output, rejects and state stay far below it
    with SiteServer(site) as server:
        result = scrapy(*crawl(server, tmp_path, dataset="", CONCURRENT_REQUESTS="1"), prefix=file_size_limit(limit))
    log = result.stderr
    no_traceback(log)
    assert result.returncode in (0, 1), f"exit {result.returncode}:\n{log[-3000:]}"
    last = last_message(log)
    assert last.startswith(("Run finished:", "Run failed:")), last
    assert any("archive" in line.lower() or "warc" in line.lower() for line in problems_in_log(log)), (
        "the archive failure is reported"
    )
    files = sorted((tmp_path / "archive").iterdir())
    assert files, "the archive written so far is kept"
    responses: dict[str, dict[str, str]] = {}
    for path in files:
        assert path.stat().st_size <= limit
        for kind, headers, *_ in warc_records(path):  # a readable prefix, never a corrupt file
            if kind == "response":
                responses[headers["WARC-Record-ID"]] = {"file": path.name, **headers}
    if result.returncode == 0:
        [(_, records)] = run_outputs(tmp_path, "commentary")
        for record in records:
            pointer = record.get("archive")
            if pointer is None:
                continue
            assert pointer["record_id"] in responses, f"{record['url']} names a record the archive lacks"
            assert responses[pointer["record_id"]]["file"] == pointer["file"]
            assert not pointer["file"].endswith(".part")
    else:
        assert not list((tmp_path / "data").glob("*.jsonl")), "a failed run publishes nothing"
        assert documents_in_state(tmp_path / "state.sqlite3") == 0
    for path in (tmp_path / "data").glob("*.manifest.json"):
        manifest = check_manifest(path)  # describes its (part) file exactly
        items = manifest["counts"]["items"]
        assert (
            items["new"] + items["updated"] + items["unchanged"] == items["written"] == manifest["output"]["lines"]
        ), f"the counters disagree with the file: {items}, {manifest['output']['lines']} lines"


# ================================================================== re-extraction: damaged archives


def copy_archive(published: Published, root: Path) -> Path:
    archive = root / "archive"
    archive.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(published.archives[0], archive / published.archives[0].name))


def reextracted(root: Path) -> list[dict[str, Any]]:
    runs = run_outputs(root, "reextract")
    assert len(runs) == 1, runs
    return runs[0][1]


def reported(log: str, name: str) -> list[str]:
    return [line for line in problems_in_log(log) if name in line]


def test_reextract_over_a_truncated_archive_reports_it_and_keeps_the_readable_pages(published, tmp_path):
    copied = copy_archive(published, tmp_path)
    spans = {headers["WARC-Record-ID"]: (offset, offset + length)
             for kind, headers, offset, length in warc_records(copied) if kind == "response"}  # fmt: skip
    by_start = sorted(published.records[0], key=lambda r: spans[r["archive"]["record_id"]][0])
    start, end = spans[by_start[len(by_start) // 2]["archive"]["record_id"]]
    cut = (start + end) // 2  # the middle of a page's response record (of its gzip member)
    copied.write_bytes(copied.read_bytes()[:cut])
    readable = {r["url"] for r in published.records[0] if spans[r["archive"]["record_id"]][1] <= cut}
    assert readable, "the cut keeps some pages"
    assert len(readable) < len(EXPECTED_URLS), "the cut loses some pages"

    result = scrapy("reextract", "-a", "workers=1", *settings(tmp_path))
    no_traceback(result.stderr)
    assert result.returncode == 0, f"exit {result.returncode}:\n{result.stderr[-3000:]}"
    lines = reported(result.stderr, copied.name)
    assert len(lines) == 1, f"the truncated archive is reported in one line, got {lines}"
    urls = {r["url"] for r in reextracted(tmp_path)}
    assert readable <= urls <= set(EXPECTED_URLS), (sorted(readable - urls), sorted(urls - set(EXPECTED_URLS)))


@pytest.mark.parametrize(
    "damage", ["garbage-appended", "a-non-warc-file-beside", "a-text-file-beside", "an-empty-file"]
)
def test_reextract_reports_a_damaged_archive_file_in_one_line_and_extracts_every_page(published, tmp_path, damage):
    """A text file whose first line warcio reads as an old ARC header, and an empty file, were archives read
    as holding nothing, without a word (found by a review)."""
    copied = copy_archive(published, tmp_path)
    noise = random.Random(11)
    damaged = tmp_path / "archive" / "junk.warc.gz"
    if damage == "garbage-appended":
        copied.write_bytes(copied.read_bytes() + noise.randbytes(4096))
        damaged = copied
    elif damage == "a-non-warc-file-beside":
        damaged.write_bytes(noise.randbytes(2048))
    elif damage == "a-text-file-beside":
        damaged.write_text("this is not a warc file at all\nnor is this\n")
    else:
        damaged.write_bytes(b"")

    result = scrapy("reextract", "-a", "workers=1", *settings(tmp_path))
    no_traceback(result.stderr)
    assert result.returncode == 0, f"exit {result.returncode}:\n{result.stderr[-3000:]}"
    lines = reported(result.stderr, damaged.name)
    assert len(lines) == 1, f"{damaged.name} is reported in one line, got {lines}"
    records = reextracted(tmp_path)
    assert sorted(r["url"] for r in records) == EXPECTED_URLS
    hashes = {r["url"]: r["content_hash"] for r in published.records[0]}
    assert {r["url"]: r["content_hash"] for r in records} == hashes


def test_reextract_of_archives_that_are_all_unreadable_is_no_healthy_empty_run(tmp_path):
    """Every file damaged from its first byte: the ERROR lines said so, and yet the run was healthy with
    0 written and exit 0 when the files were named (found by a review). Named, such a file is refused
    before the run; found in a directory, the run has read nothing and is unhealthy, even for a selection
    (named directory, a date range), whose empty output is otherwise healthy."""
    archive = tmp_path / "archive"
    archive.mkdir()
    junk = archive / "junk.warc.gz"
    junk.write_bytes(random.Random(5).randbytes(3000))
    named = scrapy("reextract", "-a", f"archives={junk}", "-a", "workers=1", *settings(tmp_path))
    one_error_line(named, "junk.warc.gz is not a WARC archive")
    assert named.returncode == 2
    for chosen in (["-a", f"archives={archive}"], ["-a", "since=2020-01-01"]):  # a selection: empty may be healthy
        found = scrapy("reextract", *chosen, "-a", "workers=1", *settings(tmp_path))
        no_traceback(found.stderr)
        assert found.returncode == 1, f"{chosen}: exit {found.returncode}:\n{found.stderr[-3000:]}"
        assert len(reported(found.stderr, junk.name)) >= 1
        assert "Run failed" in found.stderr
        assert "no start page was fetched" in found.stderr
    assert run_outputs(tmp_path, "reextract") == []
    assert not (tmp_path / "ds" / "dataset").exists()


# =================================================================== re-extraction: bad input


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["-a", "archives={archive}/nope.warc.gz"], "nope.warc.gz"),
        (["-a", "archives="], "archives"),
        (["-a", "since=notadate"], "since"),
        (["-a", "until=2024-02-30"], "until"),
        (["-a", "colour=blue"], "colour"),
        (["-a", "workers=many"], "workers"),
        ([], "{archive}"),  # an archive directory that exists but holds no archive
    ],
    ids=[
        "missing-file",
        "empty-archives",
        "bad-since",
        "impossible-until",
        "unknown-argument",
        "bad-workers",
        "empty-directory",
    ],
)
def test_reextract_bad_input_is_one_error_line_exit_2_and_writes_nothing(published, tmp_path, arguments, fragment):
    archive = tmp_path / "archive"
    if arguments:
        copy_archive(published, tmp_path)
    else:
        archive.mkdir()
    args = [a.format(archive=archive) for a in arguments]
    result = scrapy("reextract", *args, *settings(tmp_path))
    assert result.returncode == 2, f"exit {result.returncode}:\n{result.stderr[-3000:]}"
    one_error_line(result, fragment.format(archive=archive))
    written = (
        sorted(p.name for p in (tmp_path / "data").rglob("*") if p.is_file()) if (tmp_path / "data").exists() else []
    )
    assert written == [], f"bad input wrote {written}"
    assert not (tmp_path / "ds" / "dataset").exists()
    assert not (tmp_path / "state.sqlite3").exists(), "bad input commits no state"


# ================================================================ re-extraction: kill -9, overlap


def unvouched_outputs(data: Path) -> list[str]:
    """Published-looking outputs (`<run id>.jsonl`) that no published manifest describes exactly."""
    found = []
    for output in sorted(data.glob("*.jsonl")):
        manifest = output.with_name(output.name.removesuffix(".jsonl") + ".manifest.json")
        if not manifest.is_file():
            found.append(f"{output.name} without a manifest")
            continue
        described = manifest_of(manifest)
        if not described["published"] or described["output"]["path"] != output.name:
            found.append(f"{output.name} beside a manifest that does not publish it")
        elif described["output"]["sha256"] != hashlib.sha256(output.read_bytes()).hexdigest():
            found.append(f"{output.name} differs from its manifest")
    return found


@pytest.mark.parametrize(
    "nth",
    [1, 2],
    ids=["after-publishing-the-output", "after-writing-the-manifest"],
)
def test_reextract_killed_while_publishing_blocks_nothing_and_doubles_nothing(published, tmp_path, nth):
    copy_archive(published, tmp_path)
    args = settings(tmp_path, CARNEGIE_LOCK_TIMEOUT="10")
    killed = scrapy("reextract", "-a", "workers=1", *args, prefix=KILLER,
                    extra_env=killed_at(tmp_path / "data", nth, "after"))  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, f"fewer than {nth} renames in data/:\n{killed.stderr[-3000:]}"
    half_published = unvouched_outputs(tmp_path / "data")

    again = scrapy("reextract", "-a", "workers=1", *args)
    dataset = tmp_path / "ds" / "dataset"
    result = scrapy("dataset", *args)
    story = (
        f"after kill -9, the next `scrapy reextract` exited {again.returncode} ({last_message(again.stderr)!r}); "
        f"then `scrapy dataset` exited {result.returncode} ({(result.stderr or result.stdout).strip()[-800:]!r})"
    )
    assert again.returncode == 0, story
    no_traceback(again.stderr)
    assert last_message(again.stderr).startswith("Run finished: healthy"), story
    no_traceback(result.stderr)
    assert result.returncode == 0, story
    check_version(dataset)
    assert sorted(pq.read_table(dataset / "documents.parquet").column("url").to_pylist()) == EXPECTED_URLS
    doubled = {key: n for key, n in new_rows_per_document(dataset).items() if n > 1}
    assert doubled == {}, f"documents recorded as new more than once: {doubled}"
    news = Counter(r["url"] for _, records in run_outputs(tmp_path, "reextract") for r in records
                   if r["crawl_status"] == "new")  # fmt: skip
    assert all(n == 1 for n in news.values()), f"published as new in two runs: {news}"
    assert unvouched_outputs(tmp_path / "data") == [], "the next run finished or took back the killed run's files"
    assert half_published == [], f"between kill -9 and the next run, data/ holds {half_published}"


def test_two_reextractions_at_once_serialise_or_lock_and_publish_each_document_once(published, tmp_path):
    copy_archive(published, tmp_path)
    args = ["reextract", "-a", "workers=1", *settings(tmp_path, CARNEGIE_LOCK_TIMEOUT="30")]
    with background(args, tmp_path / "a.log") as first, background(args, tmp_path / "b.log") as second:
        codes = first.wait(90), second.wait(90)
        both = first, second
    ended_or_locked(both, codes, "another run")
    assert 0 in codes
    runs = run_outputs(tmp_path, "reextract")
    assert len(runs) == codes.count(0)
    news = Counter(r["url"] for _, records in runs for r in records if r["crawl_status"] == "new")
    assert sorted(news) == EXPECTED_URLS
    assert set(news.values()) == {1}, f"documents published as new twice: {news}"
    dataset = tmp_path / "ds" / "dataset"
    assert check_version(dataset) == tuple(sorted(m["run_id"] for m, _ in runs))
    assert set(new_rows_per_document(dataset).values()) == {1}
