"""The dedupe key's URL part: path and query, without host or `lang`, language and center prefixes folded."""

from __future__ import annotations

import pytest

from carnegie_crawler.urls import key_path

SITE = "https://carnegieendowment.org"


@pytest.mark.parametrize(
    ("url", "key"),
    [
        (f"{SITE}/posts/2024/03/x?lang=en", "/posts/2024/03/x"),
        (f"{SITE}/posts/2024/03/x", "/posts/2024/03/x"),
        (f"{SITE}/middle-east/posts/2024/03/x?lang=ar", "/posts/2024/03/x"),
        (f"{SITE}/en/russia-eurasia/posts/2024/03/x?lang=en", "/posts/2024/03/x"),
        (f"{SITE}/ar/posts/2024/03/x?lang=ar", "/posts/2024/03/x"),
        ("http://127.0.0.1:8080/en/middle-east/diwan/2013/07/x", "/middle-east/diwan/2013/07/x"),
        (f"{SITE}/russia-eurasia/politika/2026/02/z?lang=ru", "/russia-eurasia/politika/2026/02/z"),
        (f"{SITE}/x?a=1&lang=en&b=2", "/x?a=1&b=2"),
        (f"{SITE}/x?lang=en&lang=ar", "/x"),
        (SITE, ""),
        (f"{SITE}/", "/"),
    ],
)
def test_key_path(url, key):
    assert key_path(url) == key


def test_host_and_language_parameter_are_not_part_of_the_key():
    assert key_path(f"{SITE}/posts/2024/03/x?lang=en") == key_path("http://127.0.0.1:8001/posts/2024/03/x?lang=ar")


def test_other_documents_keep_other_keys():
    assert key_path(f"{SITE}/posts/2024/03/x") != key_path(f"{SITE}/posts/2024/03/y")
    assert key_path(f"{SITE}/middle-east/diwan/2024/03/x") != key_path(f"{SITE}/posts/2024/03/x")
