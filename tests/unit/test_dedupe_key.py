"""The dedupe key's shortcut for plain canonical URLs gives what the urlsplit round trips give."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carnegie_crawler.urls import _SIMPLE_URL, key_path, key_path_by_parts

SEGMENTS = ["en", "ar", "middle-east", "russia-eurasia", "posts", "diwan", "2024", "a-b_c.d~", "", "%41", "é", ":x"]
TAILS = ["", "?", "/", "?lang=en", "?lang=", "?lang=zh-CN", "?lang=en&x=1", "?x=1", "#f", "?lang=en#f", "?lang", " "]
URL = st.builds(
    lambda scheme, host, segments, tail: f"{scheme}://{host}" + "".join("/" + s for s in segments) + tail,
    st.sampled_from(["https", "http", "HTTP", "ftp"]),
    st.sampled_from(["carnegieendowment.org", "127.0.0.1:8080", "www.a-b.org", "[::1]", "", "a.org:x"]),
    st.lists(st.sampled_from(SEGMENTS), max_size=5),
    st.sampled_from(TAILS),
)


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(URL)
def test_key_path_equals_the_round_trips(url):
    assert key_path(url) == key_path_by_parts(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://carnegieendowment.org/posts/2024/03/x?lang=en",
        "https://carnegieendowment.org/middle-east/posts/2024/03/x?lang=ar",
        "http://127.0.0.1:8080/en/middle-east/diwan/2013/07/x",
        "https://carnegieendowment.org",
    ],
)
def test_canonical_urls_take_the_shortcut(url):
    assert _SIMPLE_URL.fullmatch(url)
    assert key_path(url) == key_path_by_parts(url)
