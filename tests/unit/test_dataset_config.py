"""Where `scrapy dataset` looks: the dataset directory and the runs' manifests, from the run settings."""

from pathlib import Path

import pytest
from scrapy.settings import Settings

from carnegie_crawler.dataset import DatasetError
from carnegie_crawler.dataset.config import DatasetConfig
from tests.helpers import project_settings


def config(**overrides):
    return DatasetConfig.from_settings(Settings(project_settings(**overrides)))


def test_project_defaults():
    found = config()
    assert found is not None
    assert found.directory == Path("data/dataset").absolute()  # as written, made absolute: no `~` expansion
    assert found.state == Path("data/state.sqlite3")
    assert found.manifest_dirs == [Path("data")]
    assert found.pattern == "*.manifest.json"


def test_an_explicit_manifest_template_is_followed():
    found = config(CARNEGIE_MANIFEST="runs/manifests/%(name)s-%(time)s.json", CARNEGIE_DATASET="out/ds")
    assert found is not None
    assert (found.directory, found.manifest_dirs, found.pattern) == (
        Path("out/ds").absolute(),
        [Path("runs/manifests")],
        "*-*.json",
    )


def test_a_fixed_output_name_gives_a_fixed_manifest_name():
    found = config(CARNEGIE_OUTPUT="data/[demo].jsonl")
    assert found is not None
    assert found.pattern == "[[]demo].manifest.json"  # glob-escaped


def test_empty_dataset_setting_means_off():
    assert config(CARNEGIE_DATASET="") is None


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"CARNEGIE_OUTPUT": "data/%(name)s/%(run_id)s.jsonl"}, "CARNEGIE_OUTPUT: the directory of"),
        ({"CARNEGIE_MANIFEST": "m/%(time)s/x.json"}, "CARNEGIE_MANIFEST: the directory of"),
        ({"CARNEGIE_OUTPUT": "data/%(when)s.jsonl"}, "bad path template"),
        ({"CARNEGIE_OUTPUT": ""}, "CARNEGIE_OUTPUT is empty"),
        ({"CARNEGIE_STATE": ""}, "CARNEGIE_STATE is empty"),
        ({"CARNEGIE_DATASET": "data/%(name)s"}, "CARNEGIE_DATASET must be a directory path"),
    ],
)
def test_unusable_settings_are_named(overrides, fragment):
    with pytest.raises(DatasetError, match=fragment):
        config(**overrides)
