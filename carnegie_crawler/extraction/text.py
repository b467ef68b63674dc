"""Plain-text helpers over lxml elements."""

from __future__ import annotations

import re
from collections.abc import Callable

from lxml import etree
from lxml.etree import _Element as Element

# Elements whose text is never content; libxml2 reads some (iframe, textarea, ...) as raw text,
# so markup inside them would otherwise come through as literal "<script>".
SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "template", "svg", "button", "select", "input", "iframe", "noembed",
     "noframes", "textarea", "object"}
)  # fmt: skip
BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
        "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
HEADING_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_FOOTNOTE = re.compile(r"^\W*(?:\d{1,3}|[ivxlc]{1,6}|[*†‡§])\W*$", re.IGNORECASE)


def fold(text: str) -> str:
    """Whitespace runs become one space, ends trimmed."""
    return " ".join(text.split())


def clean(value: object) -> str:
    """Collapse whitespace and trim; non-strings become ''."""
    if not isinstance(value, str):
        return ""
    return fold(value)


def tag(el: object) -> str:
    """Lower-case tag name, '' for comments and processing instructions."""
    t = el.tag  # type: ignore[attr-defined]
    return t if isinstance(t, str) else ""


def is_footnote_marker(el: Element) -> bool:
    return tag(el) == "sup" and bool(_FOOTNOTE.match("".join(el.itertext())))


def element_text(el: Element, skip: Callable[[Element], bool] | None = None) -> str:
    """Visible text of *el*, whitespace-collapsed, without scripts or footnote markers ('' for a comment)."""
    return walk_text(el, skip) if tag(el) else ""


def walk_text(el: Element, skip: Callable[[Element], bool] | None = None) -> str:
    """`element_text` by walking the subtree, for any element (not a comment).

    A loop over an explicit stack: iterative, so a hostile page that nests thousands
    of elements cannot overflow the recursion limit.
    """
    parts: list[str] = []
    if not _enter(el, parts, skip):
        return ""
    nodes = [el]
    children = [iter(el)]
    while children:
        child = next(children[-1], None)
        if child is None:  # the last child is done: close the element
            children.pop()
            node = nodes.pop()
            if node.tag in BLOCK_TAGS:
                parts.append(" ")
            if node is not el and node.tail:
                parts.append(node.tail)
        elif isinstance(child.tag, str) and _enter(child, parts, skip):
            nodes.append(child)
            children.append(iter(child))
        elif child.tail:  # a comment, or a skipped element: only the text after it counts
            parts.append(child.tail)
    return clean("".join(parts))


def _enter(node: Element, parts: list[str], skip: Callable[[Element], bool] | None) -> bool:
    """Start *node*'s text in *parts*, or say it is skipped with everything inside it."""
    name = node.tag
    if name in SKIP_TAGS or is_footnote_marker(node) or (skip is not None and skip(node)):
        return False
    if name in BLOCK_TAGS:
        parts.append(" ")
    if node.text:
        parts.append(node.text)
    return True


def html_to_text(value: str) -> str:
    """Text of a value that may carry markup (metadata values, meta content)."""
    value = clean(value)
    if "<" not in value and "&" not in value:
        return value
    try:
        fragment = etree.fromstring(f"<div>{value}</div>", etree.HTMLParser())
    except (etree.ParserError, ValueError):
        return clean(re.sub(r"<[^>]*>", " ", value))
    if fragment is None:
        return ""
    body = fragment.find(".//div")
    return element_text(body) if body is not None else ""


def heading_level(el: Element) -> int:
    name = tag(el)
    return int(name[1]) if name in HEADING_TAGS else 7
