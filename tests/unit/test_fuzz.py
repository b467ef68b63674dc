"""Fuzzing: reconstructed pages, damaged at random, never make extraction raise.

Every example starts from a reconstructed page and breaks it the way the web does: a
download cut short (even inside a multi-byte character), markup lost, repeated
or moved, hostile fragments pasted anywhere, a metadata block with the wrong
types. Whatever arrives, `extract_from_html` returns an item, and the schema
either accepts it or rejects it precisely: every error names a field of the
record and says what is wrong with it.

A failing property prints the specimen and the mutations (`Case(...)`), not
the whole page, so the example can be replayed by hand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from carnegie_crawler.extraction import extract_from_html
from carnegie_crawler.schema import describe_errors, load_validator
from tests.helpers import PAGES, fixture_cases, load_expected

VALIDATOR = load_validator()
SPECIMENS = {
    name: ((PAGES / f"{name}.html").read_bytes(), load_expected(name)["fetched_url"]) for name in fixture_cases()
}
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.generate, Phase.shrink],  # no explain phase: its report is about twisted
)
TEXT_FIELDS = ("title", "subtitle", "body")
_PATH_PART = re.compile(r"\.([A-Za-z_]\w*)|\[(\d+)\]")


# -- properties -------------------------------------------------------------


def resolves(record: dict[str, Any], path: str) -> bool:
    """`$.authors[0].name` points at a value that exists in *record*."""
    if not path.startswith("$"):
        return False
    node: Any = record
    rest = path[1:]
    while rest:
        match = _PATH_PART.match(rest)
        if match is None:
            return False
        key, index = match.groups()
        if key is not None:
            if not isinstance(node, dict) or key not in node:
                return False
            node = node[key]
        else:
            if not isinstance(node, list) or int(index) >= len(node):
                return False
            node = node[int(index)]
        rest = rest[match.end() :]
    return True


def check_extraction(html: str | bytes, url: str) -> None:
    """Extract (it must not raise) and check every property of the result."""
    record = asdict(extract_from_html(html, url))
    for error in describe_errors(VALIDATOR, record):
        # A precise rejection: it names a field that is in the record, and says what is wrong.
        assert error["path"].startswith("$."), error
        assert resolves(record, error["path"]), error
        assert error["message"].strip(), error
    for key in TEXT_FIELDS:
        text = record[key]
        assert text is None or isinstance(text, str), (key, text)
        if text:
            assert "<script" not in text.lower(), f"script markup leaked into {key}: {text[:300]!r}"
            assert "\x00" not in text, f"a NUL byte leaked into {key}: {text[:300]!r}"
    body = record["body"]
    assert record["word_count"] == (len(body.split()) if body else 0)
    assert record["url"].startswith(("http://", "https://")), record["url"]
    assert record["fetched_url"] == url


# -- hostile fragments --------------------------------------------------------

LONG = 100_000
DEPTH = 3000
# Script, bare and in the places where browsers never show their content.
SCRIPTS = [
    b"<script>alert(1)</script>",
    b"<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    b"<script>document.write('<h1>Fake title</h1><p>' + 'x'.repeat(200) + '</p>')</script>",
    b"<p><script>alert(1)</script>Text after a script, in the middle of a paragraph.</p>",
    b"<h1><script>alert(1)</script></h1>",
    b"<script>alert(1)",  # never closed: swallows the rest of the page
    b'<iframe src="https://evil.example/"><script>alert(1)</script></iframe>',
    b"<noembed><script>alert(1)</script></noembed>",
    b"<noframes><script>alert(1)</script></noframes>",
    b"<textarea><script>alert(1)</script></textarea>",
    b"<noscript><script>alert(1)</script></noscript>",
    b"<template><script>alert(1)</script></template>",
    b"<svg><script>alert(1)</script></svg>",
    b"<math><script>alert(1)</script></math>",
    b"<!-- <script>alert(1)</script> -->",
    b"<![CDATA[<script>alert(1)</script>]]>",
    b"<style>p{}</style><script>alert(1)</script>",
    b"&lt;script&gt;alert(1)&lt;/script&gt;",  # markup once a head value is decoded
]
# Links and URLs that are not http(s), or not URLs at all.
URLS = [
    b'<a href="javascript:alert(1)">Read more</a>',
    b'<a href=" JaVaScRiPt:alert(1)">Jane Doe</a>',
    b'<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data link</a>',
    b'<a href="mailto:someone@example.org">someone@example.org</a>',
    b'<a href="http://[oops">broken</a>',
    b'<a href="https://carnegieendowment.org/people/[oops">Jane Doe</a>',
    b'<a href="http://[::1]/people/jane-doe">Jane Doe</a>',
    b'<a href="https://[2001:db8::1]:8443/topics/security">Security</a>',
    b'<a href="http://example.org:99999/">bad port</a>',
    b'<a href="http://exa mple.org/2024/01/x">space in host</a>',
    b'<a href="https://carnegieendowment.org/posts/2024/01/%zz%">bad escape</a>',
    b'<link rel="canonical" href="http://[oops">',
    b'<link rel="canonical" href="http://[::1]/posts/2024/01/x">',
    b'<link rel="canonical" href="javascript:alert(1)">',
    b'<link rel="canonical" href="mailto:someone@example.org">',
    b'<link rel="canonical" href="data:text/html,hi">',
    b'<link rel="canonical" href="">',
    b'<img src="http://[oops" alt="hero">',
    b'<img src="javascript:alert(1)">',
    b'<meta property="og:image" content="data:image/png;base64,AAAA">',
    b'<meta property="og:image" content="http://[oops">',
]
# Very long values, deep nesting.
HUGE = [
    b'<a href="/topics/' + b"a" * LONG + b'">Long link</a>',
    b'<meta property="og:title" content="' + b"T" * LONG + b'">',
    b'<img src="https://carnegieendowment.org/' + b"i" * LONG + b'.jpg">',
    b"<p>" + b"word " * (LONG // 5) + b"</p>",
    b"<h1>" + b"x" * LONG + b"</h1>",
    b"<p>" + b"y" * LONG + b"</p>",
    b"<div>" * DEPTH + b"<p>deep text</p>" + b"</div>" * DEPTH,
    b"<div>" * DEPTH,
    b"<span><b><i>" * (DEPTH // 3),
]
# NUL and control characters, invalid UTF-8, odd entities.
BYTES = [
    b"\x00",
    b"<h1>\x00</h1>",
    b"<p>a\x00b\x01c\x02d\x0be\x0cf\x0eg\x1bh\x7fi</p>",
    b"\x1b[31m\x08\x07",
    b"\xff\xfe",
    b"\xc3\x28",
    b"\xed\xa0\x80",  # an encoded surrogate
    b"\xf4\x90\x80\x80",  # beyond U+10FFFF
    b"\xc0\xaf",  # overlong
    b"\xe2\x82",  # a character cut short
    b"<h1>\xe2\x82</h1>",
    b"\xef\xbb\xbf",  # a BOM in the middle
    b"&#0;",
    b"&#xD800;",
    b"&#xDFFF;&#55357;",
    b"&amp;#x;",
    b"&#x110000;",
    b"&#99999999999;",
    b"&#;&#x;&;&nbsp&bogus;",
    b"<h1>&#0;&#xD800;</h1>",
    b'<meta property="og:title" content="&#0;&#xD800;">',
]
# Head values and document structure.
STRUCTURE = [
    b'<meta property="og:title" content="<script>alert(1)</script>">',
    b'<meta property="og:title" content="   ">',
    b'<meta property="og:title" content="CO<sub>2</sub> and <em>you</em>">',
    b'<meta property="og:title" content="Cutting CO<sup>2</sup> by half<sup>1</sup>">',
    b'<meta name="description" content="&lt;script&gt;alert(1)&lt;/script&gt;">',
    b'<meta property="article:published_time" content="2024-02-30T00:00:00Z">',
    b'<html lang="x-klingon-\x00">',
    b'<?xml version="1.0" encoding="utf-8"?>',
    b'<meta charset="utf-16">',
    b'<meta http-equiv="Content-Type" content="text/html; charset=shift_jis">',
    b"<!DOCTYPE html><html><head></head><body>",
    b"</body></html>",
    b"<h1></h1><h1>   </h1>",
    b"<main><article><h1>Second title</h1></article></main>",
    b"<",
    b"</",
    b'<p class="',
    b"<!--",
]
# Metadata blocks that are not what the site writes.
BLOCKS = [
    b'<script type="application/json">{"authors": ["A", "type": </script>',
    b'<script type="application/json">{"authors": "Jane Doe", "type": "commentary", "topics": [1, 2, 3]}</script>',
    b'<script type="application/json">{"authors": null, "type": null, "centers": null}</script>',
    b'<script type="application/json">[{"authors": ["A"], "type": "commentary"}]</script>',
]
FRAGMENTS = [*SCRIPTS, *URLS, *HUGE, *BYTES, *STRUCTURE, *BLOCKS]
# A value the metadata block may carry, of any JSON type; strings include markup and broken surrogates.
NASTY_STRINGS = st.sampled_from(
    [
        "",
        " ",
        "Jane Doe, Jr.",
        "Commentary",
        "<script>alert(1)</script>",
        "<b>Bold</b> name",
        "Footnote<sup>1</sup>",
        "&lt;script&gt;",
        "a\x00b",
        "Ann Bee \ud83d",  # cut in the middle of an emoji's surrogate pair (JavaScript slices UTF-16)
        "\udc00",
    ]
)
JSON_SCALARS = st.one_of(
    NASTY_STRINGS,  # half the time
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=20),
        st.integers(500, 700).map("x".__mul__),  # longer than a label may be
    ),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["name", "title", "url", "x"]), inner),
    max_leaves=8,
)
BLOCK_KEYS = [
    "authors", "type", "centers", "primaryCenter", "topics", "regions", "programs", "projects", "collections", "blog",
]  # fmt: skip
METADATA = st.dictionaries(st.sampled_from(BLOCK_KEYS), JSON_VALUES, min_size=2)


@st.composite
def metadata_json(draw: st.DrawFn) -> bytes:
    """A metadata block's JSON with arbitrary types (escaped as the site does), now and then cut short."""
    text = json.dumps(draw(METADATA)).encode("ascii")
    if draw(st.integers(0, 3)) == 3:  # rare, and shrinks away
        text = text[: draw(st.integers(0, len(text)))]
    return text


@st.composite
def metadata_script(draw: st.DrawFn) -> bytes:
    return b'<script type="application/json">' + draw(metadata_json()) + b"</script>"


ANY_FRAGMENT = st.one_of(
    st.sampled_from(FRAGMENTS),
    metadata_script(),
    st.binary(min_size=1, max_size=32).map(lambda b: bytes(c % 32 for c in b)),  # control characters
    st.binary(min_size=1, max_size=64),
)


# -- mutations ----------------------------------------------------------------


class Case:
    """A mutated specimen; its repr says how it was made (replayable by hand), not the whole page."""

    def __init__(self, specimen: str, steps: list[str], html: str | bytes, url: str) -> None:
        self.specimen, self.steps, self.html, self.url = specimen, steps, html, url

    def __repr__(self) -> str:
        return f"Case({self.specimen!r}, steps={self.steps!r})"


def _short(fragment: bytes) -> str:
    return repr(fragment) if len(fragment) <= 100 else f"{fragment[:60]!r}... ({len(fragment)} bytes)"


# Just inside what the extractor reads: the title, text blocks, head values and attribute values.
_INSIDE_TEXT = re.compile(
    rb"<(?:h1|h2|h3|title|p|li|blockquote|td|figcaption)\b[^>]*>"
    rb"|\bcontent=\""
    rb"|<script[^>]*application/json[^>]*>",
    re.IGNORECASE,
)
_BLOCK_SCRIPT = re.compile(rb"(<script[^>]*application/json[^>]*>)(.*?)(</script>)", re.IGNORECASE | re.DOTALL)


def inside_text(html: bytes) -> st.SearchStrategy[int]:
    return st.sampled_from([0, *(m.end() for m in _INSIDE_TEXT.finditer(html))])


def anywhere(html: bytes) -> st.SearchStrategy[int]:
    """Any byte offset (even inside a tag or a character), any tag boundary, or just inside some text."""
    options = [inside_text(html), st.integers(0, len(html))]
    if boundaries := [m.end() for m in re.finditer(rb">", html)]:
        options.append(st.sampled_from(boundaries))
    return st.one_of(options)


Mutation = Callable[[bytes], st.SearchStrategy[tuple[bytes, str]]]


@st.composite
def cut(draw: st.DrawFn, html: bytes) -> tuple[bytes, str]:
    """A download cut short, sometimes inside a multi-byte UTF-8 character."""
    inside_char = [m.start() for m in re.finditer(rb"[\x80-\xbf]", html)]
    at = draw(st.sampled_from(inside_char) if inside_char and draw(st.booleans()) else st.integers(0, len(html)))
    return html[:at], f"cut at byte {at} of {len(html)}"


@st.composite
def rearrange(draw: st.DrawFn, html: bytes) -> tuple[bytes, str]:
    """Delete, duplicate or swap runs of tag-delimited chunks, or drop closing tags."""
    chunks = re.split(rb"(?=<)", html)  # each chunk starts with `<`, but maybe the first
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "drop closing tags"]))
    if kind == "drop closing tags":
        closing = [i for i, c in enumerate(chunks) if c.startswith(b"</")]
        if not closing:
            return html, "no closing tag to drop"
        picked = sorted(draw(st.lists(st.sampled_from(closing), min_size=1, max_size=100, unique=True)))
        dropped = [chunks[i].partition(b">")[0] + b">" for i in picked]
        for i in picked:
            chunks[i] = chunks[i].partition(b">")[2]
        return b"".join(chunks), f"drop closing tags {dropped!r} (chunks {picked})"
    n = len(chunks)
    start = draw(st.integers(0, n - 1))
    length = draw(st.integers(1, min(40, n - start)))
    run = chunks[start : start + length]
    if kind == "delete":
        del chunks[start : start + length]
        return b"".join(chunks), f"delete chunks {start}..{start + length - 1}"
    if kind == "duplicate":
        at = draw(st.integers(0, n))
        chunks[at:at] = run
        return b"".join(chunks), f"copy chunks {start}..{start + length - 1} to chunk {at}"
    other = draw(st.integers(0, n - 1))
    chunks[start], chunks[other] = chunks[other], chunks[start]
    return b"".join(chunks), f"swap chunks {start} and {other}"


def insert(
    fragments: st.SearchStrategy[bytes] = ANY_FRAGMENT,
    where: Callable[[bytes], st.SearchStrategy[int]] = anywhere,
) -> Mutation:
    @st.composite
    def mutation(draw: st.DrawFn, html: bytes) -> tuple[bytes, str]:
        fragment = draw(fragments)
        at = draw(where(html))
        return html[:at] + fragment + html[at:], f"insert {_short(fragment)} at byte {at}"

    return mutation


@st.composite
def replace_metadata(draw: st.DrawFn, html: bytes) -> tuple[bytes, str]:
    """The page's own metadata block, with values of the wrong type (or broken JSON)."""
    match = _BLOCK_SCRIPT.search(html)
    if match is None:
        return html, "no metadata block to replace"
    new = draw(metadata_json())
    return html[: match.start(2)] + new + html[match.end(2) :], f"replace the metadata block with {_short(new)}"


@st.composite
def cases(draw: st.DrawFn, mutations: tuple[Mutation, ...], max_steps: int = 1) -> Case:
    """A specimen page, mutated one to *max_steps* times, given as bytes or (now and then) as decoded text."""
    name = draw(st.sampled_from(sorted(SPECIMENS)))
    html, url = SPECIMENS[name]
    steps = []
    for mutation in draw(st.lists(st.sampled_from(mutations), min_size=1, max_size=max_steps)):
        html, step = draw(mutation(html))
        steps.append(step)
    page: str | bytes = html
    if draw(st.integers(0, 3)) == 3:  # rare, and shrinks away
        page = html.decode("utf-8", errors="replace")
        steps.append("decode to str, invalid UTF-8 replaced")
    return Case(name, steps, page, url)


# -- tests --------------------------------------------------------------------


@settings(FUZZ, max_examples=100)
@given(case=cases((cut, rearrange, insert(), replace_metadata), max_steps=4))
def test_mutated_page_gives_valid_item_or_precise_rejection(case):
    check_extraction(case.html, case.url)


@settings(FUZZ, max_examples=60)
@given(case=cases((cut,)))
def test_truncated_download(case):
    check_extraction(case.html, case.url)


@settings(FUZZ, max_examples=80)
@given(case=cases((rearrange,), max_steps=3))
def test_lost_repeated_and_moved_markup(case):
    check_extraction(case.html, case.url)


@settings(FUZZ, max_examples=100)
@given(case=cases((insert(st.sampled_from(SCRIPTS), inside_text),), max_steps=2))
def test_script_in_title_text_or_head_values_never_reaches_the_item(case):
    check_extraction(case.html, case.url)


@settings(FUZZ, max_examples=80)
@given(case=cases((insert(st.sampled_from(URLS), inside_text), insert(st.sampled_from(URLS))), max_steps=2))
def test_links_that_are_not_http_urls(case):
    check_extraction(case.html, case.url)


@settings(FUZZ, max_examples=20)
@given(case=cases((insert(st.sampled_from(HUGE)),)))
def test_very_long_values_and_deep_nesting(case):
    check_extraction(case.html, case.url)


@settings(FUZZ, max_examples=60)
@given(case=cases((insert(st.sampled_from(BYTES)),), max_steps=3))
def test_nul_control_characters_invalid_utf8_and_entities(case):
    check_extraction(case.html, case.url)


@settings(FUZZ, max_examples=40)
@given(case=cases((insert(st.sampled_from(STRUCTURE), inside_text), insert(st.sampled_from(STRUCTURE))), max_steps=2))
def test_odd_head_values_and_document_structure(case):
    check_extraction(case.html, case.url)


@settings(FUZZ, max_examples=60)
@given(case=cases((replace_metadata, insert(metadata_script() | st.sampled_from(BLOCKS))), max_steps=2))
def test_metadata_block_with_wrong_types(case):
    """The page's own block holds odd JSON, or a second block (odd or broken) competes with it."""
    check_extraction(case.html, case.url)


@settings(FUZZ, max_examples=100)
@given(html=st.binary(max_size=2000) | st.text(max_size=500))
def test_random_bytes_as_a_whole_page(html):
    check_extraction(html, "https://carnegieendowment.org/posts/2024/01/x?lang=en")
