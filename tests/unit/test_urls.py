from urllib.parse import urljoin

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carnegie_crawler.urls import _normalize, fold_path, is_publication_url, normalize_url, request_url, without_param

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
    ("raw", "normalized"),
    [
        (f"{SITE}/x?utm%5Fsource=a&lang=en", f"{SITE}/x?lang=en"),  # a name is matched decoded, in any case
        (f"{SITE}/x?Center=a&CENTER=b&centers=c", f"{SITE}/x?centers=c"),
        ("https://x.org/x?a=2&a=1&a=2", "https://x.org/x?a=1&a=2&a=2"),  # repeated parameters are all kept
        ("https://x.org/x?b&a=", "https://x.org/x?a=&b="),
        ("https://x.org/a/./b/../c", "https://x.org/a/c"),
        ("https://x.org/café?q=café au+lait", "https://x.org/caf%C3%A9?q=caf%C3%A9+au+lait"),
        ("https://x.org/%7ea%2f", "https://x.org/~a%2F"),
        ("https://café.org/", "https://xn--caf-dma.org/"),
        ("https://user:secret@x.org/a", "https://x.org/a"),
        ("HTTPS://X.ORG:0443/a", "https://x.org/a"),
        # Latin-1 escapes stay the bytes they are (w3lib keeps them, as the server may expect them).
        ("https://x.org/a?q=r%E9sum%E9", "https://x.org/a?q=r%E9sum%E9"),
    ],
)
def test_canonical_form(raw, normalized):
    assert normalize_url(raw) == normalized


@pytest.mark.parametrize("raw", ["https://../x", "http://.", "https://[::1/x", "http://x.org:99999/"])
def test_urls_without_a_valid_host_or_port_are_refused(raw):
    assert normalize_url(raw) is None


@pytest.mark.parametrize(
    ("raw", "requested"),
    [
        (f"{SITE}/posts/2021/12/x?page=2&lang=ar&utm_source=x#top", f"{SITE}/posts/2021/12/x?lang=ar"),
        ("http://www.carnegieendowment.org/posts/2021/12/x?page=2", f"{SITE}/posts/2021/12/x"),
        ("http://127.0.0.1:8123/x?lang=fr&lang=en", "http://127.0.0.1:8123/x?lang=en"),
        ("mailto:a@b.org", None),
    ],
)
def test_request_url_keeps_only_lang(raw, requested):
    assert request_url(raw) == requested


BASES = [
    "https://carnegieendowment.org/middle-east/diwan/2024/05/x?lang=en",
    "http://WWW.CarnegieEndowment.org.:443/posts/2021/12/x?lang=ar#top",
    "http://127.0.0.1:8123/russia-eurasia/politika/2026/02/y?lang=en",
    "https://[::1]:8443/a/b",
    "ftp://example.org/x",
]


@settings(max_examples=2000, derandomize=True, deadline=None)
@given(
    link=st.lists(
        st.sampled_from(["/", ".", "..", "?", "#", "=", "&", "lang", "lang=", "en", "a", "%20", ":", ";", "~", "-", " ",
                         "//", "http://", "https://", "x.org", "é", "\n", "utm_x=1", "WWW.", "CarnegieEndowment.org",
                         "Ex.org", ":80", ":8", "\t", "%", "@", "[", "_", "%E9", "+", "center=1"]),
        max_size=12,
    ).map("".join),
    base=st.sampled_from([None, *BASES]),
)  # fmt: skip
def test_any_link_gives_none_or_a_normal_http_url(link, base):
    normalized = normalize_url(link, base)
    if normalized is not None:
        assert normalized.startswith(("http://", "https://"))
        assert normalize_url(normalized) == normalized
        requested = request_url(normalized)
        assert requested is not None
        assert request_url(requested) == requested


@settings(max_examples=2000, derandomize=True, deadline=None)
@given(
    link=st.lists(
        st.sampled_from(["/", ".", "..", "?", "#", "=", "&", "lang=en", "a", "%20", ":", "//", "http://", "HTTPS://",
                         "x.org", "é", " ", "utm_x=1", "WWW.", "CarnegieEndowment.org", ":80", "@", "[", "center=1"]),
        max_size=10,
    ).map("".join),
    base=st.sampled_from(BASES),
)  # fmt: skip
def test_a_link_normalises_as_if_joined_to_its_whole_page_url(link, base):
    # The cache keys a path-absolute link on the page's origin, not the page: same answer.
    try:
        joined = urljoin(base, link.strip())
    except ValueError:
        assert normalize_url(link, base) is None
        return
    assert normalize_url(link, base) == normalize_url(joined)


def test_the_same_card_on_two_pages_is_normalised_once():
    card = "/posts/2031/01/a-card-seen-twice?lang=en"
    first = normalize_url(card, "https://carnegieendowment.org/posts/2031/01/one?lang=en")
    hits = _normalize.cache_info().hits
    second = normalize_url(card, "https://carnegieendowment.org/middle-east/diwan/2031/01/two?lang=ar")
    assert first == second == "https://carnegieendowment.org/posts/2031/01/a-card-seen-twice?lang=en"
    assert _normalize.cache_info().hits == hits + 1
    on_mirror = normalize_url(card, "http://127.0.0.1:8123/posts/2031/01/one?lang=en")
    assert on_mirror == "http://127.0.0.1:8123/posts/2031/01/a-card-seen-twice?lang=en"
