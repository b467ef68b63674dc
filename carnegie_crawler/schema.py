"""Load the publication JSON Schema and build its validator once."""

from __future__ import annotations

import json
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

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
        schema: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ModuleNotFoundError) as exc:
        raise SchemaLoadError(f"cannot read schema {source}: {getattr(exc, 'strerror', None) or exc}") from None
    except ValueError as exc:
        raise SchemaLoadError(f"schema {source} is not valid JSON: {exc}") from None
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise SchemaLoadError(f"schema {source} is not a valid JSON Schema: {exc.message}") from None
    return schema


def load_validator(path: str | Path | None = None) -> Draft202012Validator:
    """The validator for the schema at *path* (the bundled one by default), formats checked."""
    schema = load_schema(path)
    resolver = Registry().with_resource("", DRAFT202012.create_resource(schema)).resolver()
    return Draft202012Validator(_inline_refs(schema, resolver), format_checker=Draft202012Validator.FORMAT_CHECKER)


# Kept for speed, measured: python-jsonschema resolves every `$ref` again on every item, about
# 230 of 590 µs per publication; without this the pipelines ran at about 980 items/s, under 1,000.
_ANNOTATIONS = frozenset({"description", "title", "$comment", "examples", "default"})
_DATA = frozenset({"const", "enum", "examples", "default"})  # values, not schemas: never rewritten


def _inline_refs(node: Any, resolver: Any, seen: frozenset[str] = frozenset()) -> Any:
    """A copy of *node* with each local `{"$ref": "#/...", ...}` replaced by its target merged with the siblings.

    A `$ref` whose siblings would override a keyword of its target, or that is met again
    inside its own target (recursion), is left for python-jsonschema to resolve.
    """
    if isinstance(node, list):
        return [_inline_refs(value, resolver, seen) for value in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and ref not in seen:
        try:
            target = resolver.lookup(ref).contents
        except Unresolvable:
            raise SchemaLoadError(f"schema $ref {ref!r} points at nothing") from None
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        if isinstance(target, dict) and not (set(target) & set(siblings)) - _ANNOTATIONS:
            return _inline_refs({**target, **siblings}, resolver, seen | {ref})
    return {key: value if key in _DATA else _inline_refs(value, resolver, seen) for key, value in node.items()}


def json_path(error: ValidationError) -> str:
    """`$.authors[0].name` style path of a validation error."""
    out = "$"
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def describe_errors(validator: Draft202012Validator, record: dict[str, Any]) -> list[dict[str, str]]:
    """Every failure as `{path, message}`, sorted by path, messages cut to a readable length."""
    described = []
    for path, message in sorted((json_path(error), error.message) for error in validator.iter_errors(record)):
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 1] + "…"
        described.append({"path": path, "message": message})
    return described
