"""URL normalisation shared by the spider, the extractor and the dedupe key.

One function decides what "the same URL" means, so that the request
dupefilter, the canonical ``url`` field and the dedupe key never disagree.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, unquote_plus, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url, url_query_cleaner

SITE_HOST = "carnegieendowment.org"
CENTERS = ("middle-east", "russia-eurasia", "india", "europe", "china")
LANGUAGES = ("en", "ar", "ru", "zh", "fr")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ABSOLUTE = re.compile(r"(?i)https?://[^/?#]")  # a scheme and a host: urljoin would return it as it is
_LANG_PREFIX = re.compile(r"^/(?:{})(?=/)".format("|".join(LANGUAGES)))
_CENTER_POSTS = re.compile(r"^/(?:{})/posts/".format("|".join(CENTERS)))
# Sections of the site that are never publications (docs/site.md, "Not publications").
_NON_PUBLICATION = frozenset({"people", "regions", "topics", "programs", "projects", "experts", "search"})
# Every publication path docs/site.md lists ("URLs") is dated, an old `-pub-NNNNN` address, or a
# podcast episode; listings (`/middle-east/diwan`, `/events`) are not.
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
    ``https://carnegieendowment.org`` (docs/site.md, "URLs").
    """
    url = url.strip()
    if base and url.startswith("/") and not url.startswith("//"):
        # A path-absolute href ("/posts/...", as the site writes its links) keeps only the scheme
        # and host of the page it sits on (RFC 3986, 5.2.2), so it resolves against the page's
        # origin: the same card on every page then shares one cache entry.
        base = _origin(base)
    elif _ABSOLUTE.match(url):
        base = None  # scheme and host given: the page it sits on changes nothing
    return _normalize(url, base)


@lru_cache(maxsize=256)
def _origin(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return f"{parts.scheme}://{parts.netloc}/" if parts.scheme and parts.netloc else url


# Cached on (href, origin) rather than (href, page): the same cards and author links recur on page
# after page, and w3lib's canonicalize_url and urljoin are the costly parts. On 400 pages of the
# 2,000-page benchmark mirror, extraction took 3.37 ms a page with the cache keyed on the page,
# and 2.2-2.3 ms keyed here. Bounded: recent pages' links only.
@lru_cache(maxsize=4096)
def _normalize(url: str, base: str | None) -> str | None:
    try:
        parts = urlsplit(urljoin(base, url) if base else url)
        port = parts.port
    except ValueError:  # e.g. "http://[oops" in a page's markup
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:  # no host: "http://", "https://../x"
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if is_site_host(host):
        scheme, netloc = "https", SITE_HOST
    else:
        netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    url = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    url = url_query_cleaner(url, _tracking_params(parts.query), remove=True, unique=False)
    try:
        return canonicalize_url(url)
    except ValueError:  # w3lib re-parses the URL and may refuse what urlsplit let through ("//.//:.")
        return None


def _tracking_params(query: str) -> list[str]:
    """The names of the query's `utm_*` and `center` parameters, in any case, as they are written.

    `url_query_cleaner` compares names as written, so a name is decoded here only to decide.
    """
    names = (pair.partition("=")[0] for pair in query.split("&"))
    return [name for name in names if (key := unquote_plus(name).lower()) == "center" or key.startswith("utm_")]


def request_url(url: str) -> str | None:
    """The URL to request for a card link: normalised, and with no query parameter but `lang`.

    Only `?lang` selects a document (docs/site.md, "URLs"); any other parameter is at
    best noise and at worst a trap of endless variants (`?page=1`, `?page=2`, ...).
    """
    normalized = normalize_url(url)
    return url_query_cleaner(normalized, ["lang"]) if normalized else None


def fold_path(url: str) -> str:
    """Fold the language prefix and ``/<center>/posts/`` so one document has one path.

    Blog paths (``/middle-east/diwan/...``) are kept: they are the canonical form.
    """
    parts = urlsplit(url)
    path = _LANG_PREFIX.sub("", parts.path, count=1)
    path = _CENTER_POSTS.sub("/posts/", path, count=1)
    return urlunsplit(parts._replace(path=path))


def key_path(url: str) -> str:
    """The URL without host and `lang` parameter, its language and center prefixes folded."""
    parts = urlsplit(without_param(url, "lang"))
    return fold_path(parts._replace(scheme="", netloc="").geturl())


def without_param(url: str, name: str) -> str:
    return url_query_cleaner(url, [name], remove=True, unique=False, keep_fragments=True)


def query_param(url: str, name: str) -> str | None:
    for key, value in parse_qsl(urlsplit(url).query):
        if key == name:
            return value
    return None


def _segments(url: str) -> list[str]:
    """Path segments without a leading language or center prefix."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    if segments and segments[0] in LANGUAGES:
        segments = segments[1:]
    if segments and segments[0] in CENTERS:
        segments = segments[1:]
    return segments


def is_excluded_section(url: str) -> bool:
    """Bios, tags, programs, experts, search: never publications (docs/site.md, "Not publications")."""
    segments = _segments(url)
    return not segments or segments[0] in _NON_PUBLICATION


def is_publication_url(url: str) -> bool:
    """A path of a publication: dated, an old `-pub-NNNNN` address, or a podcast episode."""
    segments = _segments(url)
    return not is_excluded_section(url) and bool(_PUBLICATION_PATH.search("/" + "/".join(segments)))
