"""documents.parquet as pandas, polars, DuckDB and Hugging Face `datasets` load it: the types each tool sees.

Three datasets: a normal one, an empty one (one run with an empty file) and one whose only
run wrote new press releases (no dates, authors, images or bodies anywhere).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from carnegie_crawler.dataset import update_dataset
from carnegie_crawler.dataset.synthetic import stub
from tests.components.test_dataset_build import SITE, Runs, full_run, scenario

KINDS = ["normal", "empty", "one type"]


@pytest.fixture(scope="module", params=KINDS)
def dataset(request, tmp_path_factory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp(request.param.replace(" ", "-"))
    if request.param == "normal":
        runs = scenario(root)
    else:
        runs = Runs(root)
        if request.param == "empty":
            runs.add(mode="full")
        else:
            runs.add(lambda run_id, at: [stub(f"{SITE}/p{i}", None, run_id, at) for i in range(4)], mode="full")
    update_dataset(root / "dataset", runs.manifests)
    return request.param, root / "dataset"


ROWS = {"normal": 7, "empty": 0, "one type": 4}


def test_pandas(dataset):
    kind, directory = dataset
    frame = pd.read_parquet(directory / "documents.parquet", dtype_backend="pyarrow")
    assert len(frame) == ROWS[kind]
    types = {name: dtype.pyarrow_dtype for name, dtype in frame.dtypes.items()}
    assert pa.types.is_date32(types["published_date"])
    assert types["crawled_at"] == pa.timestamp("us", tz="UTC")
    assert types["word_count"] == pa.int64()
    assert pa.types.is_list(types["authors"])
    assert pa.types.is_struct(types["authors"].value_type)
    assert [f.name for f in types["authors"].value_type] == ["name", "url", "role"]
    plain = pd.read_parquet(directory / "documents.parquet")  # the default NumPy-backed frame
    assert str(plain["crawled_at"].dtype) in ("datetime64[us, UTC]", "datetime64[ns, UTC]")


def test_polars(dataset):
    kind, directory = dataset
    frame = pl.read_parquet(directory / "documents.parquet")
    assert frame.height == ROWS[kind]
    assert frame.schema["published_date"] == pl.Date
    assert frame.schema["crawled_at"] == pl.Datetime("us", "UTC")
    assert frame.schema["word_count"] == pl.Int64
    assert frame.schema["authors"] == pl.List(pl.Struct({"name": pl.String, "url": pl.String, "role": pl.String}))
    assert frame.schema["topics"] == pl.List(pl.String)
    assert pl.Null not in frame.schema.values()


def test_duckdb(dataset):
    kind, directory = dataset
    connection = duckdb.connect()
    try:
        path = str(directory / "documents.parquet").replace("'", "''")
        described = connection.sql(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
        types = {name: kind for name, kind, *_ in described}
        ((count,),) = connection.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()
    finally:
        connection.close()
    assert count == ROWS[kind]
    assert types["published_date"] == "DATE"
    assert types["crawled_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["word_count"] == "BIGINT"
    assert types["authors"].replace('"', "") == "STRUCT(name VARCHAR, url VARCHAR, role VARCHAR)[]"
    assert "NULL" not in types.values()


@pytest.fixture(scope="module")
def hf(tmp_path_factory) -> Any:
    """Hugging Face `datasets`, offline, with a cache of its own; any connection attempt fails the test."""
    cache = tmp_path_factory.mktemp("hf-cache")
    patch = pytest.MonkeyPatch()
    for name, value in {
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(cache / "home"),
        "HF_DATASETS_CACHE": str(cache / "datasets"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }.items():
        patch.setenv(name, value)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"network access attempted: {args[:2]}")

    patch.setattr(socket, "create_connection", refuse)
    patch.setattr(socket.socket, "connect", refuse)
    import datasets

    patch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    patch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    datasets.disable_progress_bars()
    yield datasets, cache
    patch.undo()


def _check_features(features: Any) -> None:
    from datasets import List, Value

    assert features["published_date"] == Value("date32")
    assert features["crawled_at"] == Value("timestamp[us, tz=UTC]")
    assert features["word_count"] == Value("int64")
    assert features["authors"] == List({"name": Value("string"), "url": Value("string"), "role": Value("string")})
    assert features["topics"] == List(Value("string"))
    assert features["image"] == {"url": Value("string"), "credit": Value("string")}


def test_hugging_face_datasets(dataset, hf):
    datasets, cache = hf
    kind, directory = dataset
    path = str(directory / "documents.parquet")
    streamed = datasets.load_dataset("parquet", data_files=path, split="train", streaming=True)
    _check_features(streamed.features)
    assert sum(1 for _ in streamed) == ROWS[kind]
    if not ROWS[kind]:
        # datasets 5.2 cannot materialise a split of no rows ('Instruction "train" corresponds to no
        # data'); an empty dataset loads streamed (above) or from the Arrow table.
        _check_features(datasets.Dataset(pq.read_table(path)).features)
        return
    loaded = datasets.load_dataset("parquet", data_files=path, split="train", cache_dir=str(cache / kind))
    assert loaded.num_rows == ROWS[kind]
    _check_features(loaded.features)
    direct = datasets.Dataset.from_parquet(path, cache_dir=str(cache / f"{kind}-2"))
    _check_features(direct.features)
    assert direct.num_rows == ROWS[kind]
    first = loaded.with_format("arrow")[0:1]
    assert first.schema.field("published_date").type == pa.date32()


def test_hugging_face_reads_the_card_configs(dataset, hf):
    """`load_dataset(directory)` follows the README's YAML: `documents` by default, `history` by name."""
    datasets, cache = hf
    kind, directory = dataset
    streaming = not ROWS[kind]  # see test_hugging_face_datasets
    options: dict[str, Any] = {"streaming": True} if streaming else {"cache_dir": str(cache / f"{kind}-card")}
    documents = datasets.load_dataset(str(directory), split="train", **options)
    _check_features(documents.features)
    history = datasets.load_dataset(str(directory), "history", split="train", **options)
    assert history.features["time"] == datasets.Value("timestamp[us, tz=UTC]")
    assert history.features["crawl_status"] == datasets.Value("string")
    if not streaming:
        assert documents.num_rows == ROWS[kind]
        assert history.num_rows == {"normal": 11, "one type": 4}[kind]


def test_the_full_scenario_runs_import(tmp_path):
    """A guard for the import above: the helpers this module borrows still build what it expects."""
    assert len(full_run("r", "2026-11-01T00:00:00Z")) == 5


def test_hugging_face_reads_the_card_split_information_whole(dataset, hf):
    """Each split needs `num_bytes` too: without it `datasets` logged "Ignoring part of dataset_info from the
    dataset card" and dropped the card's split information (found by a consumer review)."""
    datasets, _ = hf
    kind, directory = dataset
    card = (directory / "README.md").read_text(encoding="utf-8")
    front = yaml.safe_load(card.split("---\n")[1])
    rows = {"documents": ROWS[kind], "history": pq.ParquetFile(directory / "history.parquet").metadata.num_rows}
    for entry in front["dataset_info"]:
        info = datasets.info.DatasetInfo._from_yaml_dict(dict(entry))  # what the card loader does with it
        assert info.splits["train"].num_examples == rows[entry["config_name"]]
        size = (directory / f"{entry['config_name']}.parquet").stat().st_size
        assert info.download_size == size
        assert info.dataset_size == info.splits["train"].num_bytes
        if rows[entry["config_name"]]:
            assert info.dataset_size > 0
