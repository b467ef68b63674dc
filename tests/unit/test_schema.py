import dataclasses
import json
import types
import typing

import pytest

from carnegie_crawler.items import SCHEMA_VERSION, Publication
from carnegie_crawler.schema import default_schema_path, describe_errors, load_validator
from tests.helpers import fixture_cases, load_expected, valid_record

SCHEMA = json.loads(default_schema_path().read_text())
VALIDATOR = load_validator()


def _allows_null(prop: dict) -> bool:
    if "$ref" in prop and "anyOf" not in prop and "type" not in prop:
        return False
    if "anyOf" in prop:
        return any(option.get("type") == "null" for option in prop["anyOf"])
    kinds = prop.get("type")
    return kinds == "null" or (isinstance(kinds, list) and "null" in kinds)


def test_schema_and_item_have_the_same_fields():
    fields = [f.name for f in dataclasses.fields(Publication)]
    assert fields == list(SCHEMA["properties"])
    assert set(SCHEMA["required"]) == set(fields)
    assert SCHEMA["additionalProperties"] is False


# The extractor may find no title; the schema then rejects the item, on purpose.
REQUIRED_BY_SCHEMA_ONLY = {"title"}


def test_schema_nullability_matches_the_item_annotations():
    hints = typing.get_type_hints(Publication)
    for name, prop in SCHEMA["properties"].items():
        optional = isinstance(hints[name], types.UnionType) and type(None) in typing.get_args(hints[name])
        assert _allows_null(prop) is (optional and name not in REQUIRED_BY_SCHEMA_ONLY), name


def test_every_field_is_described():
    def walk(node, where):
        if isinstance(node, dict):
            if "type" in node or "$ref" in node or "anyOf" in node:
                assert node.get("description"), f"no description at {where}"
            for key, value in node.items():
                if key in ("properties", "$defs"):
                    for child, sub in value.items():
                        walk(sub, f"{where}.{child}")
                elif key in ("items",):
                    walk(value, f"{where}[]")

    walk(SCHEMA, "$")


def test_schema_version_constant_matches_item():
    assert SCHEMA["properties"]["schema_version"]["const"] == SCHEMA_VERSION


def test_a_complete_record_is_valid():
    assert describe_errors(VALIDATOR, valid_record()) == []


def test_there_are_enough_fixture_pages():
    assert len(fixture_cases()) >= 12


@pytest.mark.parametrize("name", fixture_cases())
def test_every_expected_fixture_is_valid(name):
    record = {k: v for k, v in load_expected(name).items() if not k.startswith("_")}
    record.update(crawled_at="2026-11-25T10:00:00Z", content_hash="a" * 64, schema_version=SCHEMA_VERSION)
    record.setdefault("crawl_status", None)
    assert describe_errors(VALIDATOR, record) == []


@pytest.mark.parametrize(
    ("change", "path", "fragment"),
    [
        ({"title": None}, "$.title", "None is not of type 'string'"),
        ({"title": ""}, "$.title", "should be non-empty"),
        ({"published_date": "2014-02-30"}, "$.published_date", "is not a 'date'"),
        ({"published_date": "Feb 20, 2014"}, "$.published_date", "does not match"),
        ({"crawled_at": "yesterday"}, "$.crawled_at", "is not a 'date-time'"),
        ({"url": "javascript:alert(1)"}, "$.url", "does not match"),
        ({"word_count": -1}, "$.word_count", "less than the minimum"),
        ({"topics": "Security"}, "$.topics", "is not of type 'array'"),
        ({"authors": [{"name": "A", "url": None}]}, "$.authors[0]", "'role' is a required property"),
        ({"extra": 1}, "$", "Additional properties are not allowed"),
        ({"title": "<script>alert(1)</script>"}, "$.title", "does not match"),
    ],
)
def test_a_broken_record_is_rejected_with_a_precise_message(change, path, fragment):
    record = valid_record() | change
    errors = describe_errors(VALIDATOR, record)
    assert any(e["path"] == path and fragment in e["message"] for e in errors), errors


def test_every_failure_is_reported_not_just_the_first():
    record = valid_record() | {"title": None, "word_count": "many", "language": "English"}
    paths = {e["path"] for e in describe_errors(VALIDATOR, record)}
    assert {"$.title", "$.word_count", "$.language"} <= paths
