"""The page's canonical URL, and links inside an item that name it rather than where the page was fetched.

A page served by a mirror (`http://127.0.0.1:8001/posts/...`) whose canonical URL is on
carnegieendowment.org links to `/people/x`: read against the fetched URL, that is the
mirror's address, and the same document would carry (and hash) different author URLs
on every mirror. Links are still resolved against the fetched URL, as a browser does
(a path-relative link depends on the fetched path), and only then moved from the
serving origin onto the canonical one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from ..urls import fold_path, is_site_host, normalize_url

Rebase = Callable[[str], str]


def _unchanged(url: str) -> str:
    return url


def canonical_url(canonical: str | None, fetched_url: str) -> str:
    """The normalised rel=canonical, else the fetched URL with its language and center prefixes folded."""
    if canonical and (url := normalize_url(canonical, fetched_url)):
        return url
    normalized = normalize_url(fetched_url)
    return fold_path(normalized) if normalized else fetched_url


def origin(url: str) -> str | None:
    """`scheme://host[:port]` of *url*, normalised (None when it is not an http(s) URL)."""
    normalized = normalize_url(url)
    if normalized is None:
        return None
    parts = urlsplit(normalized)
    return f"{parts.scheme}://{parts.netloc}"


def canonical_rebase(fetched_url: str, canonical_url: str) -> Rebase:
    """Moves normalised URLs on the fetched URL's origin onto the canonical URL's origin.

    Only when the canonical URL is on the site: an in-the-media page may name the
    outlet's copy as canonical, and the page's own links do not live there. Links
    to any other host, and every link of a page without a canonical URL elsewhere,
    stay as they are.
    """
    serving, target = origin(fetched_url), origin(canonical_url)
    if serving is None or target is None or serving == target or not is_site_host(urlsplit(target).hostname or ""):
        return _unchanged
    prefix = serving + "/"  # a normalised URL always has a path: the origin never runs into a longer port

    def rebase(url: str) -> str:
        return target + url[len(serving) :] if url.startswith(prefix) else url

    return rebase


def rebased(urls: Iterable[str], rebase: Rebase) -> list[str]:
    """*urls* rebased, once each: a relative link and an absolute one to the site may now be one."""
    return list(dict.fromkeys(map(rebase, urls)))
