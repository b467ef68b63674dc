"""Bad input is refused before any request; debugging commands leave no data behind; one page's
fan-out is capped."""

from __future__ import annotations

import pytest

from carnegie_crawler.devserver import SiteServer
from tests.e2e.faults import (
    EXPECTED,
    EXPECTED_URLS,
    add_cards,
    check_manifest,
    copy_site,
    crawl_args,
    extra_requests,
    last_message,
    log_records,
    message,
    run,
    whole_json_lines,
)

BAD_INPUT = {
    "unknown-argument": ["-a", "colour=blue"],
    "empty-start-urls": ["-a", "start_urls="],
    "min-coverage-not-json": ["-s", "CARNEGIE_MIN_COVERAGE=notjson"],
    "max-invalid-ratio-not-a-number": ["-s", "CARNEGIE_MAX_INVALID_RATIO=lots"],
    "refresh-days-not-a-number": ["-s", "CARNEGIE_REFRESH_DAYS=abc"],
    "feed-under-proc": ["-O", "/proc/nope/out.jsonl"],
    "manifest-under-proc": ["-s", "CARNEGIE_MANIFEST=/proc/nope/m.json"],
}


def assert_refused(result, site_server) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith("Error: "), lines[0]
    assert site_server.site.requests == [], "bad input is refused before any request"


@pytest.mark.e2e
@pytest.mark.parametrize("extra", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_one_error_line_exit_2_and_no_request(site_server, tmp_path, extra):
    args = crawl_args(site_server, tmp_path, *extra)
    if "start_urls=" in extra:  # the empty value replaces the site's start pages
        del args[2:4]
    result = run(args, timeout=60)
    assert_refused(result, site_server)
    assert not list(tmp_path.glob("out*")), "no output, part file or manifest"


@pytest.mark.e2e
def test_an_unknown_spider_is_one_error_line_and_exit_2(site_server, tmp_path):
    args = crawl_args(site_server, tmp_path)
    args[1] = "nosuchspider"
    assert_refused(run(args, timeout=60), site_server)


DEBUG_COMMANDS = {
    "parse": lambda url: ["parse", "--spider=commentary", url],
    "fetch": lambda url: ["fetch", url],
    "fetch-spider": lambda url: ["fetch", "--spider=commentary", url],
    "shell": lambda url: ["shell", url, "-c", "response.status"],
}


@pytest.mark.e2e
@pytest.mark.parametrize("command", DEBUG_COMMANDS.values(), ids=DEBUG_COMMANDS.keys())
def test_debugging_commands_leave_no_data_behind(site_server, tmp_path, command):
    data = tmp_path / "data"
    url = site_server.base_url + EXPECTED["start_paths"][0]
    settings = [
        "-s", f"CARNEGIE_OUTPUT={data / 'out.jsonl'}", "-s", f"CARNEGIE_REJECTS={data / 'rejects.jsonl'}",
        "-s", f"CARNEGIE_STATE={data / 'state.sqlite3'}", "-s", f"CARNEGIE_MANIFEST={data / 'm.json'}",
        "-s", f"CARNEGIE_DATASET={data / 'dataset'}", "-s", f"CARNEGIE_ARCHIVE={data / 'archive'}",
    ]  # fmt: skip
    args = command(url)
    result = run([*args, *settings], timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    left = sorted(str(p) for p in data.rglob("*") if not p.is_dir()) if data.exists() else []
    assert left == [], f"{args[0]} left files behind"
    if args[0] == "parse":
        item = EXPECTED["expected_items"][0]
        assert "Scraped Items" in result.stdout, result.stdout[-2000:]
        assert item["url"] in result.stdout, "the page's item is printed"
        assert "No response downloaded" not in result.stderr, "the URL is not filtered as offsite"
    elif args[0] == "shell":
        assert result.stdout.strip().splitlines()[-1] == "200", result.stdout[-2000:]
    else:
        assert "post-header__title" in result.stdout, "the page's HTML is printed"


@pytest.mark.e2e
def test_a_page_with_thousands_of_cards_follows_only_the_cap_and_says_so_once(tmp_path):
    root = copy_site(tmp_path / "site")
    add_cards(root, 5000)
    cap = 30
    with SiteServer(root) as server:
        args = crawl_args(server, tmp_path / "out", "-s", f"CARNEGIE_MAX_CARDS_PER_PAGE={cap}")
        result = run(args, timeout=120)
        extra = extra_requests(server)
    assert result.returncode == 0, result.stderr[-3000:]
    assert extra <= cap, f"{extra} of the page's extra cards were requested"
    records = log_records(result.stderr)
    page = server.base_url + EXPECTED["start_paths"][0]
    saying_so = [
        line for line in map(message, records)
        if "more than" in line.lower() or "CARNEGIE_MAX_CARDS_PER_PAGE" in line or (page in line and "card" in line)
    ]  # fmt: skip
    assert len(saying_so) == 1, saying_so[:5]
    assert len(records) < 300, "no line per dropped card"
    assert last_message(result.stderr).startswith("Run finished:")
    assert sorted(r["url"] for r in whole_json_lines(tmp_path / "out" / "out.jsonl")) == EXPECTED_URLS
    check_manifest(tmp_path / "out" / "out.manifest.json")
