import pytest

from carnegie_crawler.spiders.arguments import (
    DEFAULT_START_URLS,
    SpiderArgumentError,
    parse_arguments,
    parse_start_urls,
    parse_types,
)
from carnegie_crawler.spiders.commentary import CommentarySpider


def test_default_start_urls_include_the_required_pages():
    urls = parse_start_urls()
    assert len(urls) == len(DEFAULT_START_URLS) >= 2
    assert (
        "https://carnegieendowment.org/middle-east/posts/2014/02/"
        "deadlock-in-geneva-puts-more-responsibility-on-the-west-and-russia" in urls
    )
    assert "https://carnegieendowment.org/russia-eurasia/politika/2026/02/russia-negotiations-purpose" in urls


def test_start_urls_are_split_normalised_and_deduplicated():
    urls = parse_start_urls("https://www.carnegieendowment.org/a?utm_source=x, https://carnegieendowment.org/a,")
    assert urls == ["https://carnegieendowment.org/a"]


def test_start_urls_file_skips_comments_and_blank_lines(tmp_path):
    listing = tmp_path / "starts.txt"
    listing.write_text(
        "# weekly crawl\nhttp://127.0.0.1:8123/posts/2020/01/a?lang=en  # mirror\n\n  https://carnegieendowment.org/b\n"
    )
    assert parse_start_urls(start_urls_file=str(listing)) == [
        "http://127.0.0.1:8123/posts/2020/01/a?lang=en",
        "https://carnegieendowment.org/b",
    ]


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("ftp://carnegieendowment.org/x", "not an http(s) URL"),
        ("file:///etc/passwd", "not an http(s) URL"),
        ("carnegieendowment.org/posts/x", "not an http(s) URL"),
        ("https://", "not an http(s) URL"),
        (" , ", "start_urls is empty"),
        ("", "start_urls is empty"),
    ],
)
def test_bad_start_urls_are_refused_with_a_reason(value, fragment):
    with pytest.raises(SpiderArgumentError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        parse_start_urls(value)


def test_missing_start_urls_file_is_refused(tmp_path):
    with pytest.raises(SpiderArgumentError, match="cannot read start_urls_file"):
        parse_start_urls(start_urls_file=str(tmp_path / "missing.txt"))


def test_types_are_matched_case_insensitively():
    assert parse_types("Commentary, pressrelease") == frozenset({"commentary", "pressRelease"})
    assert parse_types(None) is None
    assert parse_types("") is None


def test_unknown_type_is_refused_and_known_types_listed():
    with pytest.raises(SpiderArgumentError, match=r"unknown content type 'blogpost'.*commentary"):
        parse_types("commentary,blogpost")


def test_spider_validates_arguments_when_built():
    with pytest.raises(SpiderArgumentError):
        CommentarySpider(types="nonsense")
    spider = CommentarySpider(start_urls="http://127.0.0.1:8123/posts/2020/01/a,https://www.carnegieendowment.org/b")
    assert spider.hosts == frozenset({"127.0.0.1", "carnegieendowment.org"})
    assert CommentarySpider(start_urls="http://mirror:8080/posts/2020/01/x").hosts == frozenset({"mirror"})


@pytest.mark.parametrize("name", ["colour", "incremntal", "start_url"])
def test_an_unknown_argument_is_refused_not_ignored(name):
    with pytest.raises(SpiderArgumentError, match=f"unknown spider argument '{name}'.*incremental"):
        parse_arguments({name: "x"})


def test_scrapyds_own_arguments_are_accepted():
    assert parse_arguments({"_job": "abc123", "_version": "r1"}).given == {"_job": "abc123", "_version": "r1"}


def test_an_empty_start_urls_file_argument_is_refused():
    with pytest.raises(SpiderArgumentError, match="start_urls_file is empty"):
        parse_arguments({"start_urls_file": ""})


def test_arguments_resolve_once_into_one_typed_object():
    args = parse_arguments({"types": "commentary", "since": "2024-01-31", "incremental": "yes"})
    assert (args.types, args.since, args.incremental, args.filtered) == (
        frozenset({"commentary"}),
        "2024-01-31",
        True,
        True,
    )
    assert parse_arguments({}).filtered is False
