"""Incremental runs after a page that was down, an interrupted run, or a JOBDIR whose run was killed:
nothing the site holds stays missing."""

from __future__ import annotations

import signal
from collections import Counter

import pytest

from carnegie_crawler.devserver import SiteServer
from tests.e2e.faults import (
    CANONICAL,
    EXPECTED_URLS,
    LOG_RECORD,
    add_cards,
    check_manifest,
    copy_site,
    crawl_args,
    crawling,
    edit,
    extra_requests,
    lines_in_parts,
    run,
    wait_until,
    whole_json_lines,
)

EVENT = "/events/2022/10/the-future-of-arms-control-in-the-middle-east"
FELLOWS = "/posts/2022/09/carnegie-announces-new-middle-east-fellows"
HEDGING = "/posts/2020/11/why-the-gulf-is-hedging-on-china"
BEIRUT = "/middle-east/diwan/2023/08/beiruts-port-three-years-on"


def published(directory, name: str = "out.jsonl") -> list[dict]:
    path = directory / name
    return whole_json_lines(path) if path.exists() else []


@pytest.mark.e2e
def test_a_page_down_for_a_whole_run_and_what_only_it_links_to_come_back_in_the_next_incremental_run(tmp_path):
    # The copy's only way to FELLOWS is the EVENT page (and HEDGING), and to HEDGING is FELLOWS: the
    # Tunisia page's card to HEDGING now points to Beirut. So while EVENT is down, all three are unreachable.
    root = copy_site(tmp_path / "site")
    tunisia = root / "pages/posts/2019/10/tunisias-democratic-test.html"
    edit(tunisia, f'href="{HEDGING}?lang=en"', f'href="{BEIRUT}?lang=en"')
    gap = {f"{CANONICAL}{path}?lang=en" for path in (EVENT, FELLOWS, HEDGING)}
    state = tmp_path / "state.sqlite3"
    with SiteServer(root) as server:
        server.site.routes[EVENT] = {"status": 503}  # every try, all run long
        first = run(crawl_args(server, tmp_path / "run1", state=state))
        assert first.returncode in (0, 1), first.stderr[-3000:]
        assert f"{EVENT}?lang=en" in server.site.requests, "the page was tried"
        assert not gap & {r["url"] for r in published(tmp_path / "run1")}

        del server.site.routes[EVENT]  # the page is back
        second = run(crawl_args(server, tmp_path / "run2", "-a", "incremental=true", state=state))
    assert second.returncode == 0, second.stderr[-3000:]
    check_manifest(tmp_path / "run2" / "out.manifest.json")
    emitted = {r["url"] for r in published(tmp_path / "run2")}
    assert gap <= emitted, f"still missing after the incremental run: {sorted(gap - emitted)}"
    union = Counter(r["url"] for d in ("run1", "run2") for r in published(tmp_path / d))
    assert sorted(union) == EXPECTED_URLS


@pytest.mark.e2e
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_an_interrupted_run_leaves_no_gap_after_the_next_incremental_run(site_server, tmp_path, how):
    state = tmp_path / "state.sqlite3"
    site_server.site.delay = 0.3
    with crawling(crawl_args(site_server, tmp_path / "run1", state=state), tmp_path / "run1.log") as first:
        wait_until(lambda: lines_in_parts(tmp_path / "run1") >= 2, "two lines", crawl=first)
        if how == signal.SIGKILL:
            first.kill_group()
        else:
            first.signal(signal.SIGINT)  # one Ctrl-C: a graceful stop
            site_server.site.delay = 0
            first.wait(60)
    site_server.site.delay = 0

    second = run(crawl_args(site_server, tmp_path / "run2", "-a", "incremental=true", state=state))
    assert second.returncode == 0, second.stderr[-3000:]
    check_manifest(tmp_path / "run2" / "out.manifest.json")
    union = Counter(r["url"] for d in ("run1", "run2") for r in published(tmp_path / d))
    assert sorted(union) == EXPECTED_URLS, "every document is published once the incremental run is done"
    assert set(union.values()) == {1}, f"published twice: {union}"


@pytest.mark.e2e
def test_a_jobdir_whose_run_was_killed_is_detected_and_the_next_run_crawls_afresh(tmp_path):
    # Enough requests that Scrapy's seen-requests file is flushed to disk before the kill, while the
    # job's queue (saved only at a clean stop) never is: the resumed job then filtered every request.
    root = copy_site(tmp_path / "site")
    add_cards(root, 300)
    jobdir = tmp_path / "job"
    with SiteServer(root) as server:
        args = crawl_args(server, tmp_path / "out", "-s", f"JOBDIR={jobdir}", "-s", "CARNEGIE_MAX_CARDS_PER_PAGE=1000")
        server.site.delay = 0.3
        with crawling(args, tmp_path / "run1.log") as first:
            wait_until(lambda: extra_requests(server) >= 3, "the start page's cards being fetched", crawl=first)
            first.kill_group()
        server.site.delay = 0
        second = run(args)
    assert second.returncode == 0, second.stderr[-3000:]
    records = whole_json_lines(tmp_path / "out" / "out.jsonl")
    assert sorted(r["url"] for r in records) == EXPECTED_URLS, "complete, and each document once"
    manifest = check_manifest(tmp_path / "out" / "out.manifest.json")
    assert manifest["published"] is True
    naming = [
        line for line in second.stderr.splitlines()
        if LOG_RECORD.match(line) and str(jobdir) in line and "Overridden settings" not in line
    ]  # fmt: skip
    assert len(naming) == 1, naming or second.stderr[-3000:]
