"""The issue's "done" as users run it: `scrapy crawl` the local site with the archive on, stop the server,
`scrapy reextract`: the same documents with the same content hashes, no request, a run like any other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from carnegie_crawler.devserver import SiteServer
from tests.helpers import SITE, TESTS

REPO = TESTS.parent
EXPECTED = json.loads((SITE / "expected.json").read_text(encoding="utf-8"))

CHANGE_THE_EXTRACTOR = """
import sys
from carnegie_crawler.extraction import page
body = page._body
page._body = lambda found, subtitle: (body(found, subtitle) or "") + "\\n\\n(v2)"
from scrapy.cmdline import execute
execute(["scrapy", *sys.argv[1:]])
"""


def run(args: list[str], prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    command = prefix or [sys.executable, "-m", "scrapy"]
    return subprocess.run([*command, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=180)


def run_settings(tmp_path: Path) -> list[str]:
    return [
        "-s", f"CARNEGIE_ARCHIVE={tmp_path / 'archive'}",
        "-s", f"CARNEGIE_OUTPUT={tmp_path / 'out' / '%(run_id)s.jsonl'}",
        "-s", f"CARNEGIE_REJECTS={tmp_path / 'out' / 'rejects' / '%(run_id)s.jsonl'}",
        "-s", f"CARNEGIE_STATE={tmp_path / 'state.sqlite3'}",
        "-s", f"CARNEGIE_DATASET={tmp_path / 'dataset'}",
        "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
    ]  # fmt: skip


def output_of(tmp_path: Path, spider: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    # The newest file, not the last name: runs started within one second sort by their random token.
    manifest_path = max((tmp_path / "out").glob(f"{spider}-*.manifest.json"), key=lambda path: path.stat().st_mtime_ns)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    output = manifest_path.parent / manifest["output"]["path"]
    return [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()], manifest


def response_records(path: Path) -> dict[str, str]:
    """WARC-Record-ID -> WARC-Target-URI of every response record."""
    with open(path, "rb") as fh:
        return {
            r.rec_headers.get_header("WARC-Record-ID"): r.rec_headers.get_header("WARC-Target-URI")
            for r in ArchiveIterator(fh)
            if r.rec_type == "response"
        }


def documents(records: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted((r["url"], r["language"], r["content_hash"]) for r in records)


@pytest.fixture
def crawled(tmp_path) -> tuple[list[dict[str, Any]], Path]:
    """A crawl of the local site with the archive on; the server is stopped once it is done."""
    with SiteServer(SITE) as server:
        starts = ",".join(server.base_url + p for p in EXPECTED["start_paths"])
        result = run(["crawl", "commentary", "-a", f"start_urls={starts}", *run_settings(tmp_path)])
    assert result.returncode == 0, result.stderr[-3000:]
    records, manifest = output_of(tmp_path, "commentary")
    assert manifest["published"] is True
    assert len(records) == len(EXPECTED["expected_items"])
    [archive] = (tmp_path / "archive").iterdir()
    assert archive.name.endswith(".warc.gz")
    assert archive.name.startswith(manifest["run_id"])
    return records, archive


def test_items_name_the_archived_response_they_came_from(crawled):
    records, archive = crawled
    responses = response_records(archive)
    for record in records:
        assert record["archive"]["file"] == archive.name
        assert responses[record["archive"]["record_id"]] == record["fetched_url"]


def test_reextract_gives_the_same_documents_and_makes_no_request(crawled, tmp_path):
    records, archive = crawled
    result = run(["reextract", *run_settings(tmp_path)])  # the server is stopped: any request would fail
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Run finished: healthy" in result.stderr.strip().splitlines()[-1]
    assert "downloader/request_count" not in result.stderr
    again, manifest = output_of(tmp_path, "reextract")
    assert manifest["mode"] == "reextract"
    assert manifest["published"] is True
    assert manifest["counts"]["requests"] == 0
    assert manifest["counts"]["responses_by_status"] == {}
    assert documents(again) == documents(records)
    assert {r["crawl_status"] for r in again} == {"unchanged"}
    assert [r["archive"] for r in again] == [r["archive"] for r in records]
    assert list((tmp_path / "archive").iterdir()) == [archive], "a re-extraction archives nothing"
    package = json.loads((tmp_path / "dataset" / "datapackage.json").read_text(encoding="utf-8"))
    assert manifest["run_id"] in {run["run_id"] for run in package["runs"]}, "the dataset is updated"


def test_a_changed_extractor_gives_updated_items(crawled, tmp_path):
    records, _ = crawled
    prefix = [sys.executable, "-c", CHANGE_THE_EXTRACTOR]
    result = run(["reextract", "-a", "workers=1", *run_settings(tmp_path)], prefix=prefix)
    assert result.returncode == 0, result.stderr[-3000:]
    again, manifest = output_of(tmp_path, "reextract")
    assert {r["crawl_status"] for r in again} == {"updated"}
    assert manifest["counts"]["items"]["updated"] == len(records)
    before = {(r["url"], r["language"]): r["content_hash"] for r in records}
    assert all(before[(r["url"], r["language"])] != r["content_hash"] for r in again)


def test_a_bad_argument_or_no_archive_is_one_line_and_exit_2(tmp_path):
    result = run(["reextract", "-a", "since=someday", *run_settings(tmp_path)])
    assert result.returncode == 2
    assert result.stderr.startswith("Error: since must be a date"), result.stderr
    result = run(["reextract", *run_settings(tmp_path)])
    assert result.returncode == 2
    assert result.stderr.strip() == f"Error: no archive (*.warc.gz) in {tmp_path / 'archive'}"


def test_a_run_with_the_dataset_off_does_not_load_pyarrow(crawled, tmp_path):
    """pyarrow takes 0.15-0.18 s to import; only the dataset update needs it."""
    settings = [*run_settings(tmp_path), "-s", "CARNEGIE_DATASET="]
    result = run(["reextract", *settings], prefix=[sys.executable, "-X", "importtime", "-m", "scrapy"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Run finished: healthy" in result.stderr
    lines = result.stderr.splitlines()
    imported = [line.rsplit("|", 1)[-1].strip() for line in lines if line.startswith("import time:")]
    assert "lxml.etree" in imported  # the import log is there
    assert not [name for name in imported if name.startswith("pyarrow")]
