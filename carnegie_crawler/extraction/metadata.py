"""The embedded metadata block and the <head> metadata.

Both survive a redesign far better than visible markup, so they are read first.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from lxml.etree import _Element as Element

from .text import clean, html_to_text

logger = logging.getLogger(__name__)

# Keys that identify the site's metadata block among other JSON scripts.
_BLOCK_KEYS = frozenset({"authors", "type", "centers", "primaryCenter", "topics", "regions", "programs"})
_MAX_BLOCK_CHARS = 1_000_000
# The keys extraction reads, by the type docs/site.md documents ("Metadata block"); a value of another type is dropped,
# so the field is read from the page as if the key were missing.
_TEXT_KEYS = ("type", "blog", "primaryCenter")
_LIST_KEYS = ("authors", "centers", "collections", "programs", "projects", "regions", "topics")


@dataclass
class MetadataBlock:
    """The metadata block: values of the documented type only, and the keys whose value was not."""

    present: bool = False
    malformed: bool = False
    values: dict[str, Any] = field(default_factory=dict)
    wrong_typed: list[str] = field(default_factory=list)

    def text(self, key: str) -> str | None:
        value = self.values.get(key)
        return html_to_text(value) or None if isinstance(value, str) else None

    def labels(self, key: str) -> list[str]:
        """A list value's names (strings, or objects with a name or title), once each."""
        value = self.values.get(key)
        if not isinstance(value, list):
            return []
        out: list[str] = []
        for entry in value:
            label = _label(entry)
            text = html_to_text(label) if label is not None else ""
            if text and text not in out:
                out.append(text)
        return out


def wrong_typed_keys(values: dict[str, Any]) -> list[str]:
    """The keys extraction reads whose value is not of the documented type, in the block's order.

    Empty strings and lists mean "none" whatever the key (docs/site.md, "Metadata block"), and so does null:
    none of them is wrong. A string for a list is wrong even when it could be read as
    one name: "A, B" may be two names or "Thomas Graham, Jr.", and only the page can tell.
    """
    return [
        key
        for key, value in values.items()
        if (key in _TEXT_KEYS and not _is_text(value)) or (key in _LIST_KEYS and not _is_list(value))
    ]


def _is_none(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def _is_text(value: Any) -> bool:
    return isinstance(value, str) or _is_none(value)


def _is_list(value: Any) -> bool:
    """A list of strings or `{name|title: string}` objects; a list with some junk in it still counts."""
    if _is_none(value):
        return True
    return isinstance(value, list) and any(_label(entry) is not None for entry in value)


def _label(entry: Any) -> str | None:
    if isinstance(entry, dict):
        entry = entry.get("name") or entry.get("title")
    return entry if isinstance(entry, str) else None


def read_metadata_block(root: Element) -> MetadataBlock:
    """The JSON script that holds the most of the block's keys (analytics scripts hold few)."""
    malformed = False
    best: dict[str, Any] | None = None
    best_score = 0
    for script in root.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/json":
            continue
        raw = (script.text or "").strip()
        if not raw or len(raw) > _MAX_BLOCK_CHARS:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            # Only a script that looks like ours counts as a malformed block.
            malformed = malformed or sum(f'"{key}"' in raw for key in _BLOCK_KEYS) >= 2
            continue
        score = len(_BLOCK_KEYS.intersection(data)) if isinstance(data, dict) else 0
        if score > best_score:
            best, best_score = _scrub(data), score
    if best is not None and best_score >= 2:
        wrong = wrong_typed_keys(best)
        values = {key: value for key, value in best.items() if key not in wrong}
        return MetadataBlock(present=True, values=values, wrong_typed=wrong)
    return MetadataBlock(malformed=malformed)


def _scrub(value: Any) -> Any:
    """JSON may carry lone surrogates ("\\ud83d": half an emoji); they cannot be written as UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    return value


@dataclass
class HeadMeta:
    lang: str | None
    title: str | None
    description: str | None
    canonical: str | None
    og_title: str | None
    og_description: str | None
    og_image: str | None
    published_time: str | None


def read_head(root: Element) -> HeadMeta:
    metas: dict[str, str] = {}
    canonical = None
    title_el = None
    # One walk for the three tags (each walk of the tree costs about as much as a dozen lookups),
    # over the whole page: microdata puts <meta itemprop> in the body.
    for el in root.iter("meta", "link", "title"):
        if el.tag == "meta":
            key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
            content = el.get("content")
            if key and content and key not in metas:
                metas[key] = content
        elif el.tag == "link":
            if canonical is None and el.get("href") and "canonical" in (el.get("rel") or "").lower().split():
                canonical = el.get("href", "").strip()
        elif title_el is None:
            title_el = el
    return HeadMeta(
        lang=clean(root.get("lang") or root.get("xml:lang")) or None,
        title=html_to_text("".join(title_el.itertext())) if title_el is not None else None,
        description=html_to_text(metas.get("description", "")) or None,
        canonical=canonical,
        og_title=html_to_text(metas.get("og:title", "")) or None,
        og_description=html_to_text(metas.get("og:description", "")) or None,
        og_image=clean(metas.get("og:image")) or None,
        published_time=clean(metas.get("article:published_time") or metas.get("datepublished") or metas.get("date"))
        or None,
    )
