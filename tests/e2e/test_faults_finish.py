"""Faults while writing and finishing a run: the run fails loudly (exit 1, "Run failed:"), publishes
nothing, commits nothing, and keeps whole lines in its part file."""

from __future__ import annotations

import shutil

import pytest

from carnegie_crawler.devserver import SiteServer
from tests.e2e.faults import (
    EXPECTED_URLS,
    check_manifest,
    copy_site,
    crawl_args,
    crawling,
    described_file,
    documents_in_state,
    edit,
    file_size_limit,
    last_message,
    lines_in_parts,
    part_files,
    run,
    wait_until,
    whole_json_lines,
)

COUNT_NAMES = ("written", "new", "updated", "unchanged", "invalid")


@pytest.mark.e2e
def test_a_healthy_run_ends_with_a_summary_line_naming_the_counts_and_the_output(site_server, tmp_path):
    result = run(crawl_args(site_server, tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    last = last_message(result.stderr)
    assert last.startswith("Run finished:"), last
    assert str(tmp_path / "out.jsonl") in last
    for name in COUNT_NAMES:
        assert name in last, f"{name!r} missing from the summary: {last}"
    manifest = check_manifest(tmp_path / "out.manifest.json")
    assert manifest["published"] is True
    assert manifest["counts"]["items"]["written"] == len(EXPECTED_URLS)


@pytest.mark.e2e
def test_an_unwritable_manifest_at_the_end_fails_the_run_and_publishes_nothing(site_server, tmp_path):
    manifest_dir = tmp_path / "manifests"
    manifest_dir.mkdir()
    state = tmp_path / "state.sqlite3"
    out = tmp_path / "Data"  # a capital: the summary names paths as they are
    site_server.site.delay = 0.3
    args = crawl_args(site_server, out, "-s", f"CARNEGIE_MANIFEST={manifest_dir / 'm.json'}", state=state)
    with crawling(args, tmp_path / "crawl.log") as crawl:
        wait_until(lambda: lines_in_parts(out) >= 1, "the first line", crawl=crawl)
        shutil.rmtree(manifest_dir)
        manifest_dir.write_text("a plain file where the manifest's directory was\n")  # ENOTDIR
        site_server.site.delay = 0
        code = crawl.wait(90)
        log = crawl.log
    assert code == 1, log[-3000:]
    last = last_message(log)
    assert last.startswith("Run failed:"), last
    assert not (out / "out.jsonl").exists(), "nothing is published without its manifest"
    assert documents_in_state(state) == 0, "nothing is committed when the run fails while finishing"
    parts = part_files(out)
    assert parts, "the run's lines are kept in its part file"
    assert f"lines kept in {parts[0]}" in last, last
    kept = [r for p in parts for r in whole_json_lines(p)]
    assert kept
    assert {r["url"] for r in kept} <= set(EXPECTED_URLS)


def pad_bodies(root, size: int) -> int:
    """Give the pages with a plain `post-body` a huge first paragraph; returns how many were padded."""
    padding = "<p>" + ("The figures were revised again. " * (size // 32)) + "</p>"
    padded = 0
    for page in (root / "pages").rglob("*.html"):
        if page.name.endswith(".ar.html") or "private" in page.parts:
            continue
        if '<div class="post-body rich-text">' in page.read_text(encoding="utf-8"):
            marker = '<div class="post-body rich-text">'
            edit(page, marker, marker + padding)
            padded += 1
    return padded


@pytest.mark.e2e
def test_a_full_disk_mid_run_leaves_only_whole_lines_and_fails_the_run(tmp_path):
    """RLIMIT_FSIZE (SIGXFSZ ignored): a write past the limit is cut short, then fails with EFBIG."""
    root = copy_site(tmp_path / "site")
    assert pad_bodies(root, 400_000) >= 4
    limit = 1_000_000  # the output crosses it at about the third padded page; the state stays far below
    out = tmp_path / "run"
    wrapper = file_size_limit(limit)
    with SiteServer(root) as server:
        result = run(crawl_args(server, out), prefix=wrapper, timeout=120)
    assert result.returncode == 1, result.stderr[-3000:]
    assert last_message(result.stderr).startswith("Run failed:"), result.stderr[-2000:]
    assert not (out / "out.jsonl").exists(), "a run that could not write its output publishes nothing"
    assert documents_in_state(out / "state.sqlite3") == 0
    parts = part_files(out)
    assert len(parts) == 1, parts
    kept = whole_json_lines(parts[0])  # no torn line at the end
    assert 1 <= len(kept) < len(EXPECTED_URLS), "the disk filled mid-run"
    assert parts[0].stat().st_size <= limit
    manifest_path = out / "out.manifest.json"
    if manifest_path.exists():  # written if it could be: it describes the kept part file exactly
        manifest = check_manifest(manifest_path)
        assert manifest["published"] is False
        assert described_file(manifest_path, manifest).resolve() == parts[0].resolve()
        assert manifest["counts"]["items"]["written"] == len(kept), manifest["counts"]["items"]
