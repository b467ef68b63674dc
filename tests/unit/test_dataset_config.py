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


@pytest.mark.parametrize("made", [False, True])
def test_a_dataset_path_that_links_elsewhere_is_followed_at_start_up_as_the_build_does(tmp_path, made):
    """A link of the user's to another disk, its target not made yet or made: the build follows it. The
    start-up check refused the first ("exists and is not a directory"; found by a review of the change)."""
    from carnegie_crawler.run.config import ConfigError, check_dataset

    (tmp_path / "data").mkdir()
    elsewhere = tmp_path / "bigdisk" / "dataset"
    elsewhere.parent.mkdir()
    if made:
        elsewhere.mkdir()
    (tmp_path / "data" / "dataset").symlink_to(elsewhere)
    settings = Settings(
        project_settings(
            CARNEGIE_DATASET=str(tmp_path / "data" / "dataset"),
            CARNEGIE_STATE=str(tmp_path / "data" / "state.sqlite3"),
            CARNEGIE_OUTPUT=str(tmp_path / "data" / "%(run_id)s.jsonl"),
        )
    )
    paths = {"CARNEGIE_OUTPUT": tmp_path / "data" / "x.jsonl", "the manifest": tmp_path / "data" / "x.manifest.json"}
    assert check_dataset(settings, None, paths) == tmp_path / "data" / "dataset"
    (elsewhere.parent / "notes.txt").write_text("mine")
    if made:  # a user's directory there that holds something else is refused, whatever the link
        (elsewhere / "notes.txt").write_text("mine")
        with pytest.raises(ConfigError, match="holds no dataset"):
            check_dataset(settings, None, paths)
