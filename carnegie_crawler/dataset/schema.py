"""The dataset's fixed Arrow schemas, derived from the publication JSON Schema.

Every column has a concrete type whatever the data holds (an empty run, a field no page has
yet), so each build of the dataset, and each loader, sees the same types. The mapping:

- `"format": "date"` → date32, `"format": "date-time"` → timestamp("us", tz="UTC");
- `"integer"` → int64, `"number"` → float64, `"boolean"` → bool;
- an array → list of its items' type, an object → struct of its properties (in schema order);
- any other string (enums and consts too) → string.

Every field is nullable: a JSON Schema "may be null" is documented in the dataset card instead.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pyarrow as pa

from ..schema import load_schema

TIMESTAMP = pa.timestamp("us", tz="UTC")
# The history table: one row per document version (new, updated) and per removal.
HISTORY_STATUSES = ("new", "updated", "removed")


class SchemaMappingError(ValueError):
    """A JSON Schema construct the dataset has no Arrow type for; the message names the field."""


def arrow_schema(schema: dict[str, Any] | None = None) -> pa.Schema:
    """The Arrow schema of documents.parquet, a column per JSON Schema property, in property order.

    Also the schema of a run file read with fixed types: `load_run(path)`, or pyarrow's JSON
    reader with `read_schema(arrow_schema())` (dates as strings), then `.cast(arrow_schema())`.
    """
    return _arrow_schema() if schema is None else _derive(schema)


@cache
def json_schema() -> dict[str, Any]:
    """The bundled publication JSON Schema, loaded (and checked) once per process."""
    return load_schema()


def schema_version() -> str | None:
    """The `schema_version` const of the JSON Schema: the version of the records the dataset holds."""
    version = json_schema()["properties"].get("schema_version", {}).get("const")
    return str(version) if version is not None else None


@cache
def _arrow_schema() -> pa.Schema:
    return _derive(json_schema())


def _derive(schema: dict[str, Any]) -> pa.Schema:
    fields = [pa.field(name, _arrow_type(prop, schema, name)) for name, prop in schema["properties"].items()]
    return pa.schema(fields)


def history_schema() -> pa.Schema:
    """The Arrow schema of history.parquet; its `language` and `content_hash` follow documents.parquet."""
    return pa.schema(
        [
            ("url", pa.string()),
            ("language", pa.string()),
            ("crawl_status", pa.string()),
            ("content_hash", pa.string()),
            ("run_id", pa.string()),
            ("time", TIMESTAMP),
        ]
    )


def resolve(node: dict[str, Any], root: dict[str, Any], where: str = "") -> dict[str, Any]:
    """*node* with a local `$ref` replaced by its target, the node's own keywords on top."""
    seen: set[str] = set()
    while isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            raise SchemaMappingError(f"{where or 'schema'}: cannot follow $ref {ref!r}")
        seen.add(ref)
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = {**target, **{key: value for key, value in node.items() if key != "$ref"}}
    return node


def _non_null(node: dict[str, Any], root: dict[str, Any], where: str) -> dict[str, Any]:
    """The one non-null alternative of *node* (`anyOf: [X, {type: null}]`, `type: [X, null]`)."""
    node = resolve(node, root, where)
    if "anyOf" in node or "oneOf" in node:
        options = [resolve(option, root, where) for option in node.get("anyOf", node.get("oneOf", []))]
        options = [option for option in options if option.get("type") != "null"]
        if len(options) != 1:
            raise SchemaMappingError(f"{where}: only one non-null alternative is supported")
        return _non_null(options[0], root, where)
    return node


def _arrow_type(node: dict[str, Any], root: dict[str, Any], where: str) -> pa.DataType:
    node = _non_null(node, root, where)
    kinds = node.get("type")
    kinds = [kinds] if isinstance(kinds, str) else [kind for kind in (kinds or []) if kind != "null"]
    if len(kinds) != 1:
        raise SchemaMappingError(f"{where}: needs exactly one non-null type, has {kinds or 'none'}")
    kind = kinds[0]
    if kind == "string":
        return {"date": pa.date32(), "date-time": TIMESTAMP}.get(node.get("format", ""), pa.string())
    if kind == "array":
        return pa.list_(_arrow_type(node.get("items", {}), root, f"{where}[]"))
    if kind == "object":
        properties = node.get("properties") or {}
        if not properties:
            raise SchemaMappingError(f"{where}: an object needs its properties listed")
        return pa.struct(
            [pa.field(name, _arrow_type(sub, root, f"{where}.{name}")) for name, sub in properties.items()]
        )
    simple = {"integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_()}
    if kind not in simple:
        raise SchemaMappingError(f"{where}: unsupported type {kind!r}")
    return simple[kind]


def read_schema(schema: pa.Schema) -> pa.Schema:
    """*schema* with date32 fields as strings: pyarrow's JSON reader parses timestamps, not dates."""
    return pa.schema([field.with_type(_strings_for_dates(field.type)) for field in schema])


def _strings_for_dates(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_date32(kind):
        return pa.string()
    if pa.types.is_list(kind):
        return pa.list_(_strings_for_dates(kind.value_type))
    if pa.types.is_struct(kind):
        return pa.struct([field.with_type(_strings_for_dates(field.type)) for field in kind])
    return kind


def descriptions(schema: dict[str, Any] | None = None) -> dict[str, str]:
    """`{"authors.name": "Display name, ...", ...}`: each field's description, nested ones dotted."""
    root = schema or json_schema()
    out: dict[str, str] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for name, prop in (node.get("properties") or {}).items():
            path = f"{prefix}{name}"
            text = prop.get("description") or resolve(prop, root, path).get("description")
            if text:
                out[path] = " ".join(str(text).split())
            inner = _non_null(prop, root, path)
            if inner.get("type") == "array" or "array" in (inner.get("type") or []):
                inner = _non_null(inner.get("items", {}), root, path)
            if inner.get("properties"):
                walk(inner, f"{path}.")

    walk(root, "")
    return out


def hf_features(schema: pa.Schema) -> list[dict[str, Any]]:
    """*schema* in the Hugging Face dataset card's `features` syntax (`datasets.Features._to_yaml_list`)."""
    return [{"name": field.name, **_hf_type(field.type)} for field in schema]


def _hf_type(kind: pa.DataType) -> dict[str, Any]:
    if pa.types.is_list(kind):
        inner = _hf_type(kind.value_type)
        return {"list": inner["dtype"] if set(inner) == {"dtype"} else inner.get("struct", inner)}
    if pa.types.is_struct(kind):
        return {"struct": [{"name": field.name, **_hf_type(field.type)} for field in kind]}
    if pa.types.is_timestamp(kind):
        return {"dtype": f"timestamp[{kind.unit}" + (f", tz={kind.tz}]" if kind.tz else "]")}
    if pa.types.is_date32(kind):
        return {"dtype": "date32"}
    names = {pa.string(): "string", pa.int64(): "int64", pa.float64(): "float64", pa.bool_(): "bool"}
    return {"dtype": names[kind]}
