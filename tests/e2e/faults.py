"""Helpers for the fault tests: real `scrapy crawl` processes, their files, logs and manifests.

Every process is started in its own session, so a test can kill a crawl together with its
extraction workers (by process group id) and nothing outlives the test.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from carnegie_crawler.devserver import SiteServer

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / "carnegie_crawler" / "demo_site"
EXPECTED = json.loads((SITE / "expected.json").read_text(encoding="utf-8"))
EXPECTED_URLS = sorted(e["url"] for e in EXPECTED["expected_items"])
CANONICAL = "https://carnegieendowment.org"

# "2026-11-29 14:18:38 [carnegie_crawler.x] INFO: message"
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[[^\]]+\] [A-Z]+: ")


def env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}


def start_urls(server: SiteServer) -> str:
    return ",".join(server.base_url + p for p in EXPECTED["start_paths"])


def crawl_args(
    server: SiteServer | None,
    out: Path,
    *extra: str,
    output: str | Path | None = None,
    state: str | Path | None = None,
    rejects: str | Path | None = None,
) -> list[str]:
    """`scrapy crawl commentary` against the local site, every file under `out`, one request at a time."""
    out.mkdir(parents=True, exist_ok=True)
    args = ["crawl", "commentary"]
    if server is not None:
        args += ["-a", f"start_urls={start_urls(server)}"]
    return [
        *args,
        "-s", f"CARNEGIE_OUTPUT={output or out / 'out.jsonl'}",
        "-s", f"CARNEGIE_REJECTS={rejects or out / 'rejects.jsonl'}",
        "-s", f"CARNEGIE_STATE={state or out / 'state.sqlite3'}", "-s", "CARNEGIE_DATASET=",  # tested on its own
        "-s", f"CARNEGIE_ARCHIVE={out / 'archive'}",
        "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS=1",
        *extra,
    ]  # fmt: skip


def run(args: list[str], timeout: float = 90, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    command = prefix or [sys.executable, "-m", "scrapy"]
    return subprocess.run(
        [*command, *args], cwd=REPO, env=env(), capture_output=True, text=True, timeout=timeout, check=False
    )


class Crawl:
    """A crawl running in the background, its log (stdout and stderr) in a file."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log_path = log
        with log.open("w") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "scrapy", *args], cwd=REPO, env=env(), stdout=sink,
                stderr=subprocess.STDOUT, text=True, start_new_session=True,
            )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def kill_group(self) -> None:
        """SIGKILL the crawl and its workers (its own process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def wait(self, timeout: float = 90) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_group()
            raise AssertionError(f"the crawl did not end within {timeout} s:\n{self.log[-3000:]}") from None

    def cleanup(self) -> None:
        if self.process.poll() is None:
            self.kill_group()
        else:  # reap workers a killed crawl may have left behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)


@contextlib.contextmanager
def crawling(args: list[str], log: Path) -> Iterator[Crawl]:
    crawl = Crawl(args, log)
    try:
        yield crawl
    finally:
        crawl.cleanup()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60, crawl: Crawl | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if crawl is not None and not crawl.running():
            raise AssertionError(f"the crawl ended before {what}:\n{crawl.log[-3000:]}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def part_files(directory: Path, name: str = "out.jsonl") -> list[Path]:
    return sorted(directory.glob(f"{name}*.part"))


def newline_count(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def lines_in_parts(directory: Path, name: str = "out.jsonl") -> int:
    return sum(newline_count(p) for p in part_files(directory, name))


def whole_json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of the file is a complete JSON object ending in a newline (no torn tail)."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), f"{path} ends in a torn line: ...{data[-200:]!r}"
    records = []
    for number, line in enumerate(data.splitlines(), 1):
        try:
            record = json.loads(line)
        except ValueError as error:
            raise AssertionError(f"{path} line {number} is not whole JSON: {line[:200]!r}...") from error
        assert isinstance(record, dict), f"{path} line {number} is not an object"
        records.append(record)
    return records


def described_file(manifest_path: Path, manifest: dict[str, Any]) -> Path:
    """The file a manifest describes (a relative path is taken as relative to the manifest)."""
    return manifest_path.parent / manifest["output"]["path"]


def check_manifest(path: Path) -> dict[str, Any]:
    """The manifest's output block describes its file exactly: it exists, line count and sha256."""
    manifest = json.loads(path.read_text(encoding="utf-8"))
    described = described_file(path, manifest)
    assert described.is_file(), f"{path} describes {described}, which does not exist"
    data = described.read_bytes()
    assert manifest["output"]["lines"] == data.count(b"\n"), (path, manifest["output"])
    assert manifest["output"]["sha256"] == hashlib.sha256(data).hexdigest(), (path, manifest["output"])
    return manifest


def documents_in_state(path: Path) -> int:
    """Rows in the state's `documents` table; 0 when the file or the table does not exist."""
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    except sqlite3.OperationalError as error:
        if "no such table" not in str(error):
            raise
        return 0
    finally:
        db.close()


def log_records(log: str) -> list[str]:
    """The log's record lines (a stats dump or a pretty-printed dict spans more physical lines)."""
    return [line for line in log.splitlines() if LOG_RECORD.match(line)]


def message(line: str) -> str:
    return LOG_RECORD.sub("", line, count=1)


def last_message(log: str) -> str:
    """The last non-empty line of a log, without the timestamp/logger/level prefix."""
    lines = [line for line in log.splitlines() if line.strip()]
    assert lines, "empty log"
    return message(lines[-1])


def urls(records: list[dict[str, Any]]) -> list[str]:
    return [r["url"] for r in records]


def copy_site(destination: Path) -> Path:
    shutil.copytree(SITE, destination)
    return destination


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


START_PAGE = "pages/middle-east/posts/2023/03/lebanons-banking-crisis-enters-its-fourth-year.html"
MORE_WORK = '<h2 class="related__heading">More Work from Malcolm H. Kerr Carnegie Middle East Center</h2>'
EXTRA = "/posts/2099/01/extra-work-"


def add_cards(root: Path, count: int) -> None:
    """Append `count` cards to the first start page's "More Work" list, each to a PDF (not a page, not an error)."""
    page = root / START_PAGE
    text = page.read_text(encoding="utf-8")
    heading = text.index(MORE_WORK)
    end = text.index("</ul></section>", heading)
    cards = "".join(
        f'<li class="card"><span class="card__type">Commentary</span><a class="card__title" href="{EXTRA}{i}?lang=en">'
        f'Extra Work {i}</a><p class="card__summary">One of many.</p><div class="card__authors">Leila Haddad</div></li>'
        for i in range(count)
    )
    page.write_text(text[:end] + cards + text[end:], encoding="utf-8")
    routes_file = root / "routes.json"
    routes = json.loads(routes_file.read_text(encoding="utf-8"))
    for i in range(count):
        routes[f"{EXTRA}{i}"] = {"file": "files/report.pdf", "content_type": "application/pdf"}
    routes_file.write_text(json.dumps(routes), encoding="utf-8")


def extra_requests(server: SiteServer) -> int:
    return sum(1 for r in server.site.requests if r.startswith(EXTRA))


def file_size_limit(limit: int) -> list[str]:
    """A prefix that runs scrapy with RLIMIT_FSIZE (a full disk for any file that grows past `limit`)."""
    return [
        sys.executable, "-c",
        "import os, resource, signal, sys\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'scrapy', *sys.argv[1:]])\n",
    ]  # fmt: skip
