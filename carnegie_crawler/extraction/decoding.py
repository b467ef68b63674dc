"""From bytes to an lxml tree, surviving wrong charsets and documents that are not documents."""

from __future__ import annotations

from lxml import etree
from lxml.etree import _Element as Element
from scrapy.http import TextResponse

_LATIN = frozenset({"cp1252", "windows-1252", "iso-8859-1", "latin-1", "latin1", "ascii"})
# lxml's plain HTML parser: `lxml.html` would build the same tree, but calls back into Python
# to pick a class for every element the extraction touches (about 6% of its time).
# huge_tree, as Scrapy's selectors have it: no cap on depth or text size for an odd page.
# collect_ids off: nothing looks elements up by id, so the parser need not index them.
_PARSER = etree.HTMLParser(huge_tree=True, collect_ids=False)


def parse_html(html: str | bytes) -> Element:
    """An lxml tree for any input; an empty or unparseable page gives an empty document."""
    try:
        root = etree.fromstring(html, _PARSER)
    except ValueError:  # a str that declares its own encoding (<?xml encoding=...?>)
        if isinstance(html, str):
            return parse_html(html.encode("utf-8"))
        root = None
    except etree.XMLSyntaxError:
        root = None
    if root is None:
        return etree.fromstring("<html><body></body></html>", _PARSER)
    return root


def redecode(response: TextResponse) -> str | None:
    """Better text for a page whose declared charset is wrong, or None to keep Scrapy's decoding.

    UTF-8 declared but windows-1252 sent gives replacement characters; windows-1252
    or Latin-1 declared but UTF-8 sent gives mojibake ("TÃ¼rkiye").
    """
    encoding = (response.encoding or "").lower().replace("_", "-")
    body = response.body
    if encoding in ("utf-8", "utf8") and "\ufffd" in response.text:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return body.decode("cp1252", errors="replace")
    if encoding in _LATIN and not body.isascii():
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None
