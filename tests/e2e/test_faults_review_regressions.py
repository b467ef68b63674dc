"""Regressions of the day's own fixes, found by a review: a 304 after a redirect removed the page it landed on;
resuming a paused job checked scrapyd's own _job, relative output names and the state's name; a JOBDIR run
through a symlinked path locked itself out."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.faults import crawl_args, crawling, env, lines_in_parts, run, wait_until

pytestmark = pytest.mark.e2e


def _pause(site_server, tmp_path: Path, args: list[str], cwd: Path | None = None) -> None:
    site_server.site.delay = 0.3
    with crawling(args, tmp_path / "first.log") as first:
        wait_until(lambda: lines_in_parts(cwd / "rel" if cwd else tmp_path / "out") >= 2, "two lines", crawl=first)
        first.signal(signal.SIGINT)
        site_server.site.delay = 0
        assert first.wait(60) == 4, first.log[-2000:]


def test_scrapyd_resume_of_a_paused_job_is_refused_for_its_new_job_id(site_server, tmp_path):
    """scrapyd gives every schedule its own _job: README says scrapyd's _job is not an argument of ours."""
    job = ["-s", f"JOBDIR={tmp_path / 'job'}"]
    _pause(site_server, tmp_path, crawl_args(site_server, tmp_path / "out", *job, "-a", "_job=first-schedule"))
    resumed = run(crawl_args(site_server, tmp_path / "out", *job, "-a", "_job=second-schedule"))
    assert resumed.returncode == 0, resumed.stderr[-1500:]
    assert "Resuming" in resumed.stderr


def _popen(args: list[str], cwd: Path, log: Path) -> subprocess.Popen:
    with log.open("w") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "scrapy", *args],
            cwd=cwd,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            env=env() | {"SCRAPY_SETTINGS_MODULE": "carnegie_crawler.settings"},
            start_new_session=True,
        )


def test_resume_from_another_directory_with_a_relative_output_is_not_refused(site_server, tmp_path):
    """job() compares output/rejects/manifest as the strings given: the same relative name from another
    working directory is another file, yet the job resumes (the state's absolute path is compared)."""
    from tests.e2e.faults import documents_in_state

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    state = tmp_path / "state.sqlite3"
    args = crawl_args(site_server, tmp_path / "out", "-s", f"JOBDIR={tmp_path / 'job'}",
                      output="rel/out.jsonl", rejects="rel/rejects.jsonl", state=state)  # fmt: skip
    site_server.site.delay = 0.3
    first = _popen(args, a, tmp_path / "first.log")
    try:
        wait_until(lambda: lines_in_parts(a / "rel") >= 2, "two lines")
        first.send_signal(signal.SIGINT)
        site_server.site.delay = 0
        assert first.wait(60) == 4, (tmp_path / "first.log").read_text()[-2000:]
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    second = _popen(args, b, tmp_path / "second.log")
    code = second.wait(120)
    log = (tmp_path / "second.log").read_text()
    published = b / "rel" / "out.jsonl"
    lines = len(published.read_text().splitlines()) if published.exists() else 0
    # Refused (exit 2) as for another output, or the published output holds every committed document.
    assert code == 2 or lines == documents_in_state(state), (code, lines, documents_in_state(state), log[-1500:])


def test_a_jobdir_run_without_state_through_a_symlinked_parent_does_not_lock_itself_out(site_server, tmp_path):
    """cli.py locks JOBDIR before Scrapy makes it (a missing path: its resolved name), the run's owner once it
    exists (a directory: its unresolved name): two keys for one lock file, flocked twice by one process."""
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    args = crawl_args(site_server, tmp_path / "out", "-s", f"JOBDIR={tmp_path / 'link' / 'job'}",
                      "-s", "CARNEGIE_STATE=", "-s", "CARNEGIE_LOCK_TIMEOUT=2")  # fmt: skip
    done = run(args)
    assert done.returncode == 0, done.stderr[-1500:]


def test_a_paused_job_resumed_through_a_symlink_to_its_state_resumes(site_server, tmp_path):
    """The lock takes a symlinked state for the same file (d4b908f); job() compares state.absolute(), so the
    same state file through another name is refused as 'another state'."""
    job = ["-s", f"JOBDIR={tmp_path / 'job'}"]
    state = tmp_path / "out" / "state.sqlite3"
    _pause(site_server, tmp_path, crawl_args(site_server, tmp_path / "out", *job, state=state))
    (tmp_path / "link.sqlite3").symlink_to(state)
    resumed = run(crawl_args(site_server, tmp_path / "out", *job, state=tmp_path / "link.sqlite3"))
    assert resumed.returncode == 0, resumed.stderr[-800:]


def test_a_304_after_a_redirect_does_not_remove_the_page_it_landed_on(editable_site, tmp_path):
    """A conditional request for D's old address /p1 redirects to /p2, E's own page; a server that honours
    If-Modified-Since (not only If-None-Match) answers 304 for /p2, not modified since D was last fetched.
    stage_unchanged stages /p2 as showing D (the known of /p1), and the new 'moved to' removal then takes
    E out of the state (and the dataset) though /p2 still shows E; D stays live though /p1 is gone."""
    import json as _json
    import sqlite3

    from tests.e2e.faults import EXPECTED

    root = editable_site.site.root
    old = root / "pages/posts/2020/11/why-the-gulf-is-hedging-on-china.html"
    new = root / "pages/posts/2099/01/new-address.html"
    new.parent.mkdir(parents=True)
    e_url = "https://carnegieendowment.org/posts/2099/01/new-address?lang=en"
    new.write_text(
        old.read_text(encoding="utf-8").replace(
            "https://carnegieendowment.org/posts/2020/11/why-the-gulf-is-hedging-on-china?lang=en", e_url
        ),
        encoding="utf-8",
    )
    base = editable_site.base_url
    starts = ",".join(base + p for p in EXPECTED["start_paths"])
    out = tmp_path / "out"
    state = out / "state.sqlite3"
    first = ["crawl", "commentary", "-a", f"start_urls={starts},{base}/posts/2099/01/new-address?lang=en",
             *crawl_args(None, out)[2:]]  # fmt: skip
    done = run(first)
    assert done.returncode == 0, done.stderr[-1500:]

    def keys() -> set[str]:
        with sqlite3.connect(state) as db:
            return {u for (u,) in db.execute("SELECT url FROM documents")}

    assert e_url in keys()
    routes = _json.loads((root / "routes.json").read_text(encoding="utf-8"))
    routes["/posts/2020/11/why-the-gulf-is-hedging-on-china"] = {
        "status": 301,
        "redirect": "/posts/2099/01/new-address?lang=en",
    }
    editable_site.site.routes = routes
    inner = editable_site.site.respond

    def respond(target, headers=None):  # If-Modified-Since honoured, as a CMS does: nothing changed since
        status, out_headers, body = inner(target, headers)
        if (
            status == 200
            and headers
            and "If-Modified-Since" in headers
            and "html" in out_headers.get("Content-Type", "")
        ):
            return 304, {}, b""
        return status, out_headers, body

    editable_site.site.respond = respond
    second = run(["crawl", "commentary", "-a", f"start_urls={starts}", "-a", "incremental=true",
                  *crawl_args(None, out)[2:], "-s", "CARNEGIE_REFRESH_DAYS=0"])  # fmt: skip
    assert second.returncode == 0, second.stderr[-1500:]
    removed = [line for line in second.stderr.splitlines() if "moved to" in line or "emoved" in line]
    assert e_url in keys(), removed[-5:]
