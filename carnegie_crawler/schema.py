"""Load the publication JSON Schema and build its validator once."""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

SCHEMA_FILE = "publication.schema.json"
_MAX_MESSAGE = 200


class SchemaLoadError(Exception):
    """The schema file is missing or invalid; the message says which and why."""


def default_schema_path() -> Path | Traversable:
    """schemas/ in a checkout; the copy packaged as carnegie_crawler.schemas in a wheel or egg."""
    checkout = Path(__file__).resolve().parent.parent / "schemas" / SCHEMA_FILE
    if checkout.is_file():
        return checkout
    # Reached through the main package: an egg run from its zip has no importable
    # `carnegie_crawler.schemas` (no __init__.py), but the file is there.
    return resources.files("carnegie_crawler") / "schemas" / SCHEMA_FILE


def load_schema(path: str | Path | None = None) -> dict[str, Any]:
    """The schema as JSON, checked against its meta-schema; a SchemaLoadError says what is wrong."""
    source: Path | Traversable | str = path or f"bundled {SCHEMA_FILE}"
    try:
        source = Path(path) if path else default_schema_path()
        schema = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ModuleNotFoundError) as exc:
        raise SchemaLoadError(f"cannot read schema {source}: {getattr(exc, 'strerror', None) or exc}") from None
    except ValueError as exc:
        raise SchemaLoadError(f"schema {source} is not valid JSON: {exc}") from None
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise SchemaLoadError(f"schema {source} is not a valid JSON Schema: {exc.message}") from None
    # Local $refs inlined once: resolving them on every item is most of jsonschema's cost.
    inlined: dict[str, Any] = _inline_refs(schema, schema)
    return inlined


def load_validator(path: str | Path | None = None) -> Draft202012Validator:
    return python_validator(load_schema(path))


def python_validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _inline_refs(node: Any, root: dict[str, Any]) -> Any:
    """Replace `{"$ref": "#/$defs/x", ...}` with the definition merged with the siblings (no recursion in ours)."""
    if isinstance(node, list):
        return [_inline_refs(v, root) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        merged = {**_inline_refs(target, root), **{k: v for k, v in node.items() if k != "$ref"}}
        return _inline_refs(merged, root)
    return {k: _inline_refs(v, root) for k, v in node.items()}


def json_path(error: ValidationError) -> str:
    """`$.authors[0].name` style path of a validation error."""
    return path_of(error.absolute_path)


def path_of(parts: Iterable[str | int]) -> str:
    """`$.authors[0].name` from `["authors", 0, "name"]`."""
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def describe_errors(validator: Draft202012Validator, record: dict[str, Any]) -> list[dict[str, str]]:
    """Every failure as `{path, message}`, sorted by path, messages cut to a readable length."""
    return report((json_path(error), error.message) for error in validator.iter_errors(record))


def report(errors: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """`(path, message)` pairs sorted, each message cut to a readable length."""
    described = []
    for path, message in sorted(errors):
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 1] + "…"
        described.append({"path": path, "message": message})
    return described
