import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carnegie_crawler.urls import fold_path, is_publication_url, normalize_url, without_param

SITE = "https://carnegieendowment.org"


@pytest.mark.parametrize(
    "raw",
    [
        "https://carnegieendowment.org/posts/2021/12/x?lang=en",
        "http://carnegieendowment.org/posts/2021/12/x?lang=en",
        "https://www.carnegieendowment.org/posts/2021/12/x?lang=en",
        "https://carnegieendowment.org./posts/2021/12/x?lang=en",
        "https://carnegieendowment.org:443/posts/2021/12/x?lang=en",
        "http://WWW.CarnegieEndowment.org.:443/posts/2021/12/x?lang=en",
        "https://carnegieendowment.org/posts/2021/12/x?lang=en#section-2",
        "https://carnegieendowment.org/posts/2021/12/x?utm_source=tw&lang=en&utm_medium=social",
        "https://carnegieendowment.org/posts/2021/12/x?center=middle-east&lang=en",
        "https://carnegieendowment.org/posts/2021/12/x?UTM_Campaign=a&lang=en",
    ],
)
def test_host_variants_tracking_and_fragments_fold_to_one_url(raw):
    assert normalize_url(raw) == f"{SITE}/posts/2021/12/x?lang=en"


def test_other_query_parameters_are_kept_and_sorted():
    assert normalize_url("https://carnegieendowment.org/x?lang=ar&b=2&a=1") == f"{SITE}/x?a=1&b=2&lang=ar"


def test_language_is_part_of_the_url():
    assert normalize_url(f"{SITE}/x?lang=ar") != normalize_url(f"{SITE}/x?lang=en")


def test_relative_links_resolve_against_the_page_and_keep_a_mirror_host():
    page = "http://127.0.0.1:8123/middle-east/posts/2014/02/a?lang=en"
    assert normalize_url("/posts/2020/01/b?lang=en#top", page) == "http://127.0.0.1:8123/posts/2020/01/b?lang=en"


def test_ipv6_hosts_keep_their_brackets():
    assert normalize_url("http://[::1]:8080/a#x") == "http://[::1]:8080/a"


def test_default_ports_drop_but_other_ports_stay():
    assert normalize_url("http://example.org:80/a") == "http://example.org/a"
    assert normalize_url("http://example.org:8080/a") == "http://example.org:8080/a"


@pytest.mark.parametrize(
    "raw",
    [
        "javascript:alert(1)",
        "mailto:press@example.org",
        "data:text/html,hi",
        "file:///etc/passwd",
        "",
        "http://",
        "http://[oops/x",
    ],
)
def test_non_http_urls_are_refused(raw):
    assert normalize_url(raw) is None


def test_a_link_w3lib_cannot_parse_is_refused_not_raised():
    assert normalize_url("//.//:.", "https://carnegieendowment.org/posts/2026/01/x") is None


@pytest.mark.parametrize(
    ("url", "folded"),
    [
        (f"{SITE}/en/russia-eurasia/posts/2021/12/x?lang=en", f"{SITE}/posts/2021/12/x?lang=en"),
        (f"{SITE}/middle-east/posts/2021/12/x", f"{SITE}/posts/2021/12/x"),
        (f"{SITE}/ar/posts/2021/12/x?lang=ar", f"{SITE}/posts/2021/12/x?lang=ar"),
        (f"{SITE}/middle-east/diwan/2023/08/y", f"{SITE}/middle-east/diwan/2023/08/y"),
        (f"{SITE}/russia-eurasia/politika/2026/02/z", f"{SITE}/russia-eurasia/politika/2026/02/z"),
    ],
)
def test_fold_path_joins_center_and_language_variants_but_keeps_blogs(url, folded):
    assert fold_path(url) == folded


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/posts/2021/12/x", True),
        ("/middle-east/diwan/2023/08/y", True),
        ("/events/2021/12/z", True),
        ("/people/alexey-malashenko", False),
        ("/en/people/alexey-malashenko", False),
        ("/middle-east/people", False),
        ("/topics/security", False),
        ("/regions/syria", False),
        ("/programs/nuclear-policy", False),
        ("/middle-east/projects/eurasia-in-transition", False),
        ("/experts", False),
        ("/search", False),
        ("/middle-east", False),
        ("/", False),
        ("/middle-east/diwan", False),
        ("/russia-eurasia/research", False),
        ("/events", False),
        ("/about", False),
        ("/podcasts/the-world-unpacked", False),
        ("/podcasts/the-world-unpacked/episode-12", True),
        ("/2019/10/21/tunisias-democratic-test-pub-80123", True),
        ("/en/russia-eurasia/posts/2021/12/x", True),
    ],
)
def test_is_publication_url(path, expected):
    assert is_publication_url(SITE + path) is expected


def test_without_param():
    assert without_param(f"{SITE}/x?a=1&lang=en", "lang") == f"{SITE}/x?a=1"


@pytest.mark.parametrize(
    "url",
    [
        "https://carnegieendowment.org/posts/2021/12/x?lang=en&b=2&a=1",
        "http://127.0.0.1:8123/middle-east/diwan/2023/08/y?lang=ar",
        "https://carnegieendowment.org/posts/2021/12/x",
        "https://carnegieendowment.org/posts/2021/12/x?a=&lang=en",
        "https://carnegieendowment.org/posts/2021/12/caf%C3%A9?q=a b&lang=en",
        "https://carnegieendowment.org/posts/2021/12/café?lang=fr",
    ],
)
def test_fast_path_agrees_with_w3lib_canonicalize_url(url):
    from w3lib.url import canonicalize_url

    assert normalize_url(url) == canonicalize_url(normalize_url(url))


# -- the shortcuts for site paths and absolute links give what joining and normalising gives --

BASES = [
    "https://carnegieendowment.org/middle-east/diwan/2024/05/x?lang=en",
    "http://WWW.CarnegieEndowment.org.:443/posts/2021/12/x?lang=ar#top",
    "http://127.0.0.1:8123/russia-eurasia/politika/2026/02/y?lang=en",
    "https://[::1]:8443/a/b",
    "https://example.org:443",
    "ftp://example.org/x",
]
LINKS = [
    "/posts/2021/12/x?lang=en", "/posts/2021/12/x", "/posts/2021/12/x?lang=", "/x?lang=en#frag?ment",
    "/x#", "/", "/a/../b", "/a/./b", "/.well-known/x", "//other.org/x", "/x?lang=en&a=1", "/x?", "/x?LANG=en",
    "/caf%C3%A9?lang=fr", "/x y", " /x?lang=en", "/x?lang=en ", "https://carnegieendowment.org/people/a?lang=en",
    "http://carnegieendowment.org/a/../b", "https://Example.org:443/x?utm_source=a&b=2#f", "http://[::1]:80/x",
    "https://x.org/p;a?b#c", "https://x.org/p#", "https://x.org/p?", "http://x.org", "mailto:a@b.org",
    "javascript:alert(1)", "x/y?lang=en", "?lang=fr", "#top", "", "https://[oops/x", "/x\n", "/x?lang=a/b",
    "https://WWW.CarnegieEndowment.ORG./posts/2026/01/x?lang=ar#c", "http://Example.org./x?lang=", "https://x.org",
    "https://x.org/a//b?lang=en#\n", "http://x.org/p\n", "https://./x", "https://carnegieendowment.org/a/./b",
    "//.//:.",
]  # fmt: skip


@pytest.mark.parametrize("base", BASES)
def test_shortcuts_agree_with_the_general_case(base):
    from carnegie_crawler.urls import _normalize

    for link in LINKS:
        assert normalize_url(link, base) == _normalize(link, base), (link, base)
        assert normalize_url(link) == _normalize(link), link


def test_shortcuts_agree_on_every_link_of_every_saved_page():
    from carnegie_crawler.extraction.decoding import parse_html
    from carnegie_crawler.urls import _normalize
    from tests.helpers import PAGES, fixture_cases, load_expected

    checked = 0
    for name in fixture_cases():
        root = parse_html((PAGES / f"{name}.html").read_bytes())
        for base in (load_expected(name)["fetched_url"], *BASES[:3]):
            for a in root.iter("a", "link", "img"):
                link = a.get("href") or a.get("src") or ""
                assert normalize_url(link, base) == _normalize(link, base), (link, base)
                checked += 1
    assert checked > 1000


@settings(max_examples=2000, derandomize=True, deadline=None)
@given(
    link=st.lists(
        st.sampled_from(["/", ".", "..", "?", "#", "=", "&", "lang", "lang=", "en", "a", "%20", ":", ";", "~", "-", " ",
                         "//", "http://", "https://", "x.org", "é", "\n", "utm_x=1", "WWW.", "CarnegieEndowment.org",
                         "Ex.org", ":80", ":8", "\t", "%", "@", "[", "_"]),
        max_size=12,
    ).map("".join),
    base=st.sampled_from(BASES),
)  # fmt: skip
def test_shortcuts_agree_on_generated_links(link, base):
    from carnegie_crawler.urls import _normalize

    assert normalize_url(link, base) == _normalize(link, base)
    assert normalize_url(link) == _normalize(link)
