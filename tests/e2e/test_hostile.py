"""One crawl against a local site that serves every fault at once: it finishes, tells the truth, loses nothing."""

from __future__ import annotations

import json

import pytest
import pytest_twisted

from carnegie_crawler.devserver import SiteServer
from tests.e2e.crawling import crawl_settings, run_crawl
from tests.e2e.hostile_site import MAXSIZE, TITLE_1252, build


@pytest.fixture
def hostile(tmp_path):
    expected = build(tmp_path / "site")
    with SiteServer(tmp_path / "site") as server:
        yield server, expected


@pytest_twisted.inlineCallbacks
def test_a_crawl_of_a_hostile_site_finishes_and_accounts_for_every_page(hostile, tmp_path):
    server, expected = hostile
    settings = crawl_settings(
        tmp_path / "out", DOWNLOAD_MAXSIZE=MAXSIZE, DOWNLOAD_TIMEOUT=1, RETRY_TIMES=1, CONCURRENT_REQUESTS=4
    )
    crawler, items = yield run_crawl(settings, start_urls=server.base_url + expected["start"])
    stats = crawler.stats.get_stats()
    requested = server.site.requests

    assert stats["finish_reason"] == "finished"
    assert "spider_exceptions" not in json.dumps(list(stats)), "no callback raised"
    assert not stats.get("log_count/ERROR"), "faults are warnings, not errors"

    titles = [i.title for i in items]
    assert expected["good"] <= set(titles)
    assert len(titles) == len(set(titles)) + titles.count(TITLE_1252) - 1, "each good document once"
    assert titles.count(TITLE_1252) == len(expected["encoded"]), "every encoding variant decodes to the same text"

    # Truncated: extracted from what arrived, and counted.
    assert stats["carnegie/pages/truncated"] == 1
    # Too large, too slow, reset, refused: counted per kind, never an item.
    assert stats["carnegie/errors/DownloadCancelledError"] == 1, "the page over DOWNLOAD_MAXSIZE"
    assert stats["carnegie/errors/DownloadTimeoutError"] == 1, "the slow page, after its retry"
    assert stats["carnegie/errors/DownloadFailedError"] == 1, "the reset connection, after its retry"
    # A host whose robots.txt cannot be fetched is disallowed whole (RFC 9309): the card to a closed port.
    assert stats["robotstxt/forbidden"] == 1
    assert "/posts/2030/01/refused?lang=en" not in requested
    assert stats["retry/reason_count/scrapy.exceptions.DownloadTimeoutError"] >= 1
    for title in ("Huge Page", "Slow Page", "Reset Page"):
        assert title not in titles
    # Redirects: a loop is stopped, another host is never reached.
    assert requested.count("/posts/2030/01/loop-a?lang=en") <= 2
    assert stats.get("offsite/filtered", 0) >= 1
    # Non-HTML card targets: no item, no error.
    assert stats["carnegie/pages/not_html"] == 2, "the JSON and the PNG"
    # Query-string traps: forty variants, one request.
    assert sum(r.startswith("/posts/2030/01/trap") for r in requested) == 1
    # Bounded whatever the timing: each address is asked for at most twice (once and its one retry,
    # or a redirect loop's second lap), and only addresses the site itself links to or routes.
    root = tmp_path / "site"
    paths = [r.split("?")[0] for r in requested]
    assert max(paths.count(path) for path in set(paths)) <= 2
    served = {"/" + p.relative_to(root / "pages").with_suffix("").as_posix() for p in (root / "pages").rglob("*.html")}
    routed = set(json.loads((root / "routes.json").read_text()))
    assert set(paths) <= served | routed | {"/robots.txt"}
    # Hostile values come out as plain text.
    hostile_item = next(i for i in items if i.title == "Hostile Title")
    # `authors` and `regions` are strings, not lists, in the metadata block: read from the page
    # instead (the byline names Ann Bee; no regions are shown), never a comma-joined author.
    assert [a["name"] for a in hostile_item.authors] == ["Ann Bee"]
    assert hostile_item.topics == ["Security"]
    assert hostile_item.regions == []
    assert stats["carnegie/extraction/wrong_typed/authors"] == 1
    assert stats["carnegie/extraction/wrong_typed/regions"] == 1
    assert hostile_item.primary_center == "Carnegie Europe"
    # An absurdly long title is rejected, with its reason, not silently cut.
    [rejects_file] = (tmp_path / "out").glob("rejects.jsonl.*.part")  # the run is unhealthy: kept, unpublished
    rejects = [json.loads(line) for line in rejects_file.read_text().splitlines()]
    absurd = [r for r in rejects if r["url"].endswith("/posts/2030/01/absurd?lang=en")]
    assert absurd
    assert absurd[0]["errors"][0]["path"] == "$.title"
    assert "Deep Page" in titles or any("deep" in r["url"] for r in rejects), "deep nesting: an item or a reject"
    # One rejected item of eleven is over the 5 % limit: the run says so.
    assert stats["carnegie/health/ok"] is False
    assert stats["carnegie/health/reasons"] == [
        f"1 of {stats['carnegie/validation/checked']} items were invalid (9% > 5%)"
    ]
