"""Links inside an item name the canonical site, wherever the page was fetched from."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from scrapy.http import HtmlResponse

from carnegie_crawler.extraction import extract_from_response
from carnegie_crawler.extraction.links import canonical_rebase, rebased
from tests.helpers import PAGES, fixture_cases, load_expected

SITE = "https://carnegieendowment.org"
MIRRORS = ("http://127.0.0.1:8001", "http://127.0.0.1:9002")
FETCH_DETAILS = {"fetched_url", "crawled_at"}
# Relative /people/ and card links, and an absolute rel=canonical on the site.
NAME = "commentary_three_authors_notes"


def html_of(name: str) -> str:
    return (PAGES / f"{name}.html").read_text(encoding="utf-8")


def served_from(origin: str, name: str = NAME) -> str:
    """The fixture's fetched URL, on *origin* instead of its own host."""
    parts = urlsplit(load_expected(name)["fetched_url"])
    scheme, netloc = origin.split("://")
    return urlunsplit((scheme, netloc, parts.path, parts.query, ""))


def extract(html: str | bytes, url: str) -> dict[str, Any]:
    body = html.encode("utf-8") if isinstance(html, str) else html
    return asdict(extract_from_response(HtmlResponse(url=url, body=body, encoding="utf-8")))


def without_fetch_details(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in FETCH_DETAILS}


def absolute_canonical_cases() -> list[str]:
    """Reconstructed pages whose rel=canonical names the site itself (the others have none, or a relative one)."""
    found = re.compile(r'<link rel="canonical" href="https://(www\.)?carnegieendowment\.org/')
    return [name for name in fixture_cases() if found.search(html_of(name))]


@pytest.mark.parametrize("name", absolute_canonical_cases())
def test_the_same_page_from_two_mirrors_and_the_site_is_one_item(name):
    body = (PAGES / f"{name}.html").read_bytes()
    items = [extract(body, served_from(origin, name)) for origin in (*MIRRORS, SITE)]
    assert without_fetch_details(items[0]) == without_fetch_details(items[1]) == without_fetch_details(items[2])
    assert items[0]["content_hash"] == items[1]["content_hash"] == items[2]["content_hash"]


def test_author_and_related_links_of_a_mirrored_page_name_the_site():
    item = extract(html_of(NAME), served_from(MIRRORS[0]))
    expected = load_expected(NAME)
    assert item["authors"] == expected["authors"]
    assert item["related"] == expected["related"]
    assert item["url"] == expected["url"]


def test_absolute_links_to_the_serving_origin_move_to_the_site():
    mirror = MIRRORS[0]
    html = (
        html_of(NAME)
        .replace('href="/people/', f'href="{mirror}/people/')
        .replace('href="/posts/', f'href="{mirror}/posts/')
    )
    item = extract(html, served_from(mirror))
    assert item["authors"] == load_expected(NAME)["authors"]
    assert item["related"] == load_expected(NAME)["related"]


def test_links_to_other_hosts_and_ports_stay_as_they_are():
    other = MIRRORS[1]
    html = html_of(NAME).replace('href="/people/thomas-carothers', f'href="{other}/people/thomas-carothers')
    item = extract(html, served_from(MIRRORS[0]))
    assert item["authors"][1]["url"] == f"{other}/people/thomas-carothers?lang=en"
    assert item["authors"][0]["url"] == f"{SITE}/people/frances-z-brown?lang=en"


def test_a_page_without_canonical_keeps_the_mirror_host_in_url_and_links():
    name = "malformed_metadata_politika"  # no rel=canonical
    item = extract(html_of(name), served_from(MIRRORS[0], name))
    mirror = MIRRORS[0]
    assert item["url"].startswith(f"{mirror}/russia-eurasia/politika/")
    assert item["authors"][0]["url"] == f"{mirror}/people/tatiana-stanovaya?lang=en"
    links = item["related"]["recent_work"] + item["related"]["more_work"]
    assert links
    assert all(link.startswith(f"{mirror}/") for link in links)


def test_a_canonical_off_the_site_does_not_move_the_page_links():
    # An in-the-media page may name the outlet's copy as canonical: its own links do not live there.
    canonical = load_expected(NAME)["url"]
    html = html_of(NAME).replace(f'href="{canonical}"', 'href="https://foreignpolicy.com/2022/09/stabilization"')
    item = extract(html, served_from(MIRRORS[0]))
    assert item["url"] == "https://foreignpolicy.com/2022/09/stabilization"
    assert item["authors"][0]["url"] == f"{MIRRORS[0]}/people/frances-z-brown?lang=en"


def test_rebase_matches_whole_origins_only():
    rebase = canonical_rebase("http://127.0.0.1:800/posts/x", f"{SITE}/posts/x")
    assert rebase("http://127.0.0.1:800/people/a") == f"{SITE}/people/a"
    assert rebase("http://127.0.0.1:8001/people/a") == "http://127.0.0.1:8001/people/a"
    assert rebase("https://127.0.0.1:800/people/a") == "https://127.0.0.1:800/people/a"


def test_rebase_does_nothing_on_the_site_itself():
    rebase = canonical_rebase("https://www.carnegieendowment.org/middle-east/posts/x", f"{SITE}/posts/x")
    assert rebase(f"{SITE}/people/a") == f"{SITE}/people/a"


def test_links_that_become_one_are_listed_once():
    rebase = canonical_rebase(f"{MIRRORS[0]}/posts/x", f"{SITE}/posts/x")
    links = [f"{MIRRORS[0]}/posts/a", f"{SITE}/posts/a", f"{MIRRORS[1]}/posts/a"]
    assert rebased(links, rebase) == [f"{SITE}/posts/a", f"{MIRRORS[1]}/posts/a"]
