"""jsonschema-rs gives python-jsonschema's verdict: on every page, on broken records, character by character.

The pipeline trusts jsonschema-rs when it says "valid", so it must never accept
what python-jsonschema rejects. The schema's patterns are rewritten for it
(Python's `\\s`, `\\d` and `$`), its formats other than "uri" are Python's own
checkers; these tests hold both to python-jsonschema.
"""

from __future__ import annotations

import re
import sys
import unicodedata

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from carnegie_crawler.fastschema import PYTHON_SPACE, RecordValidator, fast_validator, native_pattern
from carnegie_crawler.records import is_plain, plain_record
from carnegie_crawler.schema import default_schema_path, describe_errors, load_schema
from tests.helpers import fixture_cases, page_item, valid_record

VALIDATOR = RecordValidator(load_schema())
CHECKER = Draft202012Validator.FORMAT_CHECKER


def python_says(schema: dict, instance: object) -> bool:
    return Draft202012Validator(schema, format_checker=CHECKER).is_valid(instance)


def test_jsonschema_rs_takes_the_schema():
    assert VALIDATOR.fast is not None


@pytest.mark.parametrize("name", fixture_cases())
def test_both_accept_every_page(name):
    record = plain_record(page_item(name))
    assert record is not None
    assert describe_errors(VALIDATOR.python, record) == []
    assert VALIDATOR.is_valid(record)


INVALID = [
    {"title": None},
    {"title": ""},
    {"title": "x" * 1001},
    {"title": "<b>Title</b>"},
    {"title": " \x1c\x85 "},  # whitespace to Python's re, not to ECMA-262's \s
    {"url": "javascript:alert(1)"},
    {"url": "https://carnegieendowment.org/a b"},
    {"url": "https://carnegieendowment.org/\x1f"},
    {"url": "https://carnegieendowment.org/" + "a" * 2048},
    {"url": "https://[::1/x"},
    {"url": "https://carnegieendowment.org/%zz"},
    {"url": 5},
    {"fetched_url": None},
    {"language": "EN"},
    {"language": "english"},
    {"language": "en\n\n"},
    {"content_type": "1commentary"},
    {"content_type": "a" * 65},
    {"published_date": "2014-02-30"},
    {"published_date": "0000-01-01"},  # year 0: jsonschema-rs's own "date" accepts it
    {"published_date": "2014-2-3"},
    {"published_date": "٢٠١٤-٠٢-٠٣"},
    {"published_date": "2014-02-03\n"},
    {"crawled_at": "yesterday"},
    {"crawled_at": "2026-11-25T23:59:60Z"},  # a leap second: jsonschema-rs's own "date-time" accepts it
    {"crawled_at": "0000-01-01T00:00:00Z"},
    {"crawled_at": "2026-11-25 10:00:00Z"},
    {"content_hash": "A" * 64},
    {"content_hash": "0" * 63},
    {"schema_version": "1.0.0"},
    {"word_count": -1},
    {"word_count": True},
    {"word_count": "3"},
    {"topics": "Security"},
    {"topics": ["Security", "Security"]},
    {"topics": [""]},
    {"topics": ["<x>"]},
    {"topics": [None]},
    {"primary_center": ""},
    {"authors": [{"name": "A", "url": None}]},
    {"authors": [{"name": "A", "url": None, "role": None, "email": "a@b"}]},
    {"authors": [{"name": "A", "url": "ftp://x.org/a", "role": None}]},
    {"authors": [{"name": "A", "url": None, "role": ""}]},
    {"image": {"url": "/relative.jpg", "credit": None}},
    {"image": {"url": "https://a.org/b.jpg"}},
    {"related": {"recent_work": []}},
    {"related": {"recent_work": ["https://a.org/x", "https://a.org/x"], "more_work": []}},
    {"crawl_status": "gone"},
    {"body": ""},
    {"subtitle": ""},
    {"source": "s" * 501},
    {"extra": 1},
]


@pytest.mark.parametrize("change", INVALID, ids=repr)
def test_both_reject_a_broken_record(change):
    record = valid_record() | change
    assert describe_errors(VALIDATOR.python, record), "the variant must be invalid to python-jsonschema"
    assert is_plain(record)
    assert not VALIDATOR.is_valid(record)


def test_both_reject_a_record_without_a_required_field():
    for name in valid_record():
        record = {k: v for k, v in valid_record().items() if k != name}
        assert describe_errors(VALIDATOR.python, record), name
        assert not VALIDATOR.is_valid(record), name


# Odd but valid to python-jsonschema, so valid to jsonschema-rs too.
EDGE_VALID = [
    {"content_type": "commentary\n"},  # Python's `$` matches before a final newline
    {"language": "en\n"},
    {"content_hash": "0" * 64 + "\n"},
    {"title": "\ufeff"},  # not whitespace to Python's re
    {"title": "Title\n"},
    {"crawled_at": "2026-11-25t10:00:00z"},
    {"crawled_at": "2026-11-25T10:00:00.123456+05:30"},
    {"published_date": None},
    {"regions": ["Türkiye", "日本", "𝔘"]},
    {"authors": []},
    {"image": None},
    {"word_count": 0},
]


@pytest.mark.parametrize("change", EDGE_VALID, ids=repr)
def test_both_accept_an_odd_but_valid_record(change):
    record = valid_record() | change
    assert describe_errors(VALIDATOR.python, record) == []
    assert VALIDATOR.is_valid(record)


# -- the schema's patterns, character by character ------------------------------


def schema_patterns(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["pattern"]} if isinstance(node.get("pattern"), str) else set()
        return found.union(*(schema_patterns(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(schema_patterns(v) for v in node))
    return set()


PATTERNS = sorted(schema_patterns(__import__("json").loads(default_schema_path().read_text())))
EXAMPLES = {
    "^https?://[^\\s]+$": "https://a.org/x",
    "^[a-z]{2,3}$": "en",
    "^[A-Za-z][A-Za-z0-9]*$": "qa2",
    "^[^<>]*\\S[^<>]*$": "A title",
    "^[^<>]*$": "A label",
    "^\\d{4}-\\d{2}-\\d{2}$": "2014-02-20",
    "^[0-9a-f]{64}$": "0" * 64,
}
# Where the two regex dialects may part: ASCII and Latin-1, and every character that is
# whitespace, a digit, a control or a format character anywhere in Unicode.
CHARS = [
    chr(c)
    for c in range(sys.maxunicode + 1)
    if not 0xD800 <= c <= 0xDFFF
    and (c < 0x250 or chr(c).isspace() or chr(c).isdecimal() or unicodedata.category(chr(c)) in ("Cc", "Cf", "Zs"))
]


def test_python_space_is_what_python_calls_whitespace():
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    assert re.findall(f"[{PYTHON_SPACE}]", every) == re.findall(r"\s", every)


def test_only_the_date_pattern_is_left_to_python():
    assert [p for p in PATTERNS if native_pattern(p) is None] == ["^\\d{4}-\\d{2}-\\d{2}$"]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_schema_pattern_matches_as_in_python(pattern):
    assert pattern in EXAMPLES, "add an example string for the new pattern"
    rs = fast_validator({"type": "string", "pattern": pattern}, CHECKER)
    base = EXAMPLES[pattern]
    samples = [base, base + "\n", base + "\n\n", "\n" + base]
    for c in CHARS:
        samples += [c, base + c, c + base, base[:1] + c + base[1:], c + base[1:]]
    wrong = [s for s in samples if rs.is_valid(s) != bool(re.search(pattern, s))]
    assert not wrong, wrong[:10]


@pytest.mark.parametrize(
    "pattern",
    ["a.b", "\\w+", "\\d", "[\\d]", "\\bx", "(?i)x", "(?=a)b", "x{,2}", "[]a]", "a$|b", "[^\\S]", "a++", "\\Z"],
)
def test_a_pattern_that_may_read_differently_is_left_to_python(pattern):
    assert native_pattern(pattern) is None
    validator = fast_validator({"type": "string", "pattern": pattern}, CHECKER)
    for text in ["a", "ab", "a\nb", "é", "x", "xx", "[a", "aa", "-", "ǅ", "Ⅻ", "a_b", "7", "٧"]:
        assert validator.is_valid(text) == bool(re.search(pattern, text)), (pattern, text)


ATOMS = ["a", "b", "-", " ", "\\s", "\\S", "[^\\s]", "[\\sa]", "[a-c]", "[^a\\s_]", "(?:a|\\s)", "\\-", "\\.", "\\$"]
PATTERN = st.builds(
    lambda anchor, parts, end: anchor + "".join(parts) + end,
    st.sampled_from(["", "^"]),
    st.lists(st.builds(str.__add__, st.sampled_from(ATOMS), st.sampled_from(["", "*", "+", "?", "{2}", "{1,2}"]))),
    st.sampled_from(["", "$"]),
)
TEXT = st.text(st.sampled_from(list("ab-_.$ \n\t\x0b\x1c\x85\xa0\ufeff\u3000١2c")), max_size=6)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(PATTERN, st.lists(TEXT, min_size=1, max_size=8))
def test_a_rewritten_pattern_matches_as_in_python(pattern, texts):
    native = native_pattern(pattern)
    assert native is not None
    rs = jsonschema_rs.Draft202012Validator({"pattern": native})
    for text in texts:
        assert rs.is_valid(text) == bool(re.search(pattern, text)), (pattern, native, text)


# -- formats ---------------------------------------------------------------------

URIS = [
    "https://carnegieendowment.org/posts/2014/02/deadlock?lang=en",
    "http://127.0.0.1:8080/x#frag",
    "http://[::1]/",
    "http://[::1",
    "http://a.org/%41",
    "http://a.org/%zz",
    "http://a.org/a b",
    "http://a.org/é",
    "http://a.org/<x>",
    "http://a.org/a|b",
    "http://a.org/{x}",
    "http://user:pw@a.org/",
    "http:///x",
    "http://",
    "urn:isbn:0451450523",
    "//a.org/x",
    "/relative",
    "",
    "HTTP://A.ORG/",
    "http://a.org:99999/",
    *[f"http://a.org/{c}x" for c in map(chr, range(0x200))],
]


def test_native_uri_never_accepts_what_python_rejects():
    rs = fast_validator({"format": "uri"}, CHECKER)
    assert rs is not None
    disagree = [u for u in URIS if rs.is_valid(u) != python_says({"format": "uri"}, u)]
    assert all(python_says({"format": "uri"}, u) and not rs.is_valid(u) for u in disagree), disagree
    # Known and harmless: only a trailing newline, which rfc3986-validator lets through.
    assert python_says({"format": "uri"}, "http://a.org/x\n")
    assert not rs.is_valid("http://a.org/x\n")
    assert disagree == [u for u in URIS if u.endswith("\n")]


@pytest.mark.parametrize("fmt", ["date", "date-time"])
def test_python_checks_the_other_formats(fmt):
    rs = fast_validator({"format": fmt}, CHECKER)
    samples = ["0000-01-01", "2024-02-29", "2023-02-29", "2024-01-01T23:59:60Z", "2024-01-01t00:00:00z", "x", ""]
    samples += ["0000-01-01T00:00:00Z", "2024-01-01T00:00:00Z\n", "2024-01-01\n"]
    for sample in samples:
        assert rs.is_valid(sample) == python_says({"format": fmt}, sample), sample


def test_a_value_jsonschema_rs_cannot_read_is_left_to_python():
    odd_title = valid_record() | {"title": "Dead\ud800lock"}
    odd_url = valid_record() | {"url": "https://carnegieendowment.org/\ud800"}
    for record in (odd_title, odd_url):
        assert is_plain(record)
        assert not VALIDATOR.is_valid(record)
        assert VALIDATOR.describe(record) == describe_errors(VALIDATOR.python, record)
    assert VALIDATOR.describe(odd_title) == []
    assert VALIDATOR.describe(odd_url)


def test_pattern_properties_are_rewritten_or_left_to_python_jsonschema(caplog):
    schema = {"type": "object", "patternProperties": {"^x\\s$": {"type": "integer"}}, "additionalProperties": False}
    rs = fast_validator(schema, CHECKER)
    for instance in [{"x ": 1}, {"x\x1c": 1}, {"x\ufeff": 1}, {"x \n": 1}, {"x ": "1"}, {"y": 1}]:
        assert rs.is_valid(instance) == python_says(schema, instance), instance
    assert fast_validator({"patternProperties": {"^\\w$": {}}}, CHECKER) is None
    assert "validating with python-jsonschema alone" in caplog.text


def test_format_verdicts_stay_the_same_when_values_recur():
    # The Python format checks are cached per value: a repeat must get the verdict of the first.
    validator = RecordValidator(load_schema())
    good = valid_record() | {"published_date": "2024-02-29", "crawled_at": "2026-01-02T03:04:05Z"}
    bad = valid_record() | {"published_date": "2023-02-29", "crawled_at": "2026-01-02T03:04:60Z"}
    for _ in range(3):
        assert validator.is_valid(good)
        assert not validator.is_valid(bad)
        assert not validator.is_valid(good | {"crawled_at": bad["crawled_at"]})
        assert not validator.is_valid(good | {"published_date": bad["published_date"]})
