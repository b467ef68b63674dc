"""Building the dataset from hand-made runs: live set, latest versions, history, removals, rebuild == update."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

from carnegie_crawler.dataset import (
    DatasetError,
    RunRef,
    arrow_schema,
    discover_runs,
    history_schema,
    load_run,
    rebuild_dataset,
    sort_key,
    update_dataset,
)
from carnegie_crawler.dataset import build as build_module
from carnegie_crawler.dataset.config import current
from carnegie_crawler.dataset.runs import DatasetLockedError, SchemaChangedError
from carnegie_crawler.dataset.schema import hf_features
from carnegie_crawler.dataset.synthetic import iso, run_id_at, stub, write_run

SITE = "https://carnegieendowment.org/posts"
T0 = datetime(2026, 11, 1, tzinfo=UTC)


class Runs:
    """Published runs on one state file, each following the last (previous_run_id), a day apart."""

    def __init__(self, root: Path, token: int = 0) -> None:
        self.token = token
        self.data = root / "data"
        self.state = root / "state.sqlite3"
        self.last: str | None = None
        self.manifests: list[Path] = []

    def add(self, make: Any = None, *, mode: str = "incremental", removed: Any = (), published: bool = True) -> Path:
        number = len(self.manifests) + 1
        start = T0 + timedelta(days=number)
        run_id = run_id_at(start, self.token + number)
        records = make(run_id, iso(start + timedelta(minutes=number))) if make else []
        manifest = write_run(
            self.data,
            run_id,
            records,
            state=self.state,
            started_at=iso(start),
            finished_at=iso(start + timedelta(hours=1)),
            previous_run_id=self.last,
            mode=mode,
            removed=removed,
            published=published,
        )
        if published:
            self.last = run_id
        self.manifests.append(manifest)
        return manifest

    def refs(self) -> list[RunRef]:
        return discover_runs([self.data], self.state)


def full_run(run_id: str, at: str) -> list[dict[str, Any]]:
    rich = {
        "content_type": "commentary",
        "authors": [{"name": "Ana Author", "url": "https://carnegieendowment.org/people/ana", "role": "Fellow"}],
        "published_date": "2024-02-29",
        "image": {"url": "https://carnegieendowment.org/i.jpg", "credit": None},
        "topics": ["Security", "Türkiye"],
        "body": "One paragraph.\n\nTwo.",
        "word_count": 3,
        "related": {"recent_work": [], "more_work": [f"{SITE}/m"]},
    }
    return [
        stub(f"{SITE}/a", "en", run_id, at),
        stub(f"{SITE}/a", None, run_id, at),
        stub(f"{SITE}/b", "en", run_id, at),
        stub(f"{SITE}/c", "ru", run_id, at),
        stub(f"{SITE}/d", "en", run_id, at, **rich),
    ]


def second_run(run_id: str, at: str) -> list[dict[str, Any]]:
    return [
        stub(f"{SITE}/b", "en", run_id, at, "updated", title="B, revised", published_date="2026-10-31"),
        stub(f"{SITE}/e", "en", run_id, at),
        stub(f"{SITE}/a", "en", run_id, at, "unchanged"),
    ]


def third_run(run_id: str, at: str) -> list[dict[str, Any]]:
    return [stub(f"{SITE}/f", "en", run_id, at)]


def fifth_run(run_id: str, at: str) -> list[dict[str, Any]]:
    return [stub(f"{SITE}/c", "ru", run_id, at, title="C is back")]


REMOVED = [
    {"url": f"{SITE}/c", "language": "ru", "reason": "HTTP 410"},
    {"url": f"{SITE}/x", "language": None, "reason": "HTTP 404"},
]


def scenario(root: Path) -> Runs:
    runs = Runs(root)
    runs.add(full_run, mode="full")
    runs.add(second_run)
    runs.add(third_run, removed=REMOVED)
    runs.add()  # an empty run: an empty file
    runs.add(fifth_run)
    return runs


def documents(directory: Path) -> pa.Table:
    return pq.read_table(directory / "documents.parquet")


def keys(table: pa.Table) -> list[tuple[str, str | None]]:
    return list(zip(table.column("url").to_pylist(), table.column("language").to_pylist(), strict=True))


def row(table: pa.Table, url: str, language: str | None) -> dict[str, Any]:
    (found,) = [r for r in table.to_pylist() if (r["url"], r["language"]) == (f"{SITE}/{url}", language)]
    return found


def history(directory: Path) -> list[tuple[Any, ...]]:
    table = pq.read_table(directory / "history.parquet")
    return [
        (r["url"].rsplit("/", 1)[1], r["language"], r["crawl_status"], r["run_id"][-1], r["time"].isoformat())
        for r in table.to_pylist()
    ]


def null_typed(schema: pa.Schema) -> list[str]:
    def walk(kind: pa.DataType) -> bool:
        if pa.types.is_null(kind):
            return True
        if pa.types.is_list(kind):
            return walk(kind.value_type)
        return pa.types.is_struct(kind) and any(walk(child.type) for child in kind)

    return [field.name for field in schema if walk(field.type)]


@pytest.fixture
def small_row_groups(monkeypatch):
    """Row groups of 2 documents: every merge spans several groups, and old rows are cut mid-group."""
    monkeypatch.setattr(build_module, "ROW_GROUP_ROWS", 2)


def test_each_run_applied_in_turn(tmp_path, small_row_groups):
    runs = scenario(tmp_path)
    target = tmp_path / "dataset"
    live = []
    for manifest in runs.manifests:
        summary = update_dataset(target, [manifest])
        assert summary.applied == [RunRef.from_manifest(manifest).run_id]
        live.append([(url.rsplit("/", 1)[1], language) for url, language in keys(documents(target))])
    assert live == [
        [("a", None), ("a", "en"), ("b", "en"), ("c", "ru"), ("d", "en")],
        [("a", None), ("a", "en"), ("b", "en"), ("c", "ru"), ("d", "en"), ("e", "en")],
        [("a", None), ("a", "en"), ("b", "en"), ("d", "en"), ("e", "en"), ("f", "en")],
        [("a", None), ("a", "en"), ("b", "en"), ("d", "en"), ("e", "en"), ("f", "en")],
        [("a", None), ("a", "en"), ("b", "en"), ("c", "ru"), ("d", "en"), ("e", "en"), ("f", "en")],
    ]
    table = documents(target)
    assert table.schema == arrow_schema()
    assert keys(table) == sorted(keys(table), key=sort_key)
    # The latest record of each key, whatever its crawl_status.
    assert row(table, "a", "en")["crawl_status"] == "unchanged"
    assert row(table, "a", "en")["run_id"].endswith("2")
    assert row(table, "a", None)["run_id"].endswith("1")
    assert row(table, "b", "en")["title"] == "B, revised"
    assert str(row(table, "b", "en")["published_date"]) == "2026-10-31"
    assert row(table, "c", "ru")["title"] == "C is back"
    d = row(table, "d", "en")
    assert d["authors"] == [{"name": "Ana Author", "url": "https://carnegieendowment.org/people/ana", "role": "Fellow"}]
    assert d["topics"] == ["Security", "Türkiye"]
    assert d["crawled_at"] == datetime(2026, 11, 2, 0, 1, tzinfo=UTC)
    assert history(target) == [
        ("a", None, "new", "1", "2026-11-02T00:01:00+00:00"),
        ("a", "en", "new", "1", "2026-11-02T00:01:00+00:00"),
        ("b", "en", "new", "1", "2026-11-02T00:01:00+00:00"),
        ("c", "ru", "new", "1", "2026-11-02T00:01:00+00:00"),
        ("d", "en", "new", "1", "2026-11-02T00:01:00+00:00"),
        ("b", "en", "updated", "2", "2026-11-03T00:02:00+00:00"),
        ("e", "en", "new", "2", "2026-11-03T00:02:00+00:00"),
        ("f", "en", "new", "3", "2026-11-04T00:03:00+00:00"),
        ("c", "ru", "removed", "3", "2026-11-04T01:00:00+00:00"),
        ("x", None, "removed", "3", "2026-11-04T01:00:00+00:00"),
        ("c", "ru", "new", "5", "2026-11-06T00:05:00+00:00"),
    ]
    assert pq.read_schema(target / "history.parquet") == history_schema()
    removal = pq.read_table(target / "history.parquet").filter(pc.field("crawl_status") == "removed")
    assert removal.column("content_hash").null_count == removal.num_rows == 2


def _same_dataset(one: Path, other: Path) -> None:
    for name in ("documents.parquet", "history.parquet"):
        assert (one / name).read_bytes() == (other / name).read_bytes(), name
        assert pq.read_table(one / name).equals(pq.read_table(other / name))
    packages = [json.loads((d / "datapackage.json").read_text()) for d in (one, other)]
    for package in packages:
        package.pop("created")
    assert packages[0] == packages[1]
    cards = [
        [line for line in (d / "README.md").read_text().splitlines() if "built 20" not in line] for d in (one, other)
    ]
    assert cards[0] == cards[1]


@pytest.mark.parametrize("rows", [2, 3, 2048])
def test_rebuild_equals_the_incremental_path(tmp_path, monkeypatch, rows):
    monkeypatch.setattr(build_module, "ROW_GROUP_ROWS", rows)
    runs = scenario(tmp_path)
    for manifest in runs.manifests:
        update_dataset(tmp_path / "incremental", [manifest])
    update_dataset(tmp_path / "at_once", runs.manifests)
    rebuild_dataset(tmp_path / "rebuilt", runs.refs())
    _same_dataset(tmp_path / "incremental", tmp_path / "rebuilt")
    _same_dataset(tmp_path / "at_once", tmp_path / "rebuilt")


def test_rebuild_ignores_the_existing_files_and_swaps_in(tmp_path):
    runs = scenario(tmp_path)
    target = tmp_path / "dataset"
    update_dataset(target, runs.manifests[:2])
    (target / "documents.parquet").write_bytes(b"garbage")
    summary = rebuild_dataset(target, runs.refs())
    assert summary.rebuilt
    assert summary.documents == 7
    update_dataset(tmp_path / "reference", runs.manifests)
    _same_dataset(target, tmp_path / "reference")
    shown = {p.name for p in tmp_path.iterdir() if ".version-" not in p.name}
    assert shown == {"data", "dataset", "dataset.lock", "reference", "reference.lock"}
    # Beside each dataset, only the version it shows (its link's target): the one it replaced is gone.
    versions = sorted(p for p in tmp_path.iterdir() if ".version-" in p.name)
    assert versions == sorted([current(target), current(tmp_path / "reference")])


def test_building_twice_gives_equal_files(tmp_path, small_row_groups):
    runs = scenario(tmp_path)
    rebuild_dataset(tmp_path / "one", runs.refs())
    rebuild_dataset(tmp_path / "two", runs.refs())
    _same_dataset(tmp_path / "one", tmp_path / "two")


def test_an_up_to_date_dataset_is_left_alone(tmp_path):
    runs = scenario(tmp_path)
    target = tmp_path / "dataset"
    update_dataset(target, runs.manifests)
    before = {p.name: p.stat().st_mtime_ns for p in target.iterdir()}
    summary = update_dataset(target, runs.manifests[-2:])
    assert summary.applied == []
    assert summary.documents == 7
    assert summary.runs == 5
    assert "up to date" in summary.line()
    assert {p.name: p.stat().st_mtime_ns for p in target.iterdir()} == before


@pytest.mark.parametrize("kind", ["empty", "one type"])
def test_no_null_typed_column_whatever_the_data(tmp_path, kind):
    runs = Runs(tmp_path)
    if kind == "empty":
        manifest = runs.add(mode="full")
        assert (runs.data / f"{RunRef.from_manifest(manifest).run_id}.jsonl").stat().st_size == 0
    else:  # only new press releases: no author, date, image, body or labels anywhere
        runs.add(lambda run_id, at: [stub(f"{SITE}/p{i}", "en", run_id, at) for i in range(3)], mode="full")
    update_dataset(tmp_path / "dataset", runs.manifests)
    for name, expected in (("documents.parquet", arrow_schema()), ("history.parquet", history_schema())):
        schema = pq.read_schema(tmp_path / "dataset" / name)
        assert schema.remove_metadata() == expected
        assert null_typed(schema) == []
    table = documents(tmp_path / "dataset")
    assert table.num_rows == (0 if kind == "empty" else 3)
    if kind == "one type":
        assert table.column("published_date").null_count == 3
        assert table.column("authors").to_pylist() == [[], [], []]


def test_a_removed_document_written_again_by_the_same_run_stays(tmp_path):
    runs = Runs(tmp_path)
    runs.add(lambda run_id, at: [stub(f"{SITE}/a", "en", run_id, at)], mode="full")
    runs.add(
        lambda run_id, at: [stub(f"{SITE}/a", "en", run_id, at, "updated", title="Still here")],
        removed=[{"url": f"{SITE}/a", "language": "en", "reason": "HTTP 410"}],
    )
    update_dataset(tmp_path / "dataset", runs.manifests)
    assert documents(tmp_path / "dataset").column("title").to_pylist() == ["Still here"]
    assert [h[2] for h in history(tmp_path / "dataset")] == ["new", "updated"]  # the record overrules the removal


def test_run_id_is_filled_from_the_run_and_unknown_fields_are_ignored(tmp_path):
    runs = Runs(tmp_path)

    def older(run_id: str, at: str) -> list[dict[str, Any]]:
        record = stub(f"{SITE}/a", "en", run_id, at)
        del record["run_id"]  # written before the schema had it
        return [record | {"retired_field": 1}]

    manifest = runs.add(older, mode="full")
    update_dataset(tmp_path / "dataset", [manifest])
    assert documents(tmp_path / "dataset").column("run_id").to_pylist() == [RunRef.from_manifest(manifest).run_id]


def _corrupt(manifest: Path, change: str) -> None:
    output = manifest.with_name(manifest.name.replace(".manifest.json", ".jsonl"))
    data = output.read_bytes()
    if change == "sha256":
        output.write_bytes(data.replace(b"Title of", b"Title 0f", 1))
    else:  # a line more, the manifest's sha256 made to match: only the count disagrees
        output.write_bytes(data + data.splitlines(keepends=True)[0])
        described = json.loads(manifest.read_text())
        described["output"]["sha256"] = hashlib.sha256(output.read_bytes()).hexdigest()
        manifest.write_text(json.dumps(described))


@pytest.mark.parametrize("change", ["sha256", "lines"])
def test_a_run_that_does_not_match_its_manifest_is_refused(tmp_path, change):
    runs = scenario(tmp_path)
    target = tmp_path / "dataset"
    update_dataset(target, runs.manifests[:1])
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    _corrupt(runs.manifests[1], change)
    run_id = RunRef.from_manifest(runs.manifests[1]).run_id

    def discovered() -> object:
        return discover_runs([runs.data], runs.state, verify=True)

    for attempt in (discovered, lambda: update_dataset(target, runs.manifests[1:2])):
        with pytest.raises(DatasetError) as caught:
            attempt()
        message = str(caught.value)
        assert run_id in message
        assert "does not match its manifest" in message
        assert "\n" not in message
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert list(tmp_path.glob(".dataset.*")) == [current(target)]  # no building directory left


def test_discovery_keeps_published_runs_of_the_state_in_commit_order(tmp_path):
    runs = scenario(tmp_path)
    runs.add(third_run, published=False)
    other = Runs(tmp_path / "other", token=100)
    other.data = runs.data  # same directory, another state file
    other.add(full_run, mode="full")
    found = runs.refs()
    assert [ref.manifest for ref in found] == runs.manifests[:5]
    assert [ref.run_id[-1] for ref in found] == ["1", "2", "3", "4", "5"]
    assert found[2].removed[0].reason == "HTTP 410"
    with pytest.raises(DatasetError, match="was not published"):
        update_dataset(tmp_path / "dataset", [runs.manifests[5]])


def test_a_gap_in_the_runs_is_refused_or_warned(tmp_path):
    runs = scenario(tmp_path)
    target = tmp_path / "dataset"
    update_dataset(target, runs.manifests[:1])
    with pytest.raises(DatasetError, match=r"follows run .*-000002, but the run before it in the dataset is .*-000001"):
        update_dataset(target, runs.manifests[2:3])
    summary = update_dataset(target, runs.manifests[2:3], allow_gaps=True)
    assert len(summary.warnings) == 1
    with pytest.raises(DatasetError, match=r"committed before run .*-000003.*--rebuild"):
        update_dataset(target, runs.manifests[1:2])
    with pytest.raises(DatasetError, match="follows run"):
        update_dataset(tmp_path / "fresh", runs.manifests[1:2])  # a new dataset must start at the first run


def test_a_schema_change_asks_for_a_rebuild(tmp_path):
    runs = scenario(tmp_path)
    target = tmp_path / "dataset"
    update_dataset(target, runs.manifests[:1])
    pq.write_table(documents(target).drop_columns(["run_id"]), target / "documents.parquet")
    with pytest.raises(SchemaChangedError, match="--rebuild"):
        update_dataset(target, runs.manifests[1:2])
    assert rebuild_dataset(target, runs.refs()).documents == 7


def test_a_failed_build_leaves_the_dataset_as_it_was(tmp_path):
    runs = scenario(tmp_path)
    target = tmp_path / "dataset"
    update_dataset(target, runs.manifests[:1])
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    bad = runs.add(lambda run_id, at: [stub(f"{SITE}/z", "en", run_id, at, word_count="many")], mode="full")
    with pytest.raises(DatasetError, match=r"records of run\(s\) .* do not fit the schema"):
        update_dataset(target, [bad], allow_gaps=True)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert list(tmp_path.glob(".dataset.*")) == [current(target)]  # no building directory left


def test_the_dataset_path_is_a_link_switched_in_one_step_and_a_killed_switch_is_mended(tmp_path):
    runs = scenario(tmp_path)
    target = tmp_path / "dataset"
    update_dataset(target, runs.manifests[:2])
    first = current(target)
    assert target.is_symlink()
    assert first is not None
    assert (first / "datapackage.json").is_file()
    update_dataset(target, runs.manifests[:3])
    assert current(target) != first
    assert not first.exists()  # the version the link left is gone
    # A kill after the new version was made, before the link was switched: the link is missing, and
    # a half-made link and an unused version lie beside it.
    shown = current(target)
    target.unlink()
    (tmp_path / ".dataset.link-99999").symlink_to("nowhere")
    (tmp_path / ".dataset.version-1").mkdir()
    summary = update_dataset(target, runs.manifests)
    assert summary.applied == [RunRef.from_manifest(m).run_id for m in runs.manifests[3:]]
    assert sorted(p.name for p in tmp_path.glob(".dataset.*")) == [current(target).name]
    assert shown != current(target)


def legacy_dataset(tmp_path: Path) -> tuple[Any, Path]:
    """The runs, and a dataset of the first two as a real directory, as releases before the links made."""
    runs = scenario(tmp_path)
    target = tmp_path / "dataset"
    update_dataset(target, runs.manifests[:2])
    version = current(target)
    target.unlink()
    version.rename(target)
    return runs, target


def test_a_dataset_directory_from_before_the_links_is_taken_over(tmp_path):
    runs, target = legacy_dataset(tmp_path)
    summary = update_dataset(target, runs.manifests)
    assert summary.applied == [RunRef.from_manifest(m).run_id for m in runs.manifests[2:]]
    assert target.is_symlink()
    assert [p.name for p in tmp_path.glob(".dataset.*")] == [current(target).name]


def test_a_file_system_without_symbolic_links_keeps_the_dataset_and_says_why(tmp_path, monkeypatch):
    """FAT or CIFS without unix extensions: no link can be made, so nothing is moved either."""
    runs, target = legacy_dataset(tmp_path)
    before = sorted((p.name, p.read_bytes()) for p in target.iterdir())

    def no_links(source: object, link: object, *args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted", str(link))

    monkeypatch.setattr(os, "symlink", no_links)
    with pytest.raises(DatasetError, match="cannot make a symbolic link"):
        update_dataset(target, runs.manifests)
    assert not target.is_symlink()
    assert sorted((p.name, p.read_bytes()) for p in target.iterdir()) == before
    assert sorted(p.name for p in tmp_path.glob(".dataset.*")) == []
    monkeypatch.undo()
    assert update_dataset(target, runs.manifests).applied  # links back: the next build goes through


@pytest.mark.parametrize("build", [update_dataset, rebuild_dataset])
@pytest.mark.parametrize("what", ["directory", "file", "link-to-a-directory"])
def test_a_path_that_is_not_a_dataset_is_not_touched(tmp_path, build, what):
    """A rebuild replaced whatever was there: a user's directory, a file, the state (found by a review)."""
    runs = scenario(tmp_path)
    target = tmp_path / "dataset"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    if what == "directory":
        target = mine
    elif what == "file":
        target = mine / "notes.txt"
    else:
        target.symlink_to(mine)
    with pytest.raises(DatasetError, match="left as it is"):
        build(target, runs.refs() if build is rebuild_dataset else runs.manifests)
    assert (mine / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_another_build_holds_the_lock(tmp_path):
    runs = scenario(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
            "print('held', flush=True); time.sleep(60)",
            str(tmp_path / "dataset.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(DatasetLockedError, match="holds"):
            update_dataset(tmp_path / "dataset", runs.manifests, lock_timeout=0)
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
    assert update_dataset(tmp_path / "dataset", runs.manifests, lock_timeout=0).documents == 7


def test_the_descriptor_and_the_card(tmp_path):
    runs = scenario(tmp_path)
    target = tmp_path / "dataset"
    update_dataset(target, runs.manifests)
    package = json.loads((target / "datapackage.json").read_text())
    assert [run["run_id"] for run in package["runs"]] == [ref.run_id for ref in runs.refs()]
    assert (
        package["schema_version"]
        == json.loads(Path("schemas/publication.schema.json").read_text())["properties"]["schema_version"]["const"]
    )
    for resource in package["resources"]:
        data = (target / resource["path"]).read_bytes()
        assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        assert resource["bytes"] == len(data)
        assert resource["rows"] == pq.ParquetFile(target / resource["path"]).metadata.num_rows
    assert [f["name"] for f in package["resources"][0]["schema"]["fields"]] == arrow_schema().names
    card = (target / "README.md").read_text()
    _, front, body = card.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert meta["configs"] == [
        {"config_name": "documents", "data_files": [{"split": "train", "path": "documents.parquet"}], "default": True},
        {"config_name": "history", "data_files": [{"split": "train", "path": "history.parquet"}]},
    ]
    info = {entry["config_name"]: entry for entry in meta["dataset_info"]}
    assert info["documents"]["features"] == hf_features(arrow_schema())
    assert info["history"]["features"] == hf_features(history_schema())
    assert info["documents"]["splits"][0]["num_examples"] == 7
    assert "belongs to its publisher, the Carnegie Endowment for International Peace" in body
    assert "Published dates: 2024-02-29 to 2026-10-31." in body
    assert "| `published_date` | `date32[day]` | 28.6 % | Publication date, YYYY-MM-DD. |" in body
    assert "&lt;html lang&gt;" in body
    for ref in runs.refs():
        assert ref.run_id in body


def test_a_run_file_loads_with_the_fixed_types(tmp_path):
    runs = scenario(tmp_path)
    table = load_run(RunRef.from_manifest(runs.manifests[0]).output)
    assert table.schema == arrow_schema()
    assert table.num_rows == 5
    assert str(table.column("published_date")[4]) == "2024-02-29"
    empty = load_run(RunRef.from_manifest(runs.manifests[3]).output)
    assert empty.schema == arrow_schema()
    assert empty.num_rows == 0
    assert null_typed(empty.schema) == []


def test_a_full_disk_is_an_os_error_and_leaves_the_dataset_as_it_was(tmp_path, monkeypatch, small_row_groups):
    from carnegie_crawler.dataset import output as output_module

    runs = scenario(tmp_path)
    target = tmp_path / "dataset"
    update_dataset(target, runs.manifests[:1])
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(output_module.pq.ParquetWriter, "write_table", full)
    with pytest.raises(OSError, match="No space left"):
        update_dataset(target, runs.manifests[1:])
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert list(tmp_path.glob(".dataset.*")) == [current(target)]  # no building directory left


def test_a_dataset_path_the_user_linked_elsewhere_is_followed_and_its_target_kept(tmp_path):
    runs = scenario(tmp_path)
    elsewhere = tmp_path / "big-disk" / "dataset"
    elsewhere.parent.mkdir()
    link = tmp_path / "dataset"
    link.symlink_to(elsewhere)
    update_dataset(link, runs.manifests[:2])
    update_dataset(link, runs.manifests)
    assert link.is_symlink()
    assert link.readlink() == elsewhere  # the user's link is left as it was
    assert (link / "datapackage.json").is_file()
    assert current(elsewhere) is not None  # the versions live beside the directory it points to
    assert current(elsewhere).parent == elsewhere.parent
    update_dataset(tmp_path / "reference", runs.manifests)
    _same_dataset(link, tmp_path / "reference")
