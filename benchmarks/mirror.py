"""Generate a local mirror of N interlinked publication pages, laid out as SITE.md describes.

    python benchmarks/mirror.py OUT_DIR [--pages 2000] [--seed 7]

The directory follows the dev server's layout (`carnegie_crawler/devserver.py`):
`pages/<path>.html` answers `/<path>?lang=en`, plus `robots.txt`. `mirror.json` lists
every page path and the start paths.

Every page carries the whole anatomy: metadata block, `<head>` metadata, hero with
credit, eyebrow, h1, dek, share widget, byline, date line, a body of several
paragraphs, author cards with "Recent Work", tags, disclaimer, "More Work from
<center>", newsletter and footer. Sizes spread over 10-60 KB. The first More Work
card of each page points to the next page of a shuffled ring, so every page is
reachable from any start page; the other cards point to random pages. The output
depends only on N and the seed.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

SITE = "https://carnegieendowment.org"
ENDOWMENT = "Carnegie Endowment for International Peace"
MIDDLE_EAST = "Malcolm H. Kerr Carnegie Middle East Center"
RUSSIA = "Carnegie Russia Eurasia Center"
DISCLAIMER = (
    "Carnegie does not take institutional positions on public policy issues; the views represented herein are "
    "those of the author(s) and do not necessarily reflect the views of Carnegie, its staff, or its trustees."
)

# (path prefix, center section, blog, center name, share of pages)
SECTIONS = [
    ("/posts", "", None, ENDOWMENT, 0.55),
    ("/middle-east/diwan", "middle-east", "Diwan", MIDDLE_EAST, 0.25),
    ("/russia-eurasia/politika", "russia-eurasia", "Carnegie Politika", RUSSIA, 0.12),
    ("/middle-east/posts", "middle-east", None, MIDDLE_EAST, 0.08),
]
# (metadata type, printed label, share of pages)
TYPES = [("commentary", "Commentary", 0.82), ("qa", "Q&A", 0.08), ("article", "Article", 0.07)]
TYPES += [("pressRelease", "Press Release", 0.03)]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

FIRST = "Alexey Michael Zaha Nathan Maha Yezid Marwan Sarah Thomas Alexandra Andrew Aaron Kim Dmitri Hanna Rosa"
FIRST += " Lina Omar Karim Elena Tatiana Paul Jessica Frederic Joseph Amr Perry Eugene Nicole Ibrahim"
LAST = "Malashenko Young Hassan Brown Yahya Sayigh Muasher Yerkes Graham Prokopenko Weiss Miller Ghattas Trenin"
LAST += " Notte Haddad Kamel Hamzawy Stanovaya Gabuev Wehrey Cook Grand Aboul-Enein Rumer Wong Kassir Bahout"
ROLES = [
    "Senior Fellow, Middle East Program",
    "Editor, Diwan",
    "Nonresident Scholar, Russia and Eurasia Program",
    "Director, Malcolm H. Kerr Carnegie Middle East Center",
    "Senior Fellow, Carnegie Russia Eurasia Center",
    "Fellow, Democracy, Conflict, and Governance Program",
]
TOPICS = ["Security", "Global Governance", "Foreign Policy", "Economy", "Military", "Political Reform", "Energy"]
TOPICS += ["Climate Change", "Democracy", "Nuclear Policy", "Technology", "Trade"]
REGIONS = ["Middle East", "Syria", "Lebanon", "Iran", "Iraq", "Egypt", "Türkiye", "Russia", "Ukraine"]
REGIONS += ["United States", "Western Europe", "France", "Gulf", "Israel", "Palestine"]
PROJECTS = ["Eurasia in Transition", "Arab Awakening", "Reimagining U.S. Grand Strategy", "Sada"]

WORDS = [
    "government",
    "opposition",
    "negotiations",
    "regional",
    "external",
    "actors",
    "conflict",
    "resolution",
    "position",
    "relations",
    "complicated",
    "round",
    "failed",
    "meeting",
    "dialogue",
    "truce",
    "supply",
    "medicine",
    "besieged",
    "parties",
    "composition",
    "interim",
    "authorities",
    "counterterrorism",
    "handshake",
    "directions",
    "third",
    "fruitless",
    "goal",
    "envoy",
    "compromise",
    "impossible",
    "communication",
    "regime",
    "role",
    "especially",
    "cooperation",
    "important",
    "mutually",
    "acceptable",
    "agreement",
    "winter",
    "interaction",
    "fragile",
    "sense",
    "pressure",
    "concessions",
    "president",
    "situation",
    "exchange",
    "demands",
    "insists",
    "priority",
    "radical",
    "segment",
    "foreign",
    "mercenaries",
    "fighters",
    "country",
    "impasse",
    "options",
    "strike",
    "political",
    "preferred",
    "claimed",
    "lives",
    "missing",
    "protracted",
    "depends",
    "improvement",
    "neither",
    "pessimists",
    "comparing",
    "perennial",
    "economy",
    "sanctions",
    "budget",
    "revenues",
    "inflation",
    "central",
    "bank",
    "currency",
    "reserves",
    "military",
    "procurement",
    "elections",
    "parliament",
    "reform",
    "coalition",
    "cabinet",
    "ministers",
    "protests",
    "reconstruction",
    "refugees",
    "borders",
    "security",
    "militias",
    "ceasefire",
    "diplomacy",
    "summit",
    "strategy",
    "alliance",
    "deterrence",
    "escalation",
    "leverage",
    "influence",
    "institutions",
    "legitimacy",
    "corruption",
    "subsidies",
    "energy",
    "exports",
    "pipeline",
    "gas",
    "oil",
    "prices",
    "markets",
    "investment",
    "debt",
    "restructuring",
    "lenders",
    "governance",
    "judiciary",
    "constitution",
    "amendment",
    "referendum",
    "society",
    "religion",
    "clergy",
    "youth",
    "unemployment",
    "migration",
    "water",
    "drought",
    "climate",
]
CONNECTORS = ["However,", "Meanwhile,", "At the same time,", "In practice,", "For now,", "Still,", "Moreover,"]


@dataclass
class Person:
    name: str
    slug: str
    role: str
    bio: str


@dataclass
class Page:
    index: int
    path: str
    title: str
    summary: str
    section: tuple[str, str, str | None, str, float]
    kind: tuple[str, str, float]
    year: int
    month: int
    day: int
    authors: list[Person | str]
    outside: bool
    target_bytes: int
    topics: list[str]
    regions: list[str]
    project: str | None
    more: list[int] = field(default_factory=list)
    recent: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class Mirror:
    root: Path
    paths: list[str]
    start_paths: list[str]
    total_bytes: int


def _weighted(rng: random.Random, options: list, weight_index: int = -1):
    return rng.choices(options, weights=[o[weight_index] for o in options])[0]


def _sentence(rng: random.Random, low: int = 10, high: int = 26) -> str:
    words = rng.choices(WORDS, k=rng.randint(low, high))
    text = " ".join(words)
    if rng.random() < 0.2:
        text = f"{rng.choice(CONNECTORS)} {text}"
    return text[0].upper() + text[1:] + "."


def _title(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(4, 9))
    return " ".join(w.capitalize() if i == 0 or len(w) > 3 else w for i, w in enumerate(words))


def _slugify(text: str) -> str:
    return "-".join("".join(c for c in w.lower() if c.isalnum()) for w in text.split())[:80].strip("-")


def _people(rng: random.Random, count: int) -> list[Person]:
    seen: set[str] = set()
    people = []
    while len(people) < count:
        name = f"{rng.choice(FIRST.split())} {rng.choice(LAST.split())}"
        if name in seen:
            continue
        seen.add(name)
        bio = " ".join(_sentence(rng, 12, 22) for _ in range(rng.randint(1, 3)))
        people.append(Person(name, _slugify(name), rng.choice(ROLES), bio))
    return people


def plan(pages: int, seed: int) -> list[Page]:
    """Decide every page's identity and links; rendering follows from this alone."""
    rng = random.Random(seed)
    staff = _people(rng, max(20, pages // 40))
    outsiders = ["Thomas Graham, Jr.", "Lina Khatib", "Kim Ghattas", "Hanna Notte"]
    plans: list[Page] = []
    used: set[str] = set()
    for index in range(pages):
        section = _weighted(rng, SECTIONS)
        kind = _weighted(rng, TYPES)
        title = _title(rng)
        year, month, day = rng.randint(2012, 2026), rng.randint(1, 12), rng.randint(1, 28)
        slug = _slugify(title)
        path = f"{section[0]}/{year}/{month:02d}/{slug}"
        if path in used:
            path = f"{path}-{index}"
        used.add(path)
        if kind[0] == "pressRelease":
            authors: list[Person | str] = []
        else:
            authors = list(rng.sample(staff, rng.choices([1, 2, 3], weights=[6, 3, 1])[0]))
            if rng.random() < 0.1:
                authors.append(rng.choice(outsiders))
        # Log-uniform-ish spread over 10-60 KB: most pages are mid-sized, a few are long.
        target = int(10_000 * (6 ** rng.random()))
        plans.append(
            Page(
                index=index,
                path=path,
                title=title,
                summary=_sentence(rng, 14, 28),
                section=section,
                kind=kind,
                year=year,
                month=month,
                day=day,
                authors=authors,
                outside=any(isinstance(a, str) for a in authors),
                target_bytes=target,
                topics=rng.sample(TOPICS, rng.randint(1, 4)),
                regions=rng.sample(REGIONS, rng.randint(1, 5)),
                project=rng.choice(PROJECTS) if rng.random() < 0.3 else None,
            )
        )
    ring = list(range(pages))
    rng.shuffle(ring)
    following = {ring[k]: ring[(k + 1) % pages] for k in range(pages)}
    for page in plans:
        others = [i for i in rng.sample(range(pages), min(pages, 8)) if i not in (page.index, following[page.index])]
        page.more = [following[page.index], *others[: rng.randint(2, 5)]]
        for author in page.authors:
            if isinstance(author, Person):
                page.recent[author.slug] = rng.sample(range(pages), min(pages, rng.randint(2, 3)))
    return plans


def _date_line(p: Page) -> str:
    return f"Published on {MONTHS[p.month - 1]} {p.day}, {p.year}"


def _byline(p: Page) -> str:
    parts = [
        f'<a class="post-header__author" href="/people/{a.slug}?lang=en">{escape(a.name)}</a>'
        if isinstance(a, Person)
        else escape(a)
        for a in p.authors
    ]
    if not parts:
        return ""
    if len(parts) == 1:
        joined = parts[0]
    elif len(parts) == 2:
        joined = f"{parts[0]} and {parts[1]}"
    else:
        joined = ", ".join(parts[:-1]) + f", and {parts[-1]}"
    return f'<div class="post-header__byline">By {joined}</div>'


def _author_names(p: Page) -> list[str]:
    return [a.name if isinstance(a, Person) else a for a in p.authors]


def _card_authors(p: Page) -> str:
    names = _author_names(p)
    return escape(", ".join(names[:3]) + (", …" if len(names) > 3 else "")) or "Carnegie Endowment"


def _card(target: Page, with_summary: bool) -> str:
    blog = f'<span class="card__blog">{escape(target.section[2])}</span>' if target.section[2] else ""
    summary = f'<p class="card__summary">{escape(target.summary)}</p>' if with_summary else ""
    return (
        f'<li class="card"><span class="card__type">{escape(target.kind[1])}</span>{blog}'
        f'<a class="card__title" href="{target.path}?lang=en">{escape(target.title)}</a>{summary}'
        f'<div class="card__authors">{_card_authors(target)}</div></li>'
    )


def _paragraph(rng: random.Random, others: list[Page]) -> str:
    sentences = [_sentence(rng) for _ in range(rng.randint(3, 8))]
    if rng.random() < 0.15:
        other = rng.choice(others)
        sentences.append(f'See also <a href="{other.path}?lang=en">{escape(other.title)}</a>.')
    if rng.random() < 0.1:
        sentences[-1] += f"<sup>{rng.randint(1, 9)}</sup>"
    return "<p>" + " ".join(sentences) + "</p>"


def _body(rng: random.Random, p: Page, others: list[Page], budget: int) -> str:
    parts: list[str] = []
    size = 0
    while size < budget or len(parts) < 3:
        para = _paragraph(rng, others)
        parts.append(para)
        size += len(para.encode("utf-8"))
        if len(parts) == 2 and rng.random() < 0.3:
            fig = '<figure class="inline-figure"><img src="/static/map.png" alt="Map">'
            parts.append(fig + "<figcaption>Source: Carnegie</figcaption></figure>")
    return "".join(parts)


def render(p: Page, plans: list[Page], rng: random.Random) -> str:
    prefix, center_path, blog, center, _ = p.section
    kind, label, _ = p.kind
    url = f"{SITE}{p.path}?lang=en"
    hero = f"https://assets.carnegieendowment.org/images/{_slugify(p.title)[:24]}-hero.jpg"
    centers = [ENDOWMENT] + ([center] if center != ENDOWMENT else [])
    meta: dict[str, object] = {"authors": _author_names(p), "type": kind}
    if blog:
        meta["blog"] = blog
    meta |= {
        "centerAffiliationAll": "",
        "centers": centers,
        "collections": [],
        "englishNewsletterAll": "",
        "nonEnglishNewsletterAll": "",
        "primaryCenter": center,
        "programAffiliation": "",
        "programs": [],
        "projects": [p.project] if p.project else [],
        "regions": p.regions,
        "topics": p.topics,
    }
    home = f"/{center_path}" if center_path else ""
    title, summary = escape(p.title), escape(p.summary)
    eyebrow_second = (
        f'<a class="post-header__blog" href="{prefix}?lang=en">{escape(blog)}</a>'
        if blog
        else f'<a class="post-header__center" href="{home or "/"}?lang=en">{escape(center)}</a>'
    )
    promo = (
        f'<aside class="project-promo"><img src="/static/project.jpg" alt="Project hero Image">'
        f'<span class="project-promo__label">Project</span><a class="project-promo__title" '
        f'href="{home}/projects/{_slugify(p.project)}?lang=en">{escape(p.project)}</a><a class="project-promo__cta" '
        f'href="{home}/projects/{_slugify(p.project)}?lang=en">Learn More</a></aside>'
        if p.project
        else ""
    )
    cards_html = []
    staff = [a for a in p.authors if isinstance(a, Person)]
    for author in staff:
        recent = "".join(_card(plans[i], False) for i in p.recent[author.slug])
        cards_html.append(
            f'<div class="author-card"><a class="author-card__name" href="/people/{author.slug}?lang=en">'
            f'{escape(author.name)}</a><p class="author-card__role">{escape(author.role)}</p>'
            f'<div class="author-card__bio"><p>{escape(author.bio)}</p></div><div class="author-card__recent">'
            f'<h3>Recent Work</h3><ul class="card-list">{recent}</ul></div></div>'
        )
    for author in p.authors:
        if isinstance(author, str):
            cards_html.append(f'<div class="author-card"><span class="author-card__name">{escape(author)}</span></div>')
    about = (
        f'<section class="post-authors"><h2>About the Author{"s" if len(p.authors) > 1 else ""}</h2>'
        f"{''.join(cards_html)}</section>"
        if p.authors
        else ""
    )
    tags = "".join(f'<li><a href="/topics/{_slugify(t)}?lang=en">{escape(t)}</a></li>' for t in p.topics)
    tags += "".join(f'<li><a href="/regions/{_slugify(r)}?lang=en">{escape(r)}</a></li>' for r in p.regions)
    more = "".join(_card(plans[i], True) for i in p.more)
    nav = "".join(
        f'<li><a href="{home}/{s}?lang=en">{n}</a></li>'
        for s, n in (("research", "Research"), ("diwan", "Diwan"), ("about", "About"), ("people", "Experts"))
    )
    footer_links = "".join(
        f'<a href="{home}/{s}?lang=en">{s.capitalize()}</a>'
        for s in ("research", "about", "people", "projects", "events", "contact", "careers", "privacy", "media")
    )
    share = (
        '<div class="share"><button type="button" class="share__copy">Copy link</button>'
        '<span class="share__tooltip" role="status">Link Copied</span>'
        f'<a href="https://twitter.com/intent/tweet?url={url}">Share on X</a>'
        f'<a href="https://www.linkedin.com/sharing/share-offsite/?url={url}">Share on LinkedIn</a>'
        f'<a href="mailto:?subject={title}&amp;body={url}">Email</a></div>'
    )
    head = f"""<!DOCTYPE html>
<html lang="en" dir="ltr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} | {ENDOWMENT}</title>
<meta name="description" content="{summary}">
<link rel="canonical" href="{url}">
<meta property="og:site_name" content="{ENDOWMENT}">
<meta property="og:type" content="article">
<meta property="og:title" content="{title}">
<meta property="og:url" content="{url}">
<meta property="og:image" content="{hero}">
<meta name="twitter:card" content="summary_large_image">
<meta name="twitter:site" content="@CarnegieEndow">
<meta property="og:description" content="{summary}">
<meta property="article:published_time" content="{p.year}-{p.month:02d}-{p.day:02d}T05:00:00Z">
<link rel="stylesheet" href="/static/site.css">
<script src="/static/app.js" defer></script>
<script>window.dataLayer = window.dataLayer || []; dataLayer.push({{"event": "pageview"}});</script>
</head>
<body class="page page--post">
<a class="skip-link" href="#main">Skip to main content</a>
<div class="cookie-banner" role="dialog" aria-label="Cookies"><p>This site uses cookies to improve your experience.</p>\
<button type="button">Accept</button></div>
<header class="site-header"><a class="site-header__logo" href="{home or "/"}?lang=en">\
<img src="/static/logo.svg" alt="Carnegie Middle East logo"><img src="/static/lettermark.svg" \
alt="Carnegie lettermark logo"></a><nav class="site-nav" aria-label="Main"><ul>{nav}</ul></nav>\
<nav class="site-nav__trending" aria-label="Trending"><a href="/regions/lebanon?lang=en">Lebanon</a>\
<a href="/regions/iran?lang=en">Iran</a><a href="{plans[p.more[-1]].path}?lang=en">Trending</a></nav>\
<div class="lang-switch"><a href="{p.path}?lang=ar" hreflang="ar">عربي</a></div></header>
<main id="main"><article class="post"><script type="application/json" class="js-analytics-data">
{json.dumps(meta, indent=2, ensure_ascii=False)}
</script>"""
    top = (
        f'<figure class="post-hero"><img src="{hero}" alt="REQUIRED IMAGE"><figcaption class="post-hero__credit">'
        f'Source: Getty</figcaption></figure><header class="post-header"><div class="post-header__eyebrow">'
        f'<span class="post-header__type">{escape(label)}</span>{eyebrow_second}</div>'
        f'<h1 class="post-header__title">{title}</h1><div class="post-header__dek"><p>{summary}</p></div>'
        f'{share}{_byline(p)}<div class="post-header__date">{_date_line(p)}</div></header>{promo}'
    )
    tail = (
        f'{about}<footer class="post-footer"><ul class="post-tags">{tags}</ul>'
        f'<p class="post-disclaimer">{DISCLAIMER}</p></footer></article>'
        f'<section class="related"><h2 class="related__heading">More Work from {escape(center)}</h2>'
        f'<ul class="card-list">{more}</ul></section><section class="newsletter"><p>Get more news and analysis '
        f'from {escape(center)}</p><form action="/newsletters/subscribe" method="post"><input type="email" '
        f'name="email"><button>Sign up</button></form></section></main>\n<footer class="site-footer"><nav>'
        f"{footer_links}</nav><p>© 2026 {ENDOWMENT}. All rights reserved.</p></footer>\n</body>\n</html>\n"
    )
    fixed = len(head.encode()) + len(top.encode()) + len(tail.encode())
    others = [plans[i] for i in p.more]
    body = _body(rng, p, others, p.target_bytes - fixed)
    return f'{head}{top}<div class="post-body rich-text">{body}</div>{tail}'


def generate(root: Path, pages: int = 2000, seed: int = 7, starts: int = 3) -> Mirror:
    plans = plan(pages, seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /search\nDisallow: /newsletters/\n")
    total = 0
    for p in plans:
        rng = random.Random(f"{seed}:{p.index}")
        html = render(p, plans, rng).encode("utf-8")
        total += len(html)
        target = root / "pages" / (p.path.strip("/") + ".html")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(html)
    # Start pages spread over the ring, so the crawl fans out from several places at once.
    ring_starts = [plans[(k * pages) // starts].path for k in range(min(starts, pages))]
    paths = [p.path for p in plans]
    (root / "mirror.json").write_text(json.dumps({"pages": paths, "start": ring_starts, "seed": seed}, indent=1))
    return Mirror(root, paths, ring_starts, total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    mirror = generate(args.out, args.pages, args.seed)
    print(f"{len(mirror.paths)} pages, {mirror.total_bytes / len(mirror.paths) / 1024:.1f} KB mean, in {args.out}")


if __name__ == "__main__":
    main()
