"""The dataset: every published run of one state file folded into Parquet tables with a fixed schema.

    from carnegie_crawler.dataset import update_dataset, RunRef
    update_dataset(Path("data/dataset"), [manifest_path])   # at the end of a healthy run

The directory holds documents.parquet (one row per live document at its latest version),
history.parquet (one row per version and per removal), README.md (a Hugging Face dataset
card) and datapackage.json (a Frictionless descriptor that also lists the runs applied).
`scrapy dataset` brings it up to date from the run outputs, or rebuilds it (`--rebuild`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .build import Summary, rebuild_dataset, update_dataset
    from .convert import load_run
    from .merge import sort_key
    from .runs import DatasetError, DatasetLockedError, Removal, RunRef, SchemaChangedError, discover_runs
    from .schema import arrow_schema, history_schema

# Loaded when first asked for (PEP 562): the building modules import pyarrow (0.15-0.2 s), which the
# crawl's start-up checks, reading only `dataset.config`, must not pay.
_WHERE = {
    "Summary": "build", "rebuild_dataset": "build", "update_dataset": "build", "load_run": "convert",
    "sort_key": "merge", "DatasetError": "runs", "DatasetLockedError": "runs", "Removal": "runs", "RunRef": "runs",
    "SchemaChangedError": "runs", "discover_runs": "runs", "arrow_schema": "schema", "history_schema": "schema",
}  # fmt: skip
__all__ = [
    "DatasetError",
    "DatasetLockedError",
    "Removal",
    "RunRef",
    "SchemaChangedError",
    "Summary",
    "arrow_schema",
    "discover_runs",
    "history_schema",
    "load_run",
    "rebuild_dataset",
    "sort_key",
    "update_dataset",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
