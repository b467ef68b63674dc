"""A local HTTP server for a fixture site: the offline demo and the end-to-end tests use it.

Layout of a site directory:
- `pages/<path>.html` answers `/<path>`; `?lang=XX` (XX not `en`) answers from `pages/<path>.XX.html`.
- `robots.txt`, served at `/robots.txt`.
- `routes.json`: path -> {"status", "redirect", "fail_times", "file", "content_type"} for special cases,
  and faults for the robustness tests: {"sleep": seconds}, {"reset": true} (close without answering),
  {"truncate": bytes} (promise the whole body, send only that much), {"headers": {...}} (e.g. a wrong charset).
Anything else is a 404. Every request path is recorded, so tests can check what was fetched.
Pages carry an ETag and Last-Modified and answer conditional requests with 304, as a real site does.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Mapping
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FixtureSite:
    def __init__(self, root: Path) -> None:
        self.root = root
        routes_file = root / "routes.json"
        self.routes: dict[str, dict[str, Any]] = json.loads(routes_file.read_text()) if routes_file.exists() else {}
        self.requests: list[str] = []
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()
        self.delay = 0.0  # seconds per response, to slow a crawl down in tests
        self.last_modified = time.time()

    def respond(self, target: str, headers: Mapping[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(target)
        if self.delay:
            time.sleep(self.delay)
        status, out, body = self._respond(target)
        if status == 200 and out.get("Content-Type", "").startswith("text/html"):
            etag = '"' + hashlib.sha1(body).hexdigest() + '"'
            out |= {"ETag": etag, "Last-Modified": formatdate(self.last_modified, usegmt=True)}
            if headers is not None and headers.get("If-None-Match") == etag:
                return 304, {"ETag": etag}, b""
        return status, out, body

    def _respond(self, target: str) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        path = parts.path
        if path == "/robots.txt":
            return self._file(self.root / "robots.txt", "text/plain; charset=utf-8")
        route = self.routes.get(path, {})
        if "fail_times" in route:
            with self._lock:
                seen = self._failures.get(path, 0)
                self._failures[path] = seen + 1
            if seen < route["fail_times"]:
                return 500, {"Content-Type": "text/plain"}, b"temporary failure"
        if "redirect" in route:
            return int(route.get("status", 301)), {"Location": route["redirect"]}, b""
        if "file" in route:
            return self._file(self.root / route["file"], route.get("content_type", "application/octet-stream"))
        if "status" in route:
            return int(route["status"]), {"Content-Type": "text/html; charset=utf-8"}, b"<h1>Error</h1>"
        lang = parse_qs(parts.query).get("lang", ["en"])[0]
        suffix = ".html" if lang == "en" else f".{lang}.html"
        page = self.root / "pages" / (path.strip("/") + suffix)
        if ".." in path or not path.strip("/"):
            return 404, {"Content-Type": "text/plain"}, b"not found"
        return self._file(page, "text/html; charset=utf-8")

    @staticmethod
    def _file(path: Path, content_type: str) -> tuple[int, dict[str, str], bytes]:
        if not path.is_file():
            return 404, {"Content-Type": "text/html; charset=utf-8"}, b"<h1>Not found</h1>"
        return 200, {"Content-Type": content_type}, path.read_bytes()


class _Handler(BaseHTTPRequestHandler):
    site: FixtureSite

    def do_GET(self) -> None:
        fault = self.site.routes.get(urlsplit(self.path).path, {})
        if fault.get("sleep"):
            time.sleep(float(fault["sleep"]))
        if fault.get("reset"):
            self.site.requests.append(self.path)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        status, headers, body = self.site.respond(self.path, dict(self.headers.items()))
        self.send_response(status)
        for name, value in (headers | fault.get("headers", {})).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if "truncate" in fault:
            self.wfile.write(body[: int(fault["truncate"])])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the crawler's own log already shows every request


class _QuietServer(ThreadingHTTPServer):
    request_queue_size = 128  # a crawler opens many connections at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up (or a fault route that resets) is not news


class SiteServer:
    """Serve a fixture site on 127.0.0.1 in a background thread."""

    def __init__(self, root: Path, port: int = 0) -> None:
        self.site = FixtureSite(root)
        handler = type("Handler", (_Handler,), {"site": self.site})
        self.httpd = _QuietServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> SiteServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
