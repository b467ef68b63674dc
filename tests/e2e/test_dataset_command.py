"""`scrapy dataset` as a user runs it: after real crawls of the fixture site, and on bad input."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from carnegie_crawler.dataset import RunRef, arrow_schema, update_dataset
from carnegie_crawler.devserver import SiteServer
from tests.components.test_dataset_build import Runs, full_run, second_run
from tests.e2e.test_bad_input import one_line_error
from tests.e2e.test_smoke import EXPECTED, REPO, scrapy
from tests.helpers import SITE

pytestmark = pytest.mark.e2e

REMOVED_PAGE = "pages/posts/2022/09/carnegie-announces-new-middle-east-fellows.html"
REMOVED_URL = "https://carnegieendowment.org/posts/2022/09/carnegie-announces-new-middle-east-fellows?lang=en"


def settings(tmp_path: Path, **more: str) -> list[str]:
    values = {
        "CARNEGIE_OUTPUT": f"{tmp_path}/data/%(run_id)s.jsonl",
        "CARNEGIE_REJECTS": f"{tmp_path}/data/rejects/%(run_id)s.jsonl",
        "CARNEGIE_STATE": f"{tmp_path}/state.sqlite3",
        "CARNEGIE_DATASET": f"{tmp_path}/dataset",
        "CARNEGIE_ARCHIVE": f"{tmp_path}/archive",
        "DOWNLOAD_DELAY": "0",
        "AUTOTHROTTLE_ENABLED": "False",
        **more,
    }
    return [part for name, value in values.items() for part in ("-s", f"{name}={value}")]


# One document served under two paths: the edit is made to both copies.
EDITED_PAGES = ("pages/posts/2021/12/gulf-states-and-the-iran-nuclear-talks.html",
                "pages/middle-east/posts/2021/12/gulf-states-and-the-iran-nuclear-talks.html")  # fmt: skip
EDITED_URL = "https://carnegieendowment.org/posts/2021/12/gulf-states-and-the-iran-nuclear-talks?lang=en"


def test_a_full_run_an_edit_a_410_an_incremental_run_and_the_dataset(tmp_path):
    """The issue's scenario: every healthy run folds itself into the dataset; `scrapy dataset` agrees,
    and `--rebuild` from the run files alone makes the same files."""
    root = tmp_path / "site"
    shutil.copytree(SITE, root)
    with SiteServer(root) as server:
        starts = ",".join(server.base_url + path for path in EXPECTED["start_paths"])
        first = scrapy("crawl", "commentary", "-a", f"start_urls={starts}", *settings(tmp_path))
        assert first.returncode == 0, first.stderr[-2000:]
        assert len(pq.read_table(tmp_path / "dataset" / "documents.parquet")) == len(EXPECTED["expected_items"])
        for page in (root / name for name in EDITED_PAGES):
            text = page.read_text(encoding="utf-8")
            assert "Their leverage is limited" in text
            page.write_text(text.replace("Their leverage is limited", "Their leverage is small"), encoding="utf-8")
        routes = json.loads((root / "routes.json").read_text())
        routes["/posts/2022/09/carnegie-announces-new-middle-east-fellows"] = {"status": 410}
        server.site.routes = routes
        second = scrapy(
            "crawl", "commentary", "-a", f"start_urls={starts}", "-a", "incremental=true",
            *settings(tmp_path, CARNEGIE_REFRESH_DAYS="0"),
        )  # fmt: skip
        assert second.returncode == 0, second.stderr[-2000:]
    result = scrapy("dataset", *settings(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "is up to date: 2 run(s)" in result.stdout, "each run updated the dataset at its end"
    assert "Traceback" not in result.stderr

    runs = sorted((RunRef.from_manifest(p) for p in (tmp_path / "data").glob("*.manifest.json")), key=lambda r: r.order)
    assert [run.previous_run_id for run in runs] == [None, runs[0].run_id]
    assert {(gone.url, gone.language) for gone in runs[1].removed} == {(REMOVED_URL, "en")}
    incremental = [json.loads(line) for line in runs[1].output.read_text().splitlines()]
    assert [(r["url"], r["crawl_status"]) for r in incremental] == [(EDITED_URL, "updated")]

    table = pq.read_table(tmp_path / "dataset" / "documents.parquet")
    assert table.schema == arrow_schema()
    live = {e["url"] for e in EXPECTED["expected_items"]} - {REMOVED_URL}
    assert sorted(table.column("url").to_pylist()) == sorted(live), "the exact live set"
    latest = table.filter(pc.equal(table.column("url"), EDITED_URL)).to_pylist()[0]
    assert (latest["content_hash"], latest["run_id"]) == (incremental[0]["content_hash"], runs[1].run_id)
    assert "Their leverage is small" in latest["body"]
    history = pq.read_table(tmp_path / "dataset" / "history.parquet").to_pylist()
    changed = sorted((h["url"], h["crawl_status"]) for h in history if h["run_id"] == runs[1].run_id)
    assert changed == sorted([(EDITED_URL, "updated"), (REMOVED_URL, "removed")]), "what changed in that run"
    assert sum(h["crawl_status"] == "new" for h in history) == len(EXPECTED["expected_items"])
    loads_in_every_tool(tmp_path / "dataset" / "documents.parquet", len(live))

    before = {name: (tmp_path / "dataset" / name).read_bytes() for name in ("documents.parquet", "history.parquet")}
    rebuilt = scrapy("dataset", "--rebuild", *settings(tmp_path))
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert "rebuilt from 2 run(s)" in rebuilt.stdout
    assert before == {name: (tmp_path / "dataset" / name).read_bytes() for name in before}


def loads_in_every_tool(path: Path, rows: int) -> None:
    """pandas, polars, DuckDB and Hugging Face `datasets` read the real dataset with its types."""
    import datetime

    import duckdb
    import pandas as pd
    import polars as pl

    frame = pd.read_parquet(path)
    assert len(frame) == rows
    assert str(frame["crawled_at"].dtype) in ("datetime64[us, UTC]", "datetime64[ns, UTC]")
    assert isinstance(frame["published_date"].dropna().iloc[0], datetime.date)
    polars = pl.read_parquet(path)
    assert (polars.schema["published_date"], polars.schema["crawled_at"]) == (pl.Date, pl.Datetime("us", "UTC"))
    assert isinstance(polars.schema["authors"], pl.List)
    with duckdb.connect() as db:
        kinds = dict(db.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '{path}')").fetchall())
        assert (kinds["published_date"], kinds["crawled_at"]) == ("DATE", "TIMESTAMP WITH TIME ZONE")
        assert db.execute(f"SELECT count(*) FROM '{path}'").fetchone() == (rows,)
    from datasets import Dataset

    loaded = Dataset.from_parquet(str(path), cache_dir=str(path.parent.parent / "hf-cache"))
    assert len(loaded) == rows
    assert loaded.features["published_date"].dtype == "date32"
    assert loaded.features["crawled_at"].dtype == "timestamp[us, tz=UTC]"


WATER_PAGE = "pages/posts/2022/02/central-asias-water-disputes.html"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def live_keys(tmp_path: Path, *parts: str) -> list[tuple[str, str]]:
    table = pq.read_table(tmp_path / "dataset" / "documents.parquet", columns=["url", "language"])
    keys = zip(table.column("url").to_pylist(), table.column("language").to_pylist(), strict=True)
    return sorted(key for key in keys if any(part in key[0] for part in parts))


def test_a_page_whose_language_or_canonical_url_changes_keeps_one_row(tmp_path):
    """Found by a review: the old key stayed in documents.parquet beside the new one, for good, even once
    the page answered 410."""
    tunisia = "https://carnegieendowment.org/posts/2019/10/tunisias-democratic-test?lang=en"
    water = "https://carnegieendowment.org/posts/2022/02/central-asias-water-disputes?lang=en"
    moved = water.replace("/posts/", "/russia-eurasia/posts/")
    root = tmp_path / "site"
    shutil.copytree(SITE, root)
    tunisia_page, water_page = root / "pages/posts/2019/10/tunisias-democratic-test.html", root / WATER_PAGE
    edit(tunisia_page, '<html lang="en"', '<html lang="ar"')  # mis-tagged at first
    with SiteServer(root) as server:
        starts = ",".join(server.base_url + path for path in EXPECTED["start_paths"])
        crawl = ["crawl", "commentary", "-a", f"start_urls={starts}", *settings(tmp_path)]
        assert scrapy(*crawl).returncode == 0
        assert live_keys(tmp_path, "tunisias", "central-asias") == [(tunisia, "ar"), (water, "en")]
        edit(tunisia_page, '<html lang="ar"', '<html lang="en"')
        edit(water_page, f'href="{water}"', f'href="{moved}"')
        second = scrapy(*crawl)
        assert second.returncode == 0, second.stderr[-2000:]
        assert live_keys(tmp_path, "tunisias", "central-asias") == [(tunisia, "en"), (moved, "en")]
        routes = json.loads((root / "routes.json").read_text(encoding="utf-8"))
        routes["/posts/2019/10/tunisias-democratic-test"] = {"status": 410}
        routes["/posts/2022/02/central-asias-water-disputes"] = {"status": 410}
        server.site.routes = routes
        third = scrapy(*crawl)
        assert third.returncode == 0, third.stderr[-2000:]
    assert live_keys(tmp_path, "tunisias", "central-asias") == []


def test_synthetic_runs_and_a_mismatch(tmp_path):
    runs = Runs(tmp_path)
    runs.add(full_run, mode="full")
    second = runs.add(second_run)
    result = scrapy("dataset", *settings(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "6 documents (6 added, 0 replaced, 0 removed)" in result.stdout
    output = RunRef.from_manifest(second).output
    output.write_bytes(output.read_bytes() + b"\n")
    rebuilt = scrapy("dataset", "--rebuild", *settings(tmp_path))
    one_line_error(rebuilt, f"run {RunRef.from_manifest(second).run_id}")
    assert "does not match its manifest" in rebuilt.stderr


def test_a_rebuild_that_finds_no_run_keeps_the_dataset(tmp_path):
    """The data directory moved, or CARNEGIE_STATE or CARNEGIE_OUTPUT mistyped: no run of that state is
    found, and an empty dataset must not replace the good one with exit 0 (found by a review)."""
    runs = Runs(tmp_path)
    runs.add(full_run, mode="full")
    assert scrapy("dataset", *settings(tmp_path)).returncode == 0
    before = (tmp_path / "dataset" / "documents.parquet").read_bytes()
    elsewhere = tmp_path / "moved"
    elsewhere.mkdir()
    rebuilt = scrapy("dataset", "--rebuild", *settings(tmp_path, CARNEGIE_STATE=f"{elsewhere}/state.sqlite3"))
    one_line_error(rebuilt, "no published run to rebuild")
    assert "kept as it is" in rebuilt.stderr
    assert (tmp_path / "dataset" / "documents.parquet").read_bytes() == before


def test_a_damaged_history_file_with_a_run_to_apply_is_one_error_line(tmp_path):
    """The update reads history.parquet only while it writes the new version: garbage there was a
    pyarrow traceback (found by a review), where the same damage with nothing to apply is one line."""
    runs = Runs(tmp_path)
    runs.add(full_run, mode="full")
    assert scrapy("dataset", *settings(tmp_path)).returncode == 0
    history = tmp_path / "dataset" / "history.parquet"
    history.write_bytes(bytes(history.stat().st_size))
    runs.add(second_run)
    result = scrapy("dataset", *settings(tmp_path))
    one_line_error(result, "history.parquet is not the file datapackage.json describes")
    assert "scrapy dataset --rebuild" in result.stderr
    assert scrapy("dataset", "--rebuild", *settings(tmp_path)).returncode == 0
    assert pq.read_table(history).num_rows > 0


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"CARNEGIE_DATASET": ""}, "the dataset is off (CARNEGIE_DATASET is empty)"),
        ({"CARNEGIE_OUTPUT": "data/%(name)s/%(run_id)s.jsonl"}, "the directory of 'data/%(name)s/%(run_id)s.jsonl'"),
        ({"CARNEGIE_MANIFEST": "m/%(time)s/x.json"}, "CARNEGIE_MANIFEST: the directory of"),
        ({"CARNEGIE_STATE": ""}, "CARNEGIE_STATE is empty"),
    ],
)
def test_bad_settings_are_one_line_and_exit_2(tmp_path, overrides, fragment):
    one_line_error(scrapy("dataset", *settings(tmp_path, **overrides)), fragment)
    assert not (tmp_path / "dataset").exists()


@pytest.mark.parametrize("rebuild", [[], ["--rebuild"]], ids=["update", "rebuild"])
@pytest.mark.parametrize("target", ["a-run-file", "user-directory", "root", "dot"])
def test_a_dataset_setting_naming_something_else_is_refused_and_left_alone(tmp_path, rebuild, target):
    """`--rebuild` over an existing file or directory replaced it with exit 0 (a run's manifest, the state
    file, a user's notes), and `/` was a traceback (found by a review): one `Error:` line, exit 2, nothing
    touched."""
    runs = Runs(tmp_path)
    runs.add(full_run, mode="full")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    manifest = runs.manifests[0]
    manifest_bytes = manifest.read_bytes()
    shutil.copy(REPO / "scrapy.cfg", tmp_path)  # run from tmp_path: "." is that directory
    value = {"a-run-file": str(manifest), "user-directory": str(mine), "root": "/", "dot": "."}[target]
    result = scrapy("dataset", *rebuild, *settings(tmp_path, CARNEGIE_DATASET=value), cwd=tmp_path)
    one_line_error(result, "CARNEGIE_DATASET")
    assert manifest.read_bytes() == manifest_bytes
    assert (mine / "notes.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.is_symlink()]


def test_a_tilde_in_the_dataset_setting_is_taken_as_written(tmp_path):
    """`~/x` was kept literal by the build's own paths but expanded by pyarrow: every build failed
    (found by a review). Like every other path setting, it is taken as written."""
    runs = Runs(tmp_path)
    runs.add(full_run, mode="full")
    shutil.copy(REPO / "scrapy.cfg", tmp_path)
    result = scrapy("dataset", *settings(tmp_path, CARNEGIE_DATASET="~/ds"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(pq.read_table(tmp_path / "~" / "ds" / "documents.parquet")) == 5


def test_an_argument_is_a_usage_error(tmp_path):
    result = scrapy("dataset", "extra", *settings(tmp_path))
    assert result.returncode == 2
    assert "unexpected argument" in result.stderr


def test_a_run_that_would_replace_a_run_the_dataset_has_not_applied_refuses_to_start(tmp_path):
    """Fixed file names: each run replaces the last one's files. A run the dataset has not applied (its
    update failed, or the dataset was off) would be gone, and `scrapy dataset` would skip it as a gap:
    its documents would never reach the dataset. Such a run is refused until the dataset catches up."""
    with SiteServer(SITE) as server:
        starts = ",".join(server.base_url + path for path in EXPECTED["start_paths"])
        fixed = settings(tmp_path, CARNEGIE_OUTPUT=f"{tmp_path}/data/latest.jsonl")
        crawl = ("crawl", "commentary", "-a", f"start_urls={starts}")
        off = scrapy(*crawl, *settings(tmp_path, CARNEGIE_OUTPUT=f"{tmp_path}/data/latest.jsonl", CARNEGIE_DATASET=""))
        assert off.returncode == 0, off.stderr[-2000:]
        first_run = json.loads((tmp_path / "data" / "latest.manifest.json").read_text())["run_id"]
        refused = scrapy(*crawl, *fixed)
        one_line_error(refused, f"would replace the files of run {first_run}")
        assert "scrapy dataset" in refused.stderr
        assert json.loads((tmp_path / "data" / "latest.manifest.json").read_text())["run_id"] == first_run
        caught_up = scrapy("dataset", *fixed)
        assert caught_up.returncode == 0, caught_up.stderr[-2000:]
        again = scrapy(*crawl, *fixed)  # applied now: a run may replace it, and the next one this one
        assert again.returncode == 0, again.stderr[-2000:]
        assert scrapy(*crawl, *fixed).returncode == 0
    package = json.loads((tmp_path / "dataset" / "datapackage.json").read_text())
    assert package["runs"][0]["run_id"] == first_run
    assert len(package["runs"]) == 3
    assert len(pq.read_table(tmp_path / "dataset" / "documents.parquet")) == len(EXPECTED["expected_items"])


def test_the_demo_run_twice_keeps_a_file_per_run_that_the_dataset_names(tmp_path):
    """The demo wrote fixed names: after two runs, the dataset's first run named a manifest describing the
    second, and an output that no longer existed (found by a review). Its files are per run now."""
    env = os.environ | {"PYTHONPATH": str(REPO), "SCRAPY_SETTINGS_MODULE": "carnegie_crawler.settings"}
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "scrapy", "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr[-2000:]
    assert len(list((tmp_path / "data" / "demo").glob("*.jsonl"))) == 2
    dataset = tmp_path / "data" / "demo-dataset"
    runs = json.loads((dataset / "datapackage.json").read_text())["runs"]
    assert len(runs) == 2
    for entry in runs:
        ref = RunRef.from_manifest(entry["manifest"])
        assert ref.run_id == entry["run_id"]
        assert hashlib.sha256(ref.output.read_bytes()).hexdigest() == entry["output_sha256"]
    before = {name: (dataset / name).read_bytes() for name in ("documents.parquet", "history.parquet")}
    demo = ["-s", "CARNEGIE_OUTPUT=data/demo/%(run_id)s.jsonl", "-s", "CARNEGIE_STATE=data/demo-state.sqlite3"]
    rebuilt = subprocess.run(
        [sys.executable, "-m", "scrapy", "dataset", "--rebuild", *demo, "-s", f"CARNEGIE_DATASET={dataset}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert {name: (dataset / name).read_bytes() for name in before} == before


def test_a_last_run_whose_manifest_is_gone_is_said_not_reported_up_to_date(tmp_path):
    """A run committed with the dataset off, then its manifest deleted: `scrapy dataset` said "up to date"
    and `--rebuild` rebuilt without it, both silently (found by a review). No chain check can see a missing
    last run; the state's record of it can."""
    with SiteServer(SITE) as server:
        starts = ",".join(server.base_url + path for path in EXPECTED["start_paths"])
        crawl = ("crawl", "commentary", "-a", f"start_urls={starts}")
        assert scrapy(*crawl, *settings(tmp_path)).returncode == 0
        off = scrapy(*crawl, *settings(tmp_path, CARNEGIE_DATASET=""))
        assert off.returncode == 0, off.stderr[-2000:]
    manifests = sorted((tmp_path / "data").glob("*.manifest.json"))
    assert len(manifests) == 2
    second = json.loads(manifests[-1].read_text())["run_id"]
    manifests[-1].unlink()
    for rebuild in ([], ["--rebuild"]):
        result = scrapy("dataset", *rebuild, *settings(tmp_path))
        assert result.returncode == 0, result.stderr[-2000:]
        warnings = [line for line in result.stderr.splitlines() if "is not among the published runs found" in line]
        assert len(warnings) == 1, result.stderr[-2000:]
        assert f"run {second}" in warnings[0]


def test_a_last_run_without_output_or_a_run_applied_alone_is_no_missing_run(tmp_path):
    """The missing-last-run warning must not fire for a run committed without an output file (CARNEGIE_OUTPUT
    empty: no manifest by design), nor when the API is given one run of several: both were flagged as "moved
    or deleted" (found by a review of the change)."""
    with SiteServer(SITE) as server:
        starts = ",".join(server.base_url + path for path in EXPECTED["start_paths"])
        crawl = ("crawl", "commentary", "-a", f"start_urls={starts}")
        assert scrapy(*crawl, *settings(tmp_path)).returncode == 0
        assert scrapy(*crawl, *settings(tmp_path, CARNEGIE_DATASET=f"{tmp_path}/other")).returncode == 0
        no_output = scrapy(*crawl, *settings(tmp_path, CARNEGIE_OUTPUT=""))
        assert no_output.returncode == 0, no_output.stderr[-2000:]
    result = scrapy("dataset", *settings(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "is not among the published runs found" not in result.stderr
    first, second = sorted((tmp_path / "data").glob("*.manifest.json"))
    one_at_a_time = tmp_path / "one-at-a-time"
    update_dataset(one_at_a_time, [first])
    update_dataset(one_at_a_time, [second])
    assert (one_at_a_time / "documents.parquet").read_bytes() == (
        tmp_path / "dataset" / "documents.parquet"
    ).read_bytes()
