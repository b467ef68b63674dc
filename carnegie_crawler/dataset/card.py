"""The dataset's own description: the dataset card (README.md) and the Frictionless descriptor (datapackage.json)."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .schema import descriptions, hf_features

PUBLISHER = "Carnegie Endowment for International Peace"
NAME = "carnegie-publications"


@dataclass
class Stats:
    """Counts over documents.parquet, gathered chunk by chunk as it is written."""

    rows: int = 0
    filled: Counter[str] = field(default_factory=Counter)
    content_types: Counter[str] = field(default_factory=Counter)
    languages: Counter[str] = field(default_factory=Counter)
    first_date: date | None = None
    last_date: date | None = None

    def add(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        for name in table.column_names:
            column = table.column(name)
            # Lengths come from the offsets alone (null for a null value, which sum skips): comparing
            # strings would read every body, and fill_null would copy them. The sum of their signs
            # counts the non-empty ones without a Python scalar (pyarrow would import pandas for it).
            if pa.types.is_list(column.type):
                self.filled[name] += int(pc.sum(pc.sign(pc.list_value_length(column))).as_py() or 0)
            elif pa.types.is_string(column.type):
                self.filled[name] += int(pc.sum(pc.sign(pc.binary_length(column))).as_py() or 0)
            else:
                self.filled[name] += len(column) - column.null_count
        for name, counter in (("content_type", self.content_types), ("language", self.languages)):
            if name in table.column_names:
                for value, count in zip(*_value_counts(table.column(name)), strict=True):
                    counter[value if value is not None else "(none)"] += count
        if "published_date" in table.column_names and table.num_rows:
            bounds = pc.min_max(table.column("published_date")).as_py()
            if bounds["min"] is not None:
                self.first_date = min(filter(None, (self.first_date, bounds["min"])))
                self.last_date = max(filter(None, (self.last_date, bounds["max"])))


def _value_counts(column: pa.ChunkedArray) -> tuple[list[Any], list[int]]:
    counts = pc.value_counts(column)
    return counts.field("values").to_pylist(), counts.field("counts").to_pylist()


def frictionless_type(kind: pa.DataType) -> str:
    if pa.types.is_date32(kind):
        return "date"
    if pa.types.is_timestamp(kind):
        return "datetime"
    if pa.types.is_integer(kind):
        return "integer"
    if pa.types.is_floating(kind):
        return "number"
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_list(kind):
        return "array"
    if pa.types.is_struct(kind):
        return "object"
    return "string"


HISTORY_DESCRIPTIONS = {
    "url": "Canonical URL of the document (its key, with language).",
    "language": "Language of the document, null when the page names none.",
    "crawl_status": "new, updated (a version) or removed (the run found the document gone).",
    "content_hash": "sha256 of the version's content fields; null for removals.",
    "run_id": "The run that wrote the version or found the removal.",
    "time": "When the version was fetched (its crawled_at), or when the removing run finished.",
}


def datapackage(
    documents: dict[str, Any],
    history: dict[str, Any],
    schema: pa.Schema,
    history_schema: pa.Schema,
    meta: dict[str, Any],
) -> dict[str, Any]:
    """The descriptor: resources with path, sha256, bytes, rows and table schema; the runs applied, in order."""
    described = descriptions()

    def table_schema(arrow: pa.Schema, texts: dict[str, str]) -> dict[str, Any]:
        fields = [
            {"name": f.name, "type": frictionless_type(f.type), "description": texts.get(f.name, "")} for f in arrow
        ]
        return {"fields": fields, "primaryKey": ["url", "language"] if texts is described else []}

    resources = []
    for name, info, arrow, texts in (
        ("documents", documents, schema, described),
        ("history", history, history_schema, HISTORY_DESCRIPTIONS),
    ):
        resources.append(
            {
                "name": name,
                "path": f"{name}.parquet",
                "format": "parquet",
                "mediatype": "application/vnd.apache.parquet",
                "bytes": info["bytes"],
                "hash": f"sha256:{info['sha256']}",
                "rows": info["rows"],
                "schema": table_schema(arrow, texts),
            }
        )
    resources[1]["schema"].pop("primaryKey")
    return {
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": NAME,
        "title": "Carnegie Endowment publications",
        "description": (
            "Publication pages of carnegieendowment.org, one row per document at its latest version, and their "
            f"change history. The content belongs to its publisher, the {PUBLISHER}, whose terms apply."
        ),
        "created": meta["built_at"],
        "sources": [{"title": PUBLISHER, "path": "https://carnegieendowment.org"}],
        "schema_version": meta["schema_version"],
        "state": meta["state"],
        "runs": meta["runs"],
        "resources": resources,
    }


def readme(
    package: dict[str, Any],
    stats: Stats,
    history_counts: dict[str, int],
    schema: pa.Schema,
    history_schema: pa.Schema,
    uncompressed: tuple[int, int] = (0, 0),
) -> str:
    """The dataset card: Hugging Face YAML front matter, then what a reader needs to trust and load the data.

    *uncompressed* is each file's data size decoded (documents, history): a split's `num_bytes`, without
    which Hugging Face `datasets` ignores the card's split information.
    """
    documents, history = package["resources"]
    front = {
        "pretty_name": package["title"],
        "license": "other",
        "language": sorted(code for code in stats.languages if code != "(none)"),
        "configs": [
            {
                "config_name": "documents",
                "data_files": [{"split": "train", "path": "documents.parquet"}],
                "default": True,
            },
            {"config_name": "history", "data_files": [{"split": "train", "path": "history.parquet"}]},
        ],
        "dataset_info": [
            {
                "config_name": "documents",
                "features": hf_features(schema),
                "splits": [{"name": "train", "num_bytes": uncompressed[0], "num_examples": documents["rows"]}],
                "download_size": documents["bytes"],
                "dataset_size": uncompressed[0],
            },
            {
                "config_name": "history",
                "features": hf_features(history_schema),
                "splits": [{"name": "train", "num_bytes": uncompressed[1], "num_examples": history["rows"]}],
                "download_size": history["bytes"],
                "dataset_size": uncompressed[1],
            },
        ],
    }
    described = descriptions()
    rows = stats.rows or 1
    out = ["---", *yaml_lines(front), "---", "", f"# {package['title']}", ""]
    out += [
        f"Publication pages of carnegieendowment.org as crawled by carnegie-crawler. **The content belongs to its "
        f"publisher, the {PUBLISHER}, whose terms of use apply**; this dataset grants no rights to it.",
        "",
        f"- `documents` (default): {documents['rows']:,} documents, one row per (url, language) at its latest "
        "version, documents found removed left out; rows sorted by url, then language (null first).",
        f"- `history`: {history['rows']:,} rows, one per version (crawl_status new or updated) and per removal, "
        "sorted by time, url, language, crawl_status.",
        f"- Published dates: {_range(stats)}.",
        f"- Schema version {package['schema_version']}; built {package['created']} from {len(package['runs'])} run(s).",
        "",
        "## Counts",
        "",
        "| content type | documents |",
        "|---|---:|",
        *(f"| {name} | {count:,} |" for name, count in sorted(stats.content_types.items())),
        "",
        "| language | documents |",
        "|---|---:|",
        *(f"| {name} | {count:,} |" for name, count in sorted(stats.languages.items())),
        "",
        "| history | rows |",
        "|---|---:|",
        *(f"| {name} | {count:,} |" for name, count in history_counts.items()),
        "",
        "## Fields of `documents`",
        "",
        "Coverage: the share of documents where the field is neither null, nor an empty string or list.",
        "",
        "| field | type | coverage | description |",
        "|---|---|---:|---|",
        *(_field_row(f, 100 * stats.filled[f.name] / rows, described.get(f.name, "")) for f in schema),
        "",
        "Nested fields:",
        "",
        *(f"- `{path}`: {_cell(text)}" for path, text in described.items() if "." in path),
        "",
        "## Fields of `history`",
        "",
        *(f"- `{name}` (`{history_schema.field(name).type}`): {text}" for name, text in HISTORY_DESCRIPTIONS.items()),
        "",
        "## Loading",
        "",
        "```python",
        "import pandas as pd",
        'documents = pd.read_parquet("documents.parquet")',
        '# Hugging Face: datasets.load_dataset("parquet", data_files="documents.parquet")',
        "```",
        "",
        "## Source runs",
        "",
        "| run | mode | finished | records | removed |",
        "|---|---|---|---:|---:|",
        *(
            f"| {run['run_id']} | {run['mode']} | {run['finished_at']} | {run['records']:,} | {run['removed']:,} |"
            for run in package["runs"]
        ),
        "",
    ]
    return "\n".join(out)


def _field_row(field: pa.Field, coverage: float, text: str) -> str:
    return f"| `{field.name}` | `{field.type}` | {coverage:.1f} % | {_cell(text)} |"


def _range(stats: Stats) -> str:
    if stats.first_date is None or stats.last_date is None:
        return "none"
    return f"{stats.first_date.isoformat()} to {stats.last_date.isoformat()}"


def _cell(text: str) -> str:
    """*text* safe in a Markdown table cell: no pipes, no HTML (the descriptions mention `<html lang>`)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def yaml_lines(value: Any, indent: int = 0) -> list[str]:
    """*value* (dicts, lists, strings, numbers, booleans) as block YAML; strings double-quoted as JSON (valid YAML)."""
    pad = " " * indent
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                out.append(f"{pad}{key}:")
                out += yaml_lines(item, indent + (0 if isinstance(item, list) else 2))
            else:
                out.append(f"{pad}{key}: {_scalar(item)}")
    else:
        for item in value:
            if isinstance(item, dict) and item:
                first, *rest = yaml_lines(item, indent + 2)
                out.append(f"{pad}- {first[indent + 2 :]}")
                out += rest
            elif isinstance(item, list) and item:
                out.append(f"{pad}-")
                out += yaml_lines(item, indent + 2)
            else:
                out.append(f"{pad}- {_scalar(item)}")
    return out


_PLAIN_SCALAR = re.compile(r"[A-Za-z][A-Za-z0-9_./-]*(\[[a-z]+(, tz=[A-Za-z_/]+)?\])?")
# YAML 1.1 reads these plain words as booleans or null: such strings stay quoted.
_KEYWORDS = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off", "null"})


def _scalar(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    text = str(value)
    if _PLAIN_SCALAR.fullmatch(text) and text.lower() not in _KEYWORDS:
        return text
    return json.dumps(text, ensure_ascii=False)
