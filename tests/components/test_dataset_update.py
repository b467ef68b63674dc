"""An update streams the old files and reads only the runs it applies, and still writes what a rebuild writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from carnegie_crawler.dataset import DatasetError, RunRef, discover_runs, rebuild_dataset, update_dataset
from carnegie_crawler.dataset import build as build_module
from carnegie_crawler.dataset import convert as convert_module
from carnegie_crawler.dataset import history as history_module
from carnegie_crawler.dataset.synthetic import stub, write_run
from tests.components.test_dataset_build import (
    SITE,
    Runs,
    _same_dataset,
    documents,
    full_run,
    history,
    keys,
    scenario,
)


@pytest.fixture
def small_groups(monkeypatch):
    """Row groups of 3 documents and 2 history rows, old rows read 2 at a time: every piece spans several."""
    monkeypatch.setattr(build_module, "ROW_GROUP_ROWS", 3)
    monkeypatch.setattr(history_module, "ROW_GROUP_ROWS", 2)
    monkeypatch.setattr(convert_module, "BATCH_ROWS", 2)


def _group_sizes(path: Path) -> list[int]:
    metadata = pq.ParquetFile(path).metadata
    return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]


def test_run_by_run_equals_the_rebuild_with_small_groups(tmp_path, small_groups):
    runs = scenario(tmp_path)
    for manifest in runs.manifests:
        update_dataset(tmp_path / "incremental", [manifest])
    rebuild_dataset(tmp_path / "rebuilt", runs.refs())
    _same_dataset(tmp_path / "incremental", tmp_path / "rebuilt")
    sizes = _group_sizes(tmp_path / "incremental" / "history.parquet")
    assert len(sizes) > 2
    assert set(sizes[:-1]) == {2}
    assert _group_sizes(tmp_path / "incremental" / "documents.parquet")[:-1] == [3, 3]


def test_events_that_sort_among_the_old_history_are_merged_in_order(tmp_path, small_groups):
    """A run whose pages were fetched before the last run's (a clock set back) lands among the old rows."""
    runs = Runs(tmp_path)
    runs.add(full_run, mode="full")  # fetched 2026-11-02T00:01
    runs.add(lambda run_id, at: [stub(f"{SITE}/{name}", "en", run_id, at) for name in ("g", "h")])

    def earlier(run_id: str, at: str) -> list[dict[str, Any]]:
        return [
            stub(f"{SITE}/b", "en", run_id, "2026-11-01T12:00:00Z", "updated", title="B again"),
            stub(f"{SITE}/a", None, run_id, "2026-11-02T00:01:00Z", "updated", title="A, same minute"),
            stub(f"{SITE}/z", "en", run_id, "2026-11-03T00:02:00Z"),  # the same time as the last run's
        ]

    runs.add(earlier)
    for manifest in runs.manifests:
        update_dataset(tmp_path / "incremental", [manifest])
    rebuild_dataset(tmp_path / "rebuilt", runs.refs())
    _same_dataset(tmp_path / "incremental", tmp_path / "rebuilt")
    rows = history(tmp_path / "incremental")
    assert rows[0] == ("b", "en", "updated", "3", "2026-11-01T12:00:00+00:00")
    assert rows.index(("a", None, "updated", "3", "2026-11-02T00:01:00+00:00")) == 2  # after run 1's (a, None)
    assert [row[4] for row in rows] == sorted(row[4] for row in rows)
    assert rows[-1] == ("z", "en", "new", "3", "2026-11-03T00:02:00+00:00")  # after g and h: the later run id


def test_an_update_does_not_read_the_runs_the_dataset_has_applied(tmp_path):
    runs = scenario(tmp_path)
    target = tmp_path / "dataset"
    update_dataset(target, runs.manifests[:2])
    first = RunRef.from_manifest(runs.manifests[0]).output
    first.write_bytes(first.read_bytes().replace(b"Title of", b"Title 0f", 1))  # no longer what its manifest says
    summary = update_dataset(target, discover_runs([runs.data], runs.state))  # the end of a run does this
    assert summary.applied == [RunRef.from_manifest(m).run_id for m in runs.manifests[2:]]
    assert [url.rsplit("/", 1)[1] for url, _ in keys(pq.read_table(target / "documents.parquet"))] == [
        "a",
        "a",
        "b",
        "c",
        "d",
        "e",
        "f",
    ]
    with pytest.raises(DatasetError, match="does not match its manifest"):
        rebuild_dataset(tmp_path / "rebuilt", discover_runs([runs.data], runs.state))


def test_an_applied_run_whose_manifest_changed_asks_for_a_rebuild(tmp_path):
    runs = scenario(tmp_path)
    target = tmp_path / "dataset"
    update_dataset(target, runs.manifests[:2])
    described = json.loads(runs.manifests[1].read_text())
    described["output"]["sha256"] = "0" * 64
    runs.manifests[1].write_text(json.dumps(described))
    with pytest.raises(DatasetError, match=r"names output sha256 000000000000…, but the dataset .* --rebuild"):
        update_dataset(target, runs.manifests)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("content_hash", 12, "a content_hash or crawled_at is not a string"),
        ("crawled_at", "yesterday", "not an RFC 3339 time"),
    ],
)
def test_a_history_event_that_does_not_fit_is_one_dataset_error(tmp_path, field, value, message):
    # A version a later run replaces: only its history event is read, not the record.
    runs = Runs(tmp_path)
    runs.add(lambda run_id, at: [stub(f"{SITE}/a", "en", run_id, at) | {field: value}], mode="full")
    runs.add(lambda run_id, at: [stub(f"{SITE}/a", "en", run_id, at, "updated")])
    with pytest.raises(DatasetError, match=message):
        update_dataset(tmp_path / "dataset", runs.manifests)
    assert not (tmp_path / "dataset").exists()


def test_building_and_updating_do_not_import_pandas(tmp_path):
    """pyarrow imports pandas, where installed, for any Python value it converts: a third of a second, 30 MB."""
    runs = scenario(tmp_path)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from carnegie_crawler.dataset import update_dataset\n"
        "manifests = [Path(p) for p in sys.argv[2:]]\n"
        "update_dataset(Path(sys.argv[1]), manifests[:2])\n"
        "update_dataset(Path(sys.argv[1]), manifests)\n"
        "assert 'pandas' not in sys.modules, 'pandas imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "dataset"), *map(str, runs.manifests)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert pq.read_metadata(tmp_path / "dataset" / "documents.parquet").num_rows == 7


def test_runs_finished_within_one_second_keep_the_order_of_their_links(tmp_path):
    """A manifest's finish time has whole seconds: quick runs one after the other share one."""
    data, state = tmp_path / "data", tmp_path / "state.sqlite3"
    # Committed in this order; their run ids sort otherwise.
    ids = [f"reextract-2026-11-02T00-00-00-{token}" for token in ("c0ffee", "0ddba1", "5eed00")]
    manifests, previous = [], None
    for number, run_id in enumerate(ids):
        status = "updated" if number else "new"
        record = stub(f"{SITE}/a", "en", run_id, "2026-11-02T00:00:00Z", status, title=f"version {number}")
        manifests.append(
            write_run(
                data,
                run_id,
                [record],
                state=state,
                started_at="2026-11-02T00:00:00Z",
                finished_at="2026-11-02T00:00:00Z",
                previous_run_id=previous,
                mode="incremental" if number else "full",
            )
        )
        previous = run_id
    assert [run.run_id for run in discover_runs([data], state)] == ids
    for manifest in manifests:  # as the end of each run does
        update_dataset(tmp_path / "incremental", [manifest])
    rebuild_dataset(tmp_path / "rebuilt", discover_runs([data], state))
    _same_dataset(tmp_path / "incremental", tmp_path / "rebuilt")
    assert documents(tmp_path / "rebuilt").column("title").to_pylist() == ["version 2"]
    assert [row[2] for row in history(tmp_path / "rebuilt")] == ["new", "updated", "updated"]


def _edit_bytes(path: Path, old: bytes, new: bytes) -> None:
    """Overwrite *old* in the file with *new* (as long or shorter), in place: a hand edit or bit rot that
    still decodes."""
    data = path.read_bytes()
    at = data.find(old)
    assert at > 0, f"{old!r} not in {path}"
    path.write_bytes(data[:at] + new + data[at + len(new) :])


def test_an_update_refuses_to_build_on_a_documents_file_changed_since_it_was_written(tmp_path):
    """The old rows are copied as they are: a changed file would be copied into the new version and vouched
    for by its new datapackage.json. With nothing to apply the same change was already refused."""
    runs = Runs(tmp_path)
    runs.add(full_run, mode="full")
    target = tmp_path / "dataset"
    update_dataset(target, runs.manifests)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    _edit_bytes(target / "documents.parquet", b"Ana Author", b"Bob")  # still decodes (no page checksums)
    assert pq.read_table(target / "documents.parquet").num_rows == 5
    with pytest.raises(DatasetError, match=r"documents\.parquet is not the file datapackage\.json describes"):
        update_dataset(target, runs.manifests)
    runs.add(lambda run_id, at: [stub(f"{SITE}/f", "en", run_id, at)])
    with pytest.raises(DatasetError, match=r"documents\.parquet is not the file datapackage\.json describes"):
        update_dataset(target, runs.manifests)
    changed = dict(before, **{"documents.parquet": (target / "documents.parquet").read_bytes()})
    assert {p.name: p.read_bytes() for p in target.iterdir()} == changed  # the version shown is untouched
    assert [p.name for p in tmp_path.iterdir() if ".building-" in p.name] == []
    rebuild_dataset(target, runs.refs())  # what the error asks for
    update_dataset(tmp_path / "reference", runs.manifests)
    _same_dataset(target, tmp_path / "reference")


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_an_update_over_an_unreadable_history_file_is_a_dataset_error(tmp_path, damage):
    runs = Runs(tmp_path)
    runs.add(full_run, mode="full")
    target = tmp_path / "dataset"
    update_dataset(target, runs.manifests)
    path = target / "history.parquet"
    data = path.read_bytes()
    path.write_bytes(bytes(len(data)) if damage == "garbage" else data[: len(data) // 2])
    runs.add(lambda run_id, at: [stub(f"{SITE}/f", "en", run_id, at)])
    with pytest.raises(DatasetError, match=r"history\.parquet is not the file datapackage\.json describes"):
        update_dataset(target, runs.manifests)


def test_a_dataset_whose_files_match_their_record_but_do_not_decode_is_a_dataset_error(tmp_path, monkeypatch):
    """Files that are what datapackage.json records, yet cannot be read (a pyarrow that reads them otherwise):
    one DatasetError asking for a rebuild, never pyarrow's exception."""
    runs = Runs(tmp_path)
    runs.add(full_run, mode="full")
    target = tmp_path / "dataset"
    update_dataset(target, runs.manifests)
    runs.add(lambda run_id, at: [stub(f"{SITE}/f", "en", run_id, at)])

    def unreadable(*args: Any, **kwargs: Any) -> Any:
        raise pa.ArrowInvalid("Parquet magic bytes not found in footer")

    monkeypatch.setattr(history_module.pq, "ParquetFile", unreadable)
    with pytest.raises(DatasetError, match=r"cannot read the dataset .*rebuild it"):
        update_dataset(target, runs.manifests)
