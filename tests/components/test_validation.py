"""The validation pipeline: invalid items are dropped, counted and recorded with `$.path: message` errors."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from scrapy.exceptions import DropItem

from carnegie_crawler.pipelines.validation import ValidationPipeline
from carnegie_crawler.run.owner import RunOwner
from carnegie_crawler.schema import load_validator
from tests.components.test_pipelines import make_crawler, publication

_RUNS: list[RunOwner] = []


@pytest.fixture(autouse=True)
def _release_runs():
    """Each run opens its part files; close them after the test, as the end of a crawl would."""
    yield
    while _RUNS:
        _RUNS.pop()._release()


def open_pipe(tmp_path):
    crawler = make_crawler(tmp_path, CARNEGIE_STATE="")
    _RUNS.append(run := RunOwner.from_crawler(crawler))
    pipe = ValidationPipeline(crawler, load_validator(), run)
    return pipe, crawler.stats


def rejects(tmp_path):
    [path] = list((tmp_path / "out" / "rejects").glob("*.jsonl.*.part"))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_error_is_recorded_with_its_json_path_sorted(tmp_path):
    pipe, stats = open_pipe(tmp_path)
    item = publication(
        title="x" * 1001,
        authors=[{"name": "", "url": None, "role": None}, {"name": "B", "url": "ftp://x.org/b", "role": None}],
    )
    with pytest.raises(DropItem) as raised:
        pipe.process_item(item)
    pipe.run.rejects.close()
    [reject] = rejects(tmp_path)
    paths = [e["path"] for e in reject["errors"]]
    assert paths == sorted(paths)
    assert {"$.authors[0].name", "$.authors[1].url", "$.title"} <= set(paths)
    assert all(len(e["message"]) <= 200 for e in reject["errors"]), "messages cut to a readable length"
    assert any(e["message"].endswith("…") for e in reject["errors"] if e["path"] == "$.title")
    assert reject["url"] == item.url
    assert reject["fetched_url"] == item.fetched_url
    assert reject["item"]["title"] == item.title, "the whole item is kept"
    message = str(raised.value)
    assert message.startswith(f"invalid item {item.url}: ")
    assert "$.authors[0].name: '' should be non-empty" in message
    assert stats.get_value("carnegie/validation/checked") == 1
    assert stats.get_value("carnegie/validation/dropped") == 1
    assert stats.get_value("carnegie/validation/errors/$.authors") == 2, "counted under the path's root"
    assert stats.get_value("carnegie/validation/errors/$.title") >= 1


@pytest.mark.parametrize(
    ("change", "valid"),
    [({"topics": ("Security",)}, False), ({"word_count": 4.0}, True), ({"word_count": 4.5}, False)],
    ids=["tuple", "whole float", "float"],
)
def test_values_that_are_not_plain_json_are_judged_by_the_schema(tmp_path, change, valid):
    pipe, _ = open_pipe(tmp_path)
    item = publication(**change)
    if valid:
        assert pipe.process_item(item) is item
    else:
        with pytest.raises(DropItem, match="is not of type"):
            pipe.process_item(item)


def test_without_a_run_owner_invalid_items_are_still_dropped(tmp_path):
    crawler = make_crawler(tmp_path, CARNEGIE_STATE="")
    pipe = ValidationPipeline(crawler, load_validator())  # no run owner: nowhere to record the reject
    with pytest.raises(DropItem, match=r"\$\.title: None is not of type 'string'"):
        pipe.process_item(publication(title=None))
    assert crawler.stats.get_value("carnegie/validation/dropped") == 1


def test_the_validator_is_built_once_from_the_configured_schema(tmp_path, monkeypatch):
    schema = {"type": "object", "properties": {"title": {"type": "string", "maxLength": 5}}}
    path = tmp_path / "short-titles.json"
    path.write_text(json.dumps(schema))
    pipe = ValidationPipeline.from_crawler(make_crawler(tmp_path, CARNEGIE_SCHEMA=str(path), CARNEGIE_STATE=""))
    assert isinstance(pipe.validator, Draft202012Validator)
    assert pipe.validator.format_checker is not None

    def refuse(*args, **kwargs):
        raise AssertionError("the schema was loaded again")

    monkeypatch.setattr("carnegie_crawler.pipelines.validation.load_validator", refuse)
    short = publication(title="Short")
    assert pipe.process_item(short) is short
    with pytest.raises(DropItem, match=r"\$\.title: .* is too long"):
        pipe.process_item(publication())
