"""What the site does to an address the state knows, and what the crawl must conclude from it.

Found by a review: a publication's address that now redirects to a file or to another host was never
counted as gone, so the document stayed live; a truncated body's ETag made every later conditional
request answer 304, so the truncated text stayed the document's for good.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import pytest_twisted

from tests.e2e.crawling import crawl_settings, run_crawl, start_urls

pytestmark = pytest.mark.e2e

FELLOWS = "/posts/2022/09/carnegie-announces-new-middle-east-fellows"
FELLOWS_URL = f"https://carnegieendowment.org{FELLOWS}?lang=en"
GRAIN = "russia-eurasia/posts/2022/06/russias-grain-diplomacy-in-africa"
GRAIN_URL = "https://carnegieendowment.org/posts/2022/06/russias-grain-diplomacy-in-africa?lang=en"


def stored(state: Path, url: str) -> list[str]:
    db = sqlite3.connect(state)
    try:
        return [hash_ for (hash_,) in db.execute("SELECT content_hash FROM documents WHERE url = ?", (url,))]
    finally:
        db.close()


AWAY = [
    "/files/black-sea-grain-corridor-report.pdf",  # a file the crawl fetches anyway: the redirect is a duplicate
    "/files/annual-report.pdf",  # a file nothing else links to
    "https://example.com/fellows",  # another host: dropped as off-site when scheduled
    "/people/leila-haddad?lang=en",  # a page that is no publication
]


@pytest.mark.parametrize("target", AWAY, ids=["a-file-seen", "a-file", "another-host", "a-listing"])
@pytest_twisted.inlineCallbacks
def test_a_publication_address_that_now_redirects_away_is_removed(editable_site, tmp_path, target):
    state = tmp_path / "state.sqlite3"
    yield run_crawl(crawl_settings(tmp_path / "run1", CARNEGIE_STATE=str(state)), start_urls=start_urls(editable_site))
    assert stored(state, FELLOWS_URL)
    editable_site.site.routes[FELLOWS] = {"status": 301, "redirect": target}
    pdf = {"file": "files/report.pdf", "content_type": "application/pdf"}
    editable_site.site.routes["/files/annual-report.pdf"] = pdf
    settings = crawl_settings(tmp_path / "run2", CARNEGIE_STATE=str(state))
    crawler, _ = yield run_crawl(settings, start_urls=start_urls(editable_site))
    assert crawler.stats.get_value("carnegie/health/ok") is True
    manifest = json.loads((tmp_path / "run2" / "items.manifest.json").read_text(encoding="utf-8"))
    assert [gone["url"] for gone in manifest["removed"]] == [FELLOWS_URL]
    assert manifest["removed"][0]["reason"].startswith("redirected away")
    assert stored(state, FELLOWS_URL) == []


@pytest_twisted.inlineCallbacks
def test_a_truncated_response_is_fetched_whole_again_by_the_next_incremental_run(editable_site, tmp_path):
    state = tmp_path / "state.sqlite3"
    _, first = yield run_crawl(
        crawl_settings(tmp_path / "run1", CARNEGIE_STATE=str(state)), start_urls=start_urls(editable_site)
    )
    whole = next(item for item in first if item.url == FELLOWS_URL)
    html = (editable_site.site.root / f"pages{FELLOWS}.html").read_bytes()
    editable_site.site.routes[FELLOWS] = {"truncate": html.index(b"Biographies are available")}
    _, second = yield run_crawl(
        crawl_settings(tmp_path / "run2", CARNEGIE_STATE=str(state)), start_urls=start_urls(editable_site)
    )
    assert next(item for item in second if item.url == FELLOWS_URL).content_hash != whole.content_hash
    del editable_site.site.routes[FELLOWS]  # the site serves the whole page again
    settings = crawl_settings(tmp_path / "run3", CARNEGIE_STATE=str(state), CARNEGIE_REFRESH_DAYS=0)
    _, third = yield run_crawl(settings, start_urls=start_urls(editable_site), incremental="true")
    assert [(item.url, item.crawl_status) for item in third if item.url == FELLOWS_URL] == [(FELLOWS_URL, "updated")]
    assert stored(state, FELLOWS_URL) == [whole.content_hash]


@pytest_twisted.inlineCallbacks
def test_a_page_without_a_language_tag_reached_with_and_without_lang_is_one_record(editable_site, tmp_path):
    """No <html lang>: the page's canonical URL (?lang=en) says its language, whichever address it was
    reached by; the fetched URL's ?lang= decided, so /x?lang=en and /x gave two documents."""
    page = editable_site.site.root / f"pages/{GRAIN}.html"
    page.write_text(page.read_text(encoding="utf-8").replace('<html lang="en" dir="ltr">', '<html dir="ltr">'))
    base = editable_site.base_url
    _, items = yield run_crawl(crawl_settings(tmp_path), start_urls=f"{base}/{GRAIN}?lang=en,{base}/{GRAIN}")
    assert [(item.url, item.language) for item in items if "grain-diplomacy" in item.url] == [(GRAIN_URL, "en")]
