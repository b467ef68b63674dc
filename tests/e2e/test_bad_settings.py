"""Settings and paths that used to pass the start-up checks: each is now one `Error:` line, exit 2, before
any request (found by a review: exit 0 with nothing written, exit 5 after the whole crawl, or a traceback)."""

from __future__ import annotations

import sys

import pytest

from tests.e2e.faults import crawl_args, crawling, lines_in_parts, run, wait_until


def refused(result, site_server, fragment: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith("Error: "), lines[0]
    assert fragment in lines[0], lines[0]
    assert site_server.site.requests == [], "refused before any request"


def with_setting(args: list[str], name: str, value: str) -> list[str]:
    """*args* with the `-s name=...` that crawl_args put there replaced."""
    [index] = [i for i, arg in enumerate(args) if arg.startswith(f"{name}=")]
    return [*args[:index], f"{name}={value}", *args[index + 1 :]]


def test_dataset_with_a_placeholder(site_server, tmp_path):
    args = with_setting(crawl_args(site_server, tmp_path / "out"), "CARNEGIE_DATASET", f"{tmp_path}/ds-%(run_id)s")
    refused(run(args), site_server, "CARNEGIE_DATASET")


def test_dataset_over_outputs_in_directories_with_placeholders(site_server, tmp_path):
    out = tmp_path / "out"
    args = crawl_args(site_server, out, output=f"{out}/%(run_id)s/items.jsonl")
    refused(run(with_setting(args, "CARNEGIE_DATASET", f"{tmp_path}/dataset")), site_server, "CARNEGIE_OUTPUT")


def test_dataset_under_a_file(site_server, tmp_path):
    (tmp_path / "afile").write_text("x")
    args = with_setting(crawl_args(site_server, tmp_path / "out"), "CARNEGIE_DATASET", f"{tmp_path}/afile/dataset")
    refused(run(args), site_server, "CARNEGIE_DATASET")


@pytest.mark.parametrize("archive", ["dataset", "dataset/archive"])
def test_archive_in_the_dataset_directory(site_server, tmp_path, archive):
    args = crawl_args(site_server, tmp_path / "out")
    args = with_setting(args, "CARNEGIE_DATASET", f"{tmp_path}/dataset")
    refused(run(with_setting(args, "CARNEGIE_ARCHIVE", f"{tmp_path}/{archive}")), site_server, "CARNEGIE_ARCHIVE")


def test_output_in_the_dataset_directory(site_server, tmp_path):
    args = crawl_args(site_server, tmp_path / "out", output=tmp_path / "dataset" / "out.jsonl")
    args = with_setting(args, "CARNEGIE_DATASET", f"{tmp_path}/dataset")
    refused(run(args), site_server, "CARNEGIE_DATASET")


@pytest.mark.parametrize("workers", ["two", "-1", "1.5", "1000"])
def test_extract_workers_not_a_small_whole_number(site_server, tmp_path, workers):
    result = run(crawl_args(site_server, tmp_path / "out", "-s", f"CARNEGIE_EXTRACT_WORKERS={workers}"))
    refused(result, site_server, "CARNEGIE_EXTRACT_WORKERS")


def test_jobdir_that_is_a_file(site_server, tmp_path):
    (tmp_path / "job").write_text("not a directory")
    refused(run(crawl_args(site_server, tmp_path / "out", "-s", f"JOBDIR={tmp_path / 'job'}")), site_server, "JOBDIR")


def test_state_lock_path_that_is_a_directory(site_server, tmp_path):
    out = tmp_path / "out"
    (out / "state.sqlite3.lock").mkdir(parents=True)
    refused(run(crawl_args(site_server, out)), site_server, "state.sqlite3.lock")


def test_second_run_on_the_same_state_through_a_symlink_is_locked_out(site_server, tmp_path):
    state = tmp_path / "state.sqlite3"
    link = tmp_path / "link.sqlite3"
    link.symlink_to(state)
    site_server.site.delay = 1.0  # the first run still crawls while the second starts, even on a busy machine
    with crawling(crawl_args(site_server, tmp_path / "a", state=state), tmp_path / "a.log") as first:
        wait_until(lambda: lines_in_parts(tmp_path / "a") >= 1, "a line", crawl=first)
        second = run(crawl_args(site_server, tmp_path / "b", "-s", "CARNEGIE_LOCK_TIMEOUT=0", state=link))
        site_server.site.delay = 0
        assert first.wait(60) == 0, first.log[-3000:]
    assert second.returncode == 3, second.stderr[-3000:]
    assert "holds" in second.stderr


@pytest.mark.parametrize("placeholder", ["%(run_id)s", "%(nope)s"])
def test_feed_with_a_placeholder_scrapy_does_not_fill(site_server, tmp_path, placeholder):
    result = run(crawl_args(site_server, tmp_path / "out", "-O", f"{tmp_path}/feed-{placeholder}.csv"))
    refused(result, site_server, placeholder)


def test_feed_with_the_placeholders_scrapy_fills_is_written(site_server, tmp_path):
    feed = f"{tmp_path}/feeds/%(name)s/%(time)s-%(batch_id)03d%20.csv"
    result = run(crawl_args(site_server, tmp_path / "out", "-O", feed))
    assert result.returncode == 0, result.stderr[-3000:]
    [written] = (tmp_path / "feeds" / "commentary").glob("*-001%20.csv")
    assert written.stat().st_size > 0


@pytest.mark.parametrize("field", ["crawl_status", "crawled_at", "content_hash"])
def test_min_coverage_on_a_field_coverage_does_not_count(site_server, tmp_path, field):
    result = run(crawl_args(site_server, tmp_path / "out", "-s", f'CARNEGIE_MIN_COVERAGE={{"{field}": 1.0}}'))
    refused(result, site_server, field)


def test_min_coverage_on_a_field_not_in_the_schema(site_server, tmp_path):
    schema = "schemas/publication-1.1.0.schema.json"  # before run_id was a field
    extra = ("-s", f"CARNEGIE_SCHEMA={schema}", "-s", 'CARNEGIE_MIN_COVERAGE={"run_id": 1.0}')
    refused(run(crawl_args(site_server, tmp_path / "out", *extra)), site_server, "run_id")


def test_dataset_command_with_a_missing_state_file(tmp_path):
    result = run(
        ["dataset", "-s", f"CARNEGIE_DATASET={tmp_path}/dataset", "-s", f"CARNEGIE_STATE={tmp_path}/typo.sqlite3",
         "-s", f"CARNEGIE_OUTPUT={tmp_path}/%(run_id)s.jsonl"]
    )  # fmt: skip
    assert result.returncode == 2, (result.stdout, result.stderr)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: the state file {tmp_path}/typo.sqlite3 does not exist"), line
    assert not (tmp_path / "dataset").exists()


def test_output_with_a_placeholder_in_its_directory_makes_no_directory_up(site_server, tmp_path):
    out = tmp_path / "out"
    missing_schema = ("-s", f"CARNEGIE_SCHEMA={tmp_path}/gone.json")
    args = crawl_args(site_server, out, *missing_schema, output=f"{out}/%(run_id)s/o.jsonl")
    refused(run(args), site_server, "cannot read schema")  # a check after the paths' refuses the run
    made_up = [p.name for p in out.iterdir() if p.name.startswith("commentary-")]
    assert made_up == [], "no directory named with made-up values"


def test_output_with_a_placeholder_in_a_directory_under_a_file(site_server, tmp_path):
    (tmp_path / "afile").write_text("x")
    args = crawl_args(site_server, tmp_path / "out", output=f"{tmp_path}/afile/%(run_id)s/o.jsonl")
    refused(run(args), site_server, "CARNEGIE_OUTPUT")


@pytest.mark.parametrize(
    "overrides",
    [
        {"CARNEGIE_DATASET": "ds-%(run_id)s"},
        {"CARNEGIE_OUTPUT": "out/%(run_id)s/items.jsonl"},
        {"CARNEGIE_MANIFEST": "manifests/%(time)s/run.json"},
        {"CARNEGIE_MANIFEST": "manifests/%(run_id)s.json"},
        {"CARNEGIE_OUTPUT": "out/items-%(time)s.jsonl"},
        {"CARNEGIE_DATASET": ""},
    ],
)
def test_the_start_up_check_of_the_dataset_agrees_with_the_dataset_config(tmp_path, monkeypatch, overrides):
    """run/config.py repeats the checks of dataset/config.py (importing it loads pyarrow): the two agree."""
    from scrapy.settings import Settings

    from carnegie_crawler.dataset import DatasetError
    from carnegie_crawler.dataset.config import DEFAULT_DIRECTORY, DatasetConfig
    from carnegie_crawler.run.config import DATASET_DEFAULT, ConfigError, check_dataset

    assert DATASET_DEFAULT == DEFAULT_DIRECTORY
    monkeypatch.chdir(tmp_path)
    settings = Settings({"CARNEGIE_STATE": "state.sqlite3", "CARNEGIE_OUTPUT": "out/%(run_id)s.jsonl", **overrides})
    try:
        DatasetConfig.from_settings(settings)
        expected = None
    except DatasetError as exc:
        expected = exc
    try:
        check_dataset(settings, None, {})
        found = None
    except ConfigError as exc:
        found = exc
    assert (found is None) == (expected is None), (found, expected)


def test_the_start_up_checks_do_not_load_pyarrow():
    code = "import sys, carnegie_crawler.run.cli, carnegie_crawler.commands.crawl; print('pyarrow' in sys.modules)"
    assert run([], prefix=[sys.executable, "-c", code]).stdout.strip() == "False"
