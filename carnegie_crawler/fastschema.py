"""Validate records with jsonschema-rs; python-jsonschema stays the reference.

python-jsonschema checks the schema at load and lists the errors of an invalid
item (the rejects file and the DropItem message keep its wording). It takes about
0.7 ms per publication, most of the pipelines' time; jsonschema-rs gives the
valid/invalid verdict in a few µs. The jsonschema-rs copy of the schema is built so
that it never accepts what python-jsonschema rejects:

- "uri" is checked natively: it agrees with rfc3986-validator but for a trailing
  newline, which only it rejects (tests/unit/test_fastschema.py). Every other format
  is checked by python-jsonschema's own checker: natively, "date" and "date-time"
  accept year 0 and leap seconds, which python-jsonschema rejects.
- Patterns are matched natively, rewritten where the two dialects part: Python's `\\s`
  becomes a class of its own whitespace (ECMA-262's differs on \\x1c-\\x1f, \\x85 and
  \\ufeff), a final `$` becomes `\\n?$` (Python's also matches before a final newline).
  A pattern with anything else that may read differently (`\\d`, `\\w`, `.`, flags,
  lookarounds...) is matched by Python's `re` through a custom keyword.

Where jsonschema-rs rejects and python-jsonschema finds nothing, the item is still
dropped, with jsonschema-rs's errors (`describe`).
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker

from .records import is_plain
from .schema import describe_errors, path_of, python_validator, report

logger = logging.getLogger(__name__)

NATIVE_FORMATS = frozenset({"uri"})
_PY_PATTERN = "x-carnegie-python-pattern"
# Left after the translated escapes, anything that may read differently in the two regex
# dialects: an escape other than of a syntax character (\w, \b, \1, \n...), `.`, `(?` other
# than `(?:`, a `{` that is not a counted repeat, a possessive repeat, a class inside a
# class, an empty class, Rust's class set operators. Erring on the side of Python's `re`.
_DIALECT_RISK = re.compile(r"\\|\.|\(\?(?!:)|\{(?!\d+(?:,\d*)?\})|[*+?}]\+|\[[^\]]*\[|\[\^?\]|&&|--|~~")
_SYNTAX_CHARS = frozenset("^$\\.*+?()[]{}|/-")
# Python's `\s` (str.isspace) spelled out for a class, as ranges of literal characters:
# ECMA-262's `\s` differs on \x1c-\x1f, \x85 and \ufeff. Checked against every character
# by tests/unit/test_fastschema.py.
PYTHON_SPACE = "\t-\r\x1c- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Values that are data, not schemas: never rewritten.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})
# Keywords whose value maps names (not keywords) to schemas.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})


def native_pattern(pattern: str) -> str | None:
    """*pattern* spelled so that jsonschema-rs reads it as Python's `re` does, or None where unsure.

    `\\s` and `\\S` become classes of Python's whitespace; a final `$` becomes `\\n?$`,
    since Python's `$` also matches before a final newline. A `$` elsewhere and whatever
    `_DIALECT_RISK` finds (`\\S` in a class, `\\d`: Unicode digits to Python, ASCII to
    ECMA-262) give None.
    """
    out: list[str] = []  # the pattern for jsonschema-rs
    rest: list[str] = []  # what is left to vet once the translated pieces are out
    in_class = False
    i = 0
    while i < len(pattern):
        char, pair = pattern[i], pattern[i : i + 2]
        if pair == "\\s":
            out.append(PYTHON_SPACE if in_class else f"[{PYTHON_SPACE}]")
            rest.append("x")
        elif pair == "\\S" and not in_class:
            out.append(f"[^{PYTHON_SPACE}]")
            rest.append("x")
        elif char == "\\":
            out.append(pair)
            rest.append("_" if pair[1:] and pair[1] in _SYNTAX_CHARS else pair)  # that very character in both
        elif char == "$" and not in_class:
            if i != len(pattern) - 1:
                return None
            out.append("\\n?$")
            rest.append("x")
        else:
            if char == "[" and not in_class:
                in_class = True
            elif char == "]" and in_class:
                in_class = False
            out.append(char)
            rest.append(char)
        i += 2 if char == "\\" else 1
    if _DIALECT_RISK.search("".join(rest)):
        return None
    return "".join(out)


class PythonPattern:
    """The `pattern` keyword with Python's `re.search`, exactly as python-jsonschema applies it."""

    def __init__(self, parent_schema: dict[str, Any], value: str, schema_path: list[str | int]) -> None:
        self.pattern = value
        self.search = re.compile(value).search

    def validate(self, instance: Any) -> None:
        if isinstance(instance, str) and not self.search(instance):
            raise ValueError(f"{instance!r} does not match {self.pattern!r}")


def python_format(checker: FormatChecker, name: str) -> Any:
    # Cached: the same values recur (every item fetched in one second has the same
    # crawled_at, and many share a published_date), and a check is a call back into Python.
    @functools.lru_cache(maxsize=1024)
    def conforms(value: str) -> bool:
        try:
            return checker.conforms(value, name)
        except Exception:  # jsonschema-rs would take an exception for "valid"; python-jsonschema raises it
            return False

    return conforms


def rs_schema(node: Any, formats: set[str]) -> Any:
    """A copy of schema *node* with risky patterns moved to the Python keyword; collects format names."""
    if isinstance(node, list):
        return [rs_schema(value, formats) for value in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DATA_KEYWORDS:
            out[key] = value
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            names = {name: native_pattern(name) if key == "patternProperties" else name for name in value}
            if None in names.values():  # no custom keyword can stand in for these
                raise ValueError(f"patternProperties {list(value)} need Python's regex dialect")
            out[key] = {names[name]: rs_schema(sub, formats) for name, sub in value.items()}
        elif key == "pattern" and isinstance(value, str):
            native = native_pattern(value)
            out[key if native is not None else _PY_PATTERN] = value if native is None else native
        else:
            if key == "format" and isinstance(value, str):
                formats.add(value)
            out[key] = rs_schema(value, formats)
    return out


def fast_validator(schema: dict[str, Any], checker: FormatChecker) -> Any:
    """jsonschema-rs for *schema*, or None (logged) if it cannot take it: python-jsonschema then does it all."""
    formats: set[str] = set()
    try:
        copy = rs_schema(schema, formats)
        callbacks = {
            name: python_format(checker, name)
            for name in formats
            if name not in NATIVE_FORMATS or name not in checker.checkers  # unchecked in Python: unchecked here
        }
        return jsonschema_rs.Draft202012Validator(
            copy, validate_formats=True, formats=callbacks, keywords={_PY_PATTERN: PythonPattern}
        )
    except Exception as exc:  # a construct jsonschema-rs cannot compile; the schema itself passed check_schema
        logger.warning("jsonschema-rs cannot use this schema (%s); validating with python-jsonschema alone", exc)
        return None


class RecordValidator:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.python: Draft202012Validator = python_validator(schema)
        self.fast = fast_validator(schema, self.python.format_checker or Draft202012Validator.FORMAT_CHECKER)

    def is_valid(self, record: dict[str, Any]) -> bool:
        """jsonschema-rs's verdict on a record of plain JSON (`records.is_plain`); False means "ask describe()"."""
        if self.fast is None:
            return False
        try:
            return bool(self.fast.is_valid(record))
        except Exception:  # a value jsonschema-rs cannot read: python-jsonschema decides
            return False

    def describe(self, record: dict[str, Any]) -> list[dict[str, str]]:
        """python-jsonschema's errors; jsonschema-rs's if only it rejects the record. Empty: valid."""
        errors = describe_errors(self.python, record)
        if errors or self.fast is None or not is_plain(record):
            return errors
        try:
            fast_errors = [(path_of(e.instance_path), e.message) for e in self.fast.iter_errors(record)]
        except Exception:  # a value jsonschema-rs cannot read: python-jsonschema's word stands
            return errors
        return report(fast_errors)
