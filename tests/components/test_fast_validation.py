"""The validation pipeline with jsonschema-rs in front: nothing invalid slips through, nothing is lost."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import jsonschema_rs
import pytest
from scrapy.exceptions import DropItem

from carnegie_crawler.pipelines.validation import ValidationPipeline
from carnegie_crawler.run.owner import RunOwner
from tests.components.test_pipelines import make_crawler, publication


class OnlyRsRejects:
    """A jsonschema-rs that finds an error python-jsonschema does not see."""

    def is_valid(self, record):
        return False

    def iter_errors(self, record):
        return iter([SimpleNamespace(instance_path=["authors", 0, "name"], message="rs says no")])


class NotToBeAsked:
    def is_valid(self, record):
        raise AssertionError("jsonschema-rs asked about a record that is not plain JSON")

    iter_errors = is_valid


def open_pipe(tmp_path):
    crawler = make_crawler(tmp_path, CARNEGIE_STATE="")
    pipe = ValidationPipeline(crawler, RunOwner.from_crawler(crawler))
    return pipe, crawler.stats


def rejects(tmp_path):
    [path] = list((tmp_path / "out" / "rejects").glob("*.jsonl.*.part"))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_an_item_only_jsonschema_rs_rejects_is_dropped_with_its_errors(tmp_path, monkeypatch):
    pipe, stats = open_pipe(tmp_path)
    monkeypatch.setattr(pipe.validator, "fast", OnlyRsRejects())
    item = publication()
    with pytest.raises(DropItem, match=r"invalid item .*: \$\.authors\[0\]\.name: rs says no"):
        pipe.process_item(item)
    pipe.run.rejects.close()
    assert stats.get_value("carnegie/validation/dropped") == 1
    assert stats.get_value("carnegie/validation/errors/$.authors") == 1
    [reject] = rejects(tmp_path)
    assert reject["errors"] == [{"path": "$.authors[0].name", "message": "rs says no"}]
    assert reject["item"]["url"] == item.url


@pytest.mark.parametrize(
    ("change", "valid"),
    [({"topics": ("Security",)}, False), ({"word_count": 4.0}, True), ({"word_count": 4.5}, False)],
    ids=["tuple", "whole float", "float"],
)
def test_python_jsonschema_alone_judges_a_record_that_is_not_plain_json(tmp_path, monkeypatch, change, valid):
    pipe, _ = open_pipe(tmp_path)
    monkeypatch.setattr(pipe.validator, "fast", NotToBeAsked())
    item = publication(**change)
    if valid:
        assert pipe.process_item(item) is item
    else:
        with pytest.raises(DropItem, match="is not of type"):
            pipe.process_item(item)


def test_without_jsonschema_rs_python_jsonschema_does_it_all(tmp_path, monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise ValueError("cannot compile")

    monkeypatch.setattr(jsonschema_rs, "Draft202012Validator", refuse)
    with caplog.at_level(logging.WARNING):
        pipe, stats = open_pipe(tmp_path)
    assert pipe.validator.fast is None
    assert "validating with python-jsonschema alone" in caplog.text
    good = publication()
    assert pipe.process_item(good) is good
    with pytest.raises(DropItem, match=r"\$\.title: None is not of type 'string'"):
        pipe.process_item(publication(title=None))
    assert stats.get_value("carnegie/validation/dropped") == 1
