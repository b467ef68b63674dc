"""URL normalisation shared by the spider, the extractor and the dedupe key.

One function decides what "the same URL" means, so that the request
dupefilter, the canonical ``url`` field and the dedupe key never disagree.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

SITE_HOST = "carnegieendowment.org"
CENTERS = ("middle-east", "russia-eurasia", "india", "europe", "china")
LANGUAGES = ("en", "ar", "ru", "zh", "fr")
_PLAIN = re.compile(r"[A-Za-z0-9/._~-]*")
# A plain absolute URL: a plain host, a path with nothing to escape, no query but `?lang=`,
# maybe a fragment. Normalising one (without a port) only folds the host and drops the
# fragment; the key path of one without a fragment is its path as it stands (a "//" in it
# is left to urlsplit, which would read a host there).
# Groups: scheme, host, port, path, query, lang, fragment.
_SIMPLE_URL = re.compile(
    r"(https?)://([A-Za-z0-9.-]+)(:[0-9]+)?(/[A-Za-z0-9._~/-]*)?(\?(?:lang=([A-Za-z0-9._~-]*))?)?(#.*)?", re.DOTALL
)
_ABSOLUTE = re.compile(r"https?://[^/?#\s]")  # with a host: joining it to the page changes nothing
# A link to a plain path on the page's own host, at most `?lang=`, maybe a fragment:
# what joining and normalising would give is the page's origin and that path.
_SITE_PATH = re.compile(r"(/(?!/)[A-Za-z0-9._~/-]*)(?:\?lang=([A-Za-z0-9._~-]*))?(?:#.*)?", re.DOTALL)
_DROP_PARAMS = re.compile(r"^(utm_.*|center)$", re.IGNORECASE)
_LANG_PREFIX = re.compile(r"^/(?:{})(?=/)".format("|".join(LANGUAGES)))
_CENTER_POSTS = re.compile(r"^/(?:{})/posts/".format("|".join(CENTERS)))
# Sections of the site that are never publications (SITE.md, "Not publications").
_NON_PUBLICATION = frozenset({"people", "regions", "topics", "programs", "projects", "experts", "search"})
# Every publication path SITE.md lists is dated, an old `-pub-NNNNN` address, or a podcast
# episode; listings (`/middle-east/diwan`, `/events`) are not.
_PUBLICATION_PATH = re.compile(r"/\d{4}/\d{2}/[^/]|-pub-\d+|/podcasts/[^/]+/[^/]+")


def host_key(host: str) -> str:
    """Fold the host variants seen in stored URLs into one host name."""
    host = host.lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    return host


def is_site_host(host: str) -> bool:
    return host_key(host) == SITE_HOST


def normalize_url(url: str, base: str | None = None) -> str | None:
    """Return the normalised absolute form of *url*, or None if it is not http(s).

    Fragments, ``utm_*`` and ``center`` parameters are dropped, query
    parameters are sorted, and carnegieendowment.org host variants fold to
    ``https://carnegieendowment.org``.

    Most links on a page are site paths (`/topics/x?lang=en`) or absolute URLs: both
    skip the general case, which is cached per (link, page) and so rarely hits; plain
    absolute ones skip the cache too.
    """
    if (simple := _SIMPLE_URL.fullmatch(url)) and simple[3] is None and "/." not in url:
        # Card links on other pages' cards: pages seen once, so a cache would rarely hit.
        scheme, host, _, path, _, lang, _ = simple.groups()
        host = host.lower().rstrip(".")
        if is_site_host(host):
            scheme, host = "https", SITE_HOST
        absolute = f"{scheme}://{host}{path or '/'}"
        return absolute if lang is None else f"{absolute}?lang={lang}"
    if base:
        if _ABSOLUTE.match(url) and "/." not in url:
            return _normalize(url)  # the page does not matter: cached across pages
        if (ref := _SITE_PATH.fullmatch(url)) and "/." not in ref[1] and (origin := _origin(base)):
            return f"{origin}{ref[1]}?lang={ref[2]}" if ref[2] is not None else origin + ref[1]
    return _normalize(url, base)


@lru_cache(maxsize=256)
def _origin(base: str) -> str | None:
    """`scheme://host[:port]` of the normalised *base*."""
    normalized = _normalize(base)
    return normalized[: normalized.index("/", normalized.index("//") + 2)] if normalized else None


@lru_cache(maxsize=4096)  # bounded: it holds links of recent pages, not of the whole crawl
def _normalize(url: str, base: str | None = None) -> str | None:
    """`normalize_url` in general: join, split, fold the host, filter and sort the query."""
    try:
        url = urljoin(base, url.strip()) if base else url.strip()
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # e.g. "http://[oops" in a page's markup
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if is_site_host(host):
        scheme, netloc = "https", SITE_HOST
    else:
        default = {"http": 80, "https": 443}[scheme]
        netloc = host if port in (None, default) else f"{host}:{port}"
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _DROP_PARAMS.match(k)]
    path = parts.path or "/"
    if _PLAIN.fullmatch(path) and all(_PLAIN.fullmatch(k + v) for k, v in pairs):
        # The common case, nothing to escape: what canonicalize_url would return, ten times faster.
        return urlunsplit((scheme, netloc, path, urlencode(sorted(pairs)), ""))
    try:
        return canonicalize_url(urlunsplit((scheme, netloc, path, urlencode(pairs), "")))
    except ValueError:  # w3lib re-parses the URL and may refuse what urlsplit let through ("//.//:.")
        return None


@lru_cache(maxsize=4096)  # every page lists cards that other pages list too
def request_url(url: str) -> str | None:
    """The URL to request for a card link: normalised, and with no query parameter but `lang`.

    Only `?lang` selects a document (SITE.md); any other parameter is at best
    noise and at worst a trap of endless variants (`?page=1`, `?page=2`, ...).
    """
    normalized = normalize_url(url)
    if normalized is None:
        return None
    parts = urlsplit(normalized)
    lang = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k == "lang"][:1]
    return urlunsplit(parts._replace(query=urlencode(lang)))


def fold_path(url: str) -> str:
    """Fold the language prefix and ``/<center>/posts/`` so one document has one path.

    Blog paths (``/middle-east/diwan/...``) are kept: they are the canonical form.
    """
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=fold_prefixes(parts.path)))


def fold_prefixes(path: str) -> str:
    """`fold_path` for a bare path, without the urlsplit round trip."""
    path = _LANG_PREFIX.sub("", path, count=1)
    return _CENTER_POSTS.sub("/posts/", path, count=1)


def key_path(url: str) -> str:
    """The URL without host and `lang` parameter, its language and center prefixes folded."""
    simple = _SIMPLE_URL.fullmatch(url)
    if simple and simple[7] is None and "//" not in (path := simple[4] or ""):
        return fold_prefixes(path)  # what key_path_by_parts gives, for a tenth of the cost
    return key_path_by_parts(url)


def key_path_by_parts(url: str) -> str:
    """`key_path` in general, through urlsplit."""
    parts = urlsplit(without_param(url, "lang"))
    return fold_path(parts._replace(scheme="", netloc="").geturl())


def without_param(url: str, name: str) -> str:
    parts = urlsplit(url)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name])
    return urlunsplit(parts._replace(query=query))


def query_param(url: str, name: str) -> str | None:
    for key, value in parse_qsl(urlsplit(url).query):
        if key == name:
            return value
    return None


@lru_cache(maxsize=4096)  # a page asks about the same card URLs several times
def _segments(url: str) -> tuple[str, ...]:
    """Path segments without a leading language or center prefix."""
    segments = tuple(s for s in urlsplit(url).path.split("/") if s)
    if segments and segments[0] in LANGUAGES:
        segments = segments[1:]
    if segments and segments[0] in CENTERS:
        segments = segments[1:]
    return segments


@lru_cache(maxsize=4096)
def is_excluded_section(url: str) -> bool:
    """Bios, tags, programs, experts, search: sections SITE.md says are never publications."""
    segments = _segments(url)
    return not segments or segments[0] in _NON_PUBLICATION


@lru_cache(maxsize=4096)
def is_publication_url(url: str) -> bool:
    """A path of a publication: dated, an old `-pub-NNNNN` address, or a podcast episode."""
    segments = _segments(url)
    return not is_excluded_section(url) and bool(_PUBLICATION_PATH.search("/" + "/".join(segments)))
