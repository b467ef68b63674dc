import dataclasses
import json
import re
import types
import typing

import pytest
from jsonschema import Draft202012Validator

from carnegie_crawler.items import SCHEMA_VERSION, Publication
from carnegie_crawler.schema import SchemaLoadError, default_schema_path, describe_errors, load_schema, load_validator
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


# Added in a minor version: records written before it lack them, so they are not required.
OPTIONAL = {"archive"}


def test_schema_and_item_have_the_same_fields():
    fields = [f.name for f in dataclasses.fields(Publication)]
    assert fields == list(SCHEMA["properties"])
    assert set(SCHEMA["required"]) == set(fields) - OPTIONAL
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
    # What the run stamps on an item, not what the page says.
    record.update(crawled_at="2026-11-25T10:00:00Z", content_hash="a" * 64, schema_version=SCHEMA_VERSION)
    record.update(run_id="commentary-2026-11-25T10-00-00-0a1b2c")
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


INVALID = [
    {"title": ""},
    {"title": "x" * 1001},
    {"title": "<b>Title</b>"},
    {"title": " \x1c\x85 "},
    {"url": "https://carnegieendowment.org/a b"},
    {"url": "https://carnegieendowment.org/\x1f"},
    {"url": "https://carnegieendowment.org/" + "a" * 2048},
    {"url": "https://[::1/x"},
    {"url": 5},
    {"fetched_url": None},
    {"language": "EN"},
    {"content_type": "1commentary"},
    {"published_date": "0000-01-01"},
    {"published_date": "2014-2-3"},
    {"published_date": "٢٠١٤-٠٢-٠٣"},
    {"crawled_at": "2026-11-25T23:59:60Z"},
    {"crawled_at": "2026-11-25 10:00:00Z"},
    {"content_hash": "A" * 64},
    {"schema_version": "1.0.0"},
    {"word_count": True},
    {"topics": ["Security", "Security"]},
    {"topics": [""]},
    {"topics": ["<x>"]},
    {"primary_center": ""},
    {"authors": [{"name": "A", "url": None, "role": None, "email": "a@b"}]},
    {"authors": [{"name": "A", "url": "ftp://x.org/a", "role": None}]},
    {"image": {"url": "/relative.jpg", "credit": None}},
    {"related": {"recent_work": ["https://a.org/x", "https://a.org/x"], "more_work": []}},
    {"crawl_status": "gone"},
    {"body": ""},
]


@pytest.mark.parametrize("change", INVALID, ids=repr)
def test_a_broken_record_is_rejected(change):
    assert describe_errors(VALIDATOR, valid_record() | change)


def test_a_record_without_a_required_field_is_rejected():
    for name in valid_record():
        record = {k: v for k, v in valid_record().items() if k != name}
        assert describe_errors(VALIDATOR, record) == [{"path": "$", "message": f"'{name}' is a required property"}]


# The validator's schema has its $refs inlined (for speed); it must judge as the schema file does.
AS_WRITTEN = Draft202012Validator(load_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.mark.parametrize("change", [{}, {"regions": ["Türkiye", "日本"]}, *INVALID], ids=repr)
def test_inlined_refs_give_the_errors_of_the_schema_as_written(change):
    record = valid_record() | change
    assert describe_errors(VALIDATOR, record) == describe_errors(AS_WRITTEN, record)


def test_the_bundled_schema_is_inlined_whole():
    assert "$ref" not in json.dumps(VALIDATOR.schema["properties"])


def write_schema(tmp_path, schema: dict) -> str:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    return str(path)


def test_a_ref_that_is_not_inlined_is_still_followed(tmp_path):
    schema = {
        "$defs": {
            "node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}, "n": {"type": "integer"}}},
            "short": {"type": "string", "maxLength": 3},
        },
        "properties": {
            "chain": {"$ref": "#/$defs/node"},  # recursive: inlined once, then followed
            "word": {"$ref": "#/$defs/short", "minLength": 2},
            "name": {"$ref": "#/$defs/short", "maxLength": 10},  # both limits apply: not merged
        },
    }
    validator = load_validator(write_schema(tmp_path, schema))
    assert describe_errors(validator, {"chain": {"next": {"next": {"n": "x"}}}}) == [
        {"path": "$.chain.next.next.n", "message": "'x' is not of type 'integer'"}
    ]
    assert [e["path"] for e in describe_errors(validator, {"word": "a", "name": "abcdefghij"})] == ["$.name", "$.word"]


def test_a_ref_to_nothing_is_a_clear_error(tmp_path):
    path = write_schema(tmp_path, {"properties": {"x": {"$ref": "#/$defs/missing"}}})
    with pytest.raises(SchemaLoadError, match="points at nothing"):
        load_validator(path)


def test_the_key_and_the_hash_recipe_are_declared():
    assert SCHEMA["x-key"] == ["url", "language"]
    assert set(SCHEMA["x-key"]) <= set(SCHEMA["required"])
    recipe = SCHEMA["properties"]["content_hash"]["description"]
    from carnegie_crawler.items import _VOLATILE

    assert all(name in recipe for name in _VOLATILE - {"content_hash"}), "the recipe names every left-out field"
    assert SCHEMA["$id"].endswith(f"/{SCHEMA_VERSION}")


def test_every_earlier_schema_version_is_kept_and_in_the_changelog():
    from carnegie_crawler.schema import default_schema_path as current

    folder = current().parent
    changelog = (folder / "CHANGELOG.md").read_text(encoding="utf-8")
    kept = sorted(p.name for p in folder.glob("publication-*.schema.json"))
    assert "publication-1.1.0.schema.json" in kept
    for name in kept:
        version = name.removeprefix("publication-").removesuffix(".schema.json")
        old = json.loads((folder / name).read_text(encoding="utf-8"))
        assert old["properties"]["schema_version"]["const"] == version
        assert f"## {version}" in changelog
    assert f"## {SCHEMA_VERSION}" in changelog
    # ...and the reverse: every earlier version the changelog lists is kept (1.0.0 was not, found by a review).
    listed = re.findall(r"^## (\d+\.\d+\.\d+)$", changelog, flags=re.MULTILINE)
    assert sorted(f"publication-{v}.schema.json" for v in listed if v != SCHEMA_VERSION) == kept
