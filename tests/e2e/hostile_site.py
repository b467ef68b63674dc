"""A local site that serves, at once, every fault the live web can: built into a tmp dir per test."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

from tests.helpers import SITE

TITLE_1252 = "Türkiye’s “Choice” — Ça va"
ENTITIES = "Q&A: Türkiye’s “Choice” — Ça va"
MAXSIZE = 200_000
BODY = " ".join(["The negotiations stalled again as outside powers hedged their bets."] * 12)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def page(title: str, *, cards: list[str] = (), head: str = "", block: dict | None = None, body: str = BODY,
         charset_meta: str = "utf-8", wrap: int = 0) -> str:  # fmt: skip
    meta = json.dumps(block if block is not None else {"authors": ["Ann Bee"], "type": "commentary", "topics": []})
    meta = meta.replace("</", "<\\/")  # as a CMS escapes it, so a value cannot end the script element
    more = "".join(f'<li><span>Commentary</span><a href="{href}">Card {i}</a></li>' for i, href in enumerate(cards))
    content = (
        f'<script type="application/json">{meta}</script><h1>{title}</h1>'
        f'<p>By <a href="/people/ann-bee">Ann Bee</a></p><p>Published on Jan 15, 2030</p>'
        f"<div><p>{body}</p><p>{body}</p></div>"
    )
    content = "<div>" * wrap + content + "</div>" * wrap
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="{charset_meta}"><title>{title} | Carnegie Endowment'
        f" for International Peace</title>{head}</head><body><main><article>{content}</article>"
        f"<section><h2>More Work from Carnegie Endowment for International Peace</h2><ul>{more}</ul></section>"
        f"</main></body></html>"
    )


def build(root: Path) -> dict:
    """Copy the regular fixture site and add the faults; returns what the test expects."""
    shutil.copytree(SITE, root)
    pages = root / "pages" / "posts" / "2030" / "01"
    pages.mkdir(parents=True)
    routes = json.loads((root / "routes.json").read_text())
    refused = f"http://127.0.0.1:{closed_port()}/posts/2030/01/refused?lang=en"
    traps = [f"/posts/2030/01/trap?lang=en&page={n}&sort=new" for n in range(40)]
    cards = [
        "/posts/2030/01/truncated?lang=en", "/posts/2030/01/huge?lang=en", "/posts/2030/01/slow?lang=en",
        "/posts/2030/01/reset?lang=en", refused, "/posts/2030/01/loop-a?lang=en", "/posts/2030/01/away?lang=en",
        "/posts/2030/01/cp1252-undeclared?lang=en", "/posts/2030/01/cp1252-declared-utf8?lang=en",
        "/posts/2030/01/utf8-declared-latin1?lang=en", "/posts/2030/01/bom?lang=en", "/posts/2030/01/entities?lang=en",
        "/files/data.json", "/files/pixel.png", "/posts/2030/01/hostile?lang=en", "/posts/2030/01/absurd?lang=en",
        "/posts/2030/01/deep?lang=en", "javascript:alert(1)", "data:text/html,<h1>x</h1>", "mailto:press@example.org",
        "file:///etc/passwd", *traps,
    ]  # fmt: skip

    def write(name: str, html: str | bytes) -> None:
        data = html.encode("utf-8") if isinstance(html, str) else html
        (pages / f"{name}.html").write_bytes(data)

    write("hostile-start", page("Hostile Start", cards=cards))
    write("truncated", page("Truncated Page"))
    routes["/posts/2030/01/truncated"] = {"truncate": len(page("Truncated Page")) // 2}
    write("huge", page("Huge Page", body="x" * (MAXSIZE * 2)))
    write("slow", page("Slow Page"))
    routes["/posts/2030/01/slow"] = {"sleep": 2.5}
    write("reset", page("Reset Page"))
    routes["/posts/2030/01/reset"] = {"reset": True}
    routes["/posts/2030/01/loop-a"] = {"status": 301, "redirect": "/posts/2030/01/loop-b?lang=en"}
    routes["/posts/2030/01/loop-b"] = {"status": 301, "redirect": "/posts/2030/01/loop-a?lang=en"}
    routes["/posts/2030/01/away"] = {"status": 301, "redirect": "http://example.org/posts/2030/01/away"}
    write("cp1252-undeclared", page(TITLE_1252, charset_meta="").replace('<meta charset="">', "").encode("cp1252"))
    routes["/posts/2030/01/cp1252-undeclared"] = {"headers": {"Content-Type": "text/html"}}
    write("cp1252-declared-utf8", page(TITLE_1252).encode("cp1252"))
    routes["/posts/2030/01/cp1252-declared-utf8"] = {"headers": {"Content-Type": "text/html; charset=utf-8"}}
    write("utf8-declared-latin1", page(TITLE_1252, charset_meta="iso-8859-1"))
    routes["/posts/2030/01/utf8-declared-latin1"] = {"headers": {"Content-Type": "text/html; charset=iso-8859-1"}}
    write("bom", b"\xef\xbb\xbf" + page(TITLE_1252, charset_meta="").replace('<meta charset="">', "").encode())
    routes["/posts/2030/01/bom"] = {"headers": {"Content-Type": "text/html"}}
    write("entities", page("Q&amp;A: T&uuml;rkiye&#8217;s &ldquo;Choice&rdquo; &mdash; &#199;a va"))
    (root / "files" / "data.json").write_text('{"not": "a page"}')
    routes["/files/data.json"] = {"file": "files/data.json", "content_type": "application/json"}
    (root / "files" / "pixel.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    routes["/files/pixel.png"] = {"file": "files/pixel.png", "content_type": "image/png"}
    hostile_block = {
        "authors": "Thomas Graham, Jr.", "type": "commentary", "topics": ["<b>Security</b>", 42, None, {"x": 1}],
        "regions": "Türkiye", "primaryCenter": "<script>alert(1)</script>Carnegie Europe",
    }  # fmt: skip
    og_title = '<meta property="og:title" content="&lt;script&gt;x&lt;/script&gt;Hostile Title">'
    write("hostile", page("<script>alert(1)</script>Hostile <em>Title</em>", block=hostile_block, head=og_title))
    write("absurd", page("A" * 20_000))
    write("deep", page("Deep Page", wrap=3000))
    write("trap", page("Trap Page"))
    (root / "routes.json").write_text(json.dumps(routes, indent=2))
    return {
        "start": "/posts/2030/01/hostile-start?lang=en",
        "good": {"Hostile Start", "Truncated Page", "Trap Page", "Hostile Title", TITLE_1252, ENTITIES},
        "encoded": ["cp1252-undeclared", "cp1252-declared-utf8", "utf8-declared-latin1", "bom"],
        "traps": traps,
    }
