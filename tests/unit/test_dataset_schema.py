"""The dataset's Arrow schema against the JSON Schema and the item dataclass: names, order, types."""

import dataclasses
import types
import typing

import pyarrow as pa
import pytest
import yaml

from carnegie_crawler.dataset import arrow_schema, history_schema
from carnegie_crawler.dataset.card import yaml_lines
from carnegie_crawler.dataset.schema import SchemaMappingError, descriptions, hf_features, read_schema
from carnegie_crawler.items import Publication
from carnegie_crawler.schema import load_schema

SCHEMA = load_schema()
DATES = {"published_date": pa.date32(), "crawled_at": pa.timestamp("us", tz="UTC")}


def test_columns_are_the_schema_properties_and_the_item_fields_in_order():
    names = arrow_schema().names
    assert names == list(SCHEMA["properties"])
    assert names == [f.name for f in dataclasses.fields(Publication)]
    assert "run_id" in names


def _expected(hint: typing.Any) -> pa.DataType:
    """The Arrow type a Publication annotation calls for, worked out without the JSON Schema."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _expected(inner)
    if typing.get_origin(hint) is list:
        return pa.list_(_expected(typing.get_args(hint)[0]))
    if typing.is_typeddict(hint):
        return pa.struct([(name, _expected(sub)) for name, sub in typing.get_type_hints(hint).items()])
    return {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}[hint]


def test_types_follow_the_item_annotations_and_the_date_formats():
    hints = typing.get_type_hints(Publication)
    schema = arrow_schema()
    for field in schema:
        assert field.type == DATES.get(field.name, _expected(hints[field.name])), field.name
        assert field.nullable


def test_the_types_the_brief_names():
    schema = arrow_schema()
    author = pa.struct([("name", pa.string()), ("url", pa.string()), ("role", pa.string())])
    assert schema.field("authors").type == pa.list_(author)
    assert schema.field("image").type == pa.struct([("url", pa.string()), ("credit", pa.string())])
    assert schema.field("related").type == pa.struct(
        [("recent_work", pa.list_(pa.string())), ("more_work", pa.list_(pa.string()))]
    )
    assert schema.field("word_count").type == pa.int64()
    for name in ("centers", "programs", "projects", "collections", "regions", "topics"):
        assert schema.field(name).type == pa.list_(pa.string())


def _leaves(kind: pa.DataType):
    yield kind
    if pa.types.is_list(kind):
        yield from _leaves(kind.value_type)
    if pa.types.is_struct(kind):
        for child in kind:
            yield from _leaves(child.type)


def test_no_null_type_anywhere():
    for schema in (arrow_schema(), history_schema(), read_schema(arrow_schema())):
        for field in schema:
            assert not any(pa.types.is_null(kind) for kind in _leaves(field.type)), field.name


def test_read_schema_has_dates_as_strings_and_nothing_else_changed():
    schema, read = arrow_schema(), read_schema(arrow_schema())
    assert read.field("published_date").type == pa.string()
    assert read.field("crawled_at").type == schema.field("crawled_at").type  # pyarrow's JSON reader parses these
    assert [f for f in read if f.name != "published_date"] == [f for f in schema if f.name != "published_date"]


def test_a_drifted_schema_changes_the_arrow_schema():
    drifted = {**SCHEMA, "properties": {**SCHEMA["properties"], "extra": {"type": ["integer", "null"]}}}
    assert arrow_schema(drifted).names[-1] == "extra"
    assert arrow_schema(drifted).field("extra").type == pa.int64()
    assert arrow_schema(drifted) != arrow_schema()


@pytest.mark.parametrize(
    "prop",
    [
        {"type": ["string", "integer"]},
        {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        {"type": "object"},
        {"$ref": "https://elsewhere.example/schema.json"},
    ],
)
def test_an_unmappable_property_is_named(prop):
    with pytest.raises(SchemaMappingError, match="odd"):
        arrow_schema({"properties": {"odd": prop}})


def test_every_column_and_nested_field_has_a_description():
    described = descriptions()
    for field in arrow_schema():
        assert described.get(field.name), field.name
    for path in ("authors.name", "authors.url", "authors.role", "image.url", "image.credit", "related.more_work"):
        assert described.get(path), path


def test_features_are_what_hugging_face_derives_from_the_arrow_schema():
    from datasets import Features

    for schema in (arrow_schema(), history_schema()):
        ours = hf_features(schema)
        assert ours == Features.from_arrow_schema(schema)._to_yaml_list()
        assert Features._from_yaml_list(ours).arrow_schema == schema


def test_yaml_lines_round_trip_through_a_yaml_parser():
    data = {
        "plain": "timestamp[us, tz=UTC]",
        "keyword": "on",
        "spaced": "two words: and a colon",
        "quote": 'a "quoted" \\ backslash, ünïcode',
        "numbers": [0, 12, 3.5],
        "flags": [True, False, None],
        "nested": [{"name": "authors", "list": [{"name": "name", "dtype": "string"}]}, {"empty": []}],
        "empty": {},
    }
    assert yaml.safe_load("\n".join(yaml_lines(data))) == data
