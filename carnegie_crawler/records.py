"""An item's fields as a JSON record, without the cost of a deep copy when none is needed.

`ItemAdapter(item).asdict()` copies every nested dict and list, checking each value
against every item type itemadapter knows: about 140 µs for a publication. When every
nested value is already plain JSON, a shallow dict of the fields is equal to that copy,
and the pipelines only read it.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
from typing import Any

import orjson
from itemadapter import ItemAdapter
from itemadapter.adapter import DataclassAdapter

# orjson refuses integers outside 64 bits (json prints them); such records take the slow path.
_INT_LIMIT = 2**63
_LEAVES = frozenset({str, bool, type(None)})
_STR = frozenset({str})
_NESTED = frozenset({dict, list, int})  # values whose plainness needs a closer look
_PLAIN = _LEAVES | _NESTED


def is_plain(value: Any) -> bool:
    """True if *value* is made only of dict (str keys), list, str, bool, None and 64-bit int.

    Exact types, no subclasses: for these, `asdict()` is a plain copy, and jsonschema-rs
    and orjson read them exactly as python-jsonschema and json do. Floats are left out
    on purpose: orjson prints some of them differently from json (1e-7 for 1e-07, null
    for NaN), and a tuple is an array to jsonschema-rs but not to python-jsonschema.
    """
    kind = type(value)
    if kind is dict:
        if value and set(map(type, value)) != _STR:
            return False
        values: Any = value.values()
    elif kind is list:
        values = value
    else:
        return kind in _LEAVES or (kind is int and -_INT_LIMIT <= value < _INT_LIMIT)
    # The types of all values in one pass in C; a call per value only for containers and ints.
    kinds = set(map(type, values))
    if kinds <= _LEAVES:
        return True
    if not kinds <= _PLAIN:
        return False
    for v in values:  # noqa: SIM110 - a loop, not all(<generator>): measurably faster, on every item
        if type(v) in _NESTED and not is_plain(v):
            return False
    return True


def plain_record(item: Any) -> dict[str, Any] | None:
    """`fields(item)` if every value in it is plain JSON (`is_plain`), else None.

    Then equal to `ItemAdapter(item).asdict()` (tests/unit/test_records.py), without the copy.
    """
    record = fields(item)
    return record if is_plain(record) else None


def fields(item: Any) -> dict[str, Any]:
    """The item's fields, as ItemAdapter reads them, in a new dict sharing the item's values: only for reading."""
    kind: Any = type(item)
    names = _dataclass_fields(kind)
    state = getattr(item, "__dict__", None) if names is not None else None
    if state is not None and list(state) == names:
        # Every field in the instance dict, in field order, nothing else: what ItemAdapter
        # would read, field by field, for ten times the cost.
        return dict(state)
    adapter = ItemAdapter(item)
    return {key: adapter[key] for key in adapter}


@functools.cache
def _dataclass_fields(cls: Any) -> list[str] | None:
    """Field names of a dataclass whose fields ItemAdapter reads straight from the instance dict.

    None for anything else: a type ItemAdapter reads with another adapter, or a class
    that controls attribute access itself (`__getattribute__`, properties, descriptors).
    """
    adapter = next((a for a in ItemAdapter.ADAPTER_CLASSES if a.is_item_class(cls)), None)
    if adapter is not DataclassAdapter or cls.__getattribute__ is not object.__getattribute__:
        return None
    names = [field.name for field in dataclasses.fields(cls)]
    if any(hasattr(inspect.getattr_static(cls, name, None), "__get__") for name in names):
        return None
    return names


def json_bytes(record: dict[str, Any], *, sort_keys: bool = False, newline: bool = False, plain: bool = False) -> bytes:
    """`json.dumps(record, ensure_ascii=False, separators=(",", ":"), sort_keys=...)` in UTF-8, byte for byte.

    orjson writes those very bytes for plain records (`is_plain`: no floats, no integers
    beyond 64 bits) in a fifth of the time (tests/unit/test_output_encoding.py). Anything
    else, or anything orjson refuses (a lone surrogate), goes through json, which writes
    it or raises exactly as it always did. *plain*: the caller has found `is_plain(record)`.
    """
    if plain or is_plain(record):
        option = (orjson.OPT_SORT_KEYS if sort_keys else 0) | (orjson.OPT_APPEND_NEWLINE if newline else 0)
        try:
            return orjson.dumps(record, option=option)
        except orjson.JSONEncodeError:
            pass
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)
    return (text + "\n" if newline else text).encode("utf-8")
