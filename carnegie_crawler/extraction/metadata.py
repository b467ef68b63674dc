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


@dataclass
class MetadataBlock:
    """The metadata block, with every value coerced to the type SITE.md documents."""

    present: bool = False
    malformed: bool = False
    values: dict[str, Any] = field(default_factory=dict)

    def text(self, key: str) -> str | None:
        value = self.values.get(key)
        if isinstance(value, list):
            value = next((v for v in value if isinstance(v, str) and v.strip()), None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        return html_to_text(value) or None if isinstance(value, str) else None

    def labels(self, key: str) -> list[str]:
        """A list value; a bare string counts as a one-element list (never split on commas)."""
        value = self.values.get(key)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            return []
        out: list[str] = []
        for entry in value:
            if isinstance(entry, dict):
                entry = entry.get("name") or entry.get("title")
            text = html_to_text(entry) if isinstance(entry, str) else ""
            if text and text not in out:
                out.append(text)
        return out


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
        return MetadataBlock(present=True, values=best)
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
