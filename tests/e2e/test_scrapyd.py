"""The project as scrapyd runs it: build the egg, deploy it to a real scrapyd, schedule a crawl of the local site.

Takes a few seconds (egg build, scrapyd start-up, one crawl); runs by default like the other e2e tests.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SITE, TESTS

pytestmark = pytest.mark.e2e

EXPECTED = json.loads((SITE / "expected.json").read_text(encoding="utf-8"))
REPO = TESTS.parent
PROJECT = "carnegie_crawler"
VERSION = "r1"

# The venv has the checkout installed in editable mode, and a deployed egg is only appended to sys.path, so a
# module missing from the egg would silently come from the checkout. This runner (scrapyd's `runner` option) hides
# the checkout first: every `scrapy list` and `scrapy crawl` scrapyd starts can get the project from the egg only.
EGG_ONLY_RUNNER = """\
import importlib.util
import sys

sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
sys.path[:] = [p for p in sys.path if "__editable__" not in p]
spec = importlib.util.find_spec("carnegie_crawler")
if spec is not None:
    sys.exit(f"carnegie_crawler is importable without the egg, from {spec.origin}")

from scrapyd.runner import main

main()
"""

# No proxy from the environment between the test and scrapyd on 127.0.0.1.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Scrapyd:
    url: str
    process: subprocess.Popen[bytes]
    home: Path

    @property
    def log(self) -> str:
        return (self.home / "scrapyd.log").read_text(encoding="utf-8", errors="replace")

    def job_log(self, job: str, spider: str = "commentary") -> str:
        path = self.home / "logs" / PROJECT / spider / f"{job}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else f"(no job log at {path})"

    def call(self, endpoint: str, data: bytes | None = None, content_type: str | None = None) -> dict[str, Any]:
        request = urllib.request.Request(self.url + endpoint, data=data)
        if content_type:
            request.add_header("Content-Type", content_type)
        with OPENER.open(request, timeout=30) as response:
            return json.loads(response.read())


def repo_build_artefacts() -> dict[str, int]:
    """What setuptools may leave in the checkout: build/, dist/, *.egg-info (mtimes, to notice rewrites)."""
    roots = [REPO / "build", REPO / "dist", *REPO.glob("*.egg-info")]
    return {str(p): p.stat().st_mtime_ns for root in roots if root.exists() for p in [root, *root.rglob("*")]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    for name, (filename, content) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def egg(tmp_path) -> Path:
    """The project egg, built from the working tree with every build artefact under tmp_path."""
    work = tmp_path / "egg-build"
    work.mkdir()
    before = repo_build_artefacts()
    result = subprocess.run(
        [
            sys.executable, "-c", "import setuptools; setuptools.setup()",
            "egg_info", "--egg-base", str(work),
            "build", "--build-base", str(work / "build"),
            "bdist_egg", "--bdist-dir", str(work / "bdist"), "-d", str(work / "dist"),
        ],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert repo_build_artefacts() == before, "the egg build wrote into the checkout"
    (egg,) = (work / "dist").glob("*.egg")
    return egg


@pytest.fixture
def scrapyd(tmp_path) -> Iterator[Scrapyd]:
    """A real scrapyd on a free port of 127.0.0.1, configured and run from its own directory."""
    home = tmp_path / "scrapyd"
    home.mkdir()
    port = free_port()
    (home / "egg_only_runner.py").write_text(EGG_ONLY_RUNNER, encoding="utf-8")
    # scrapyd reads ./scrapyd.conf; it also reads ~/.scrapyd.conf after it, hence HOME below.
    (home / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        "bind_address = 127.0.0.1\n"
        f"http_port = {port}\n"
        "unix_socket_path =\n"
        "username =\n"
        "password =\n"
        f"eggs_dir = {home / 'eggs'}\n"
        f"logs_dir = {home / 'logs'}\n"
        "items_dir =\n"
        "jobs_dir =\n"
        f"dbs_dir = {home / 'dbs'}\n"
        "jobs_to_keep = 5\n"
        "finished_to_keep = 100\n"
        "max_proc = 1\n"
        "poll_interval = 0.5\n"
        "runner = egg_only_runner\n",
        encoding="utf-8",
    )
    # Nothing from the caller's environment may point scrapyd or Scrapy at another project, port or config.
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "PYTHONPATH" and k != "XDG_CONFIG_HOME" and not k.startswith(("SCRAPY_", "SCRAPYD_"))
    }
    env["HOME"] = str(home)
    with (home / "scrapyd.log").open("wb") as log:
        # Its own process group, so teardown also reaches a crawl scrapyd is still running.
        process = subprocess.Popen(
            [sys.executable, "-m", "scrapyd"], cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    server = Scrapyd(f"http://127.0.0.1:{port}", process, home)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, f"scrapyd exited with {process.returncode}:\n{server.log[-3000:]}"
            with suppress(OSError):
                if server.call("/daemonstatus.json")["status"] == "ok":
                    break
            assert time.monotonic() < deadline, f"scrapyd did not answer within 20 s:\n{server.log[-3000:]}"
            time.sleep(0.2)
        yield server
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_scrapyd_runs_the_deployed_egg(egg, scrapyd, site_server, tmp_path):
    body, content_type = multipart({"project": PROJECT, "version": VERSION}, {"egg": (egg.name, egg.read_bytes())})
    added = scrapyd.call("/addversion.json", body, content_type)
    assert added.get("status") == "ok", f"{added}\n{scrapyd.log[-3000:]}"
    query = urllib.parse.urlencode({"project": PROJECT, "_version": VERSION})
    spiders = scrapyd.call(f"/listspiders.json?{query}")
    assert spiders.get("status") == "ok", spiders
    assert "commentary" in spiders["spiders"]

    run = tmp_path / "run"
    out = run / "out.jsonl"
    settings = {
        "CARNEGIE_OUTPUT": out,
        "CARNEGIE_REJECTS": run / "rejects.jsonl",
        "CARNEGIE_STATE": run / "state.sqlite3",
        "CARNEGIE_DATASET": run / "dataset",
        "CARNEGIE_ARCHIVE": run / "archive",
        # Workers are opt-in; this deployment checks they start from the egg too. Slow enough
        # that the extraction worker is up before the last pages: it takes those.
        "CARNEGIE_EXTRACT_WORKERS": 1,
        "DOWNLOAD_DELAY": 0.3,
        "AUTOTHROTTLE_ENABLED": False,
    }
    fields = [
        ("project", PROJECT),
        ("spider", "commentary"),
        ("_version", VERSION),
        ("start_urls", ",".join(site_server.base_url + p for p in EXPECTED["start_paths"])),
        *(("setting", f"{name}={value}") for name, value in settings.items()),
    ]
    form = urllib.parse.urlencode(fields).encode()
    scheduled = scrapyd.call("/schedule.json", form, "application/x-www-form-urlencoded")
    assert scheduled.get("status") == "ok", scheduled
    job = scheduled["jobid"]

    deadline = time.monotonic() + 60
    while True:
        jobs = scrapyd.call(f"/listjobs.json?{urllib.parse.urlencode({'project': PROJECT})}")
        if any(j["id"] == job for j in jobs["finished"]):
            break
        assert time.monotonic() < deadline, f"job not finished in 60 s: {jobs}\n{scrapyd.job_log(job)[-4000:]}"
        time.sleep(0.5)

    def details() -> str:
        return f"\n--- job log ---\n{scrapyd.job_log(job)[-6000:]}\n--- scrapyd log ---\n{scrapyd.log[-3000:]}"

    # scrapyd logs "Process finished" for exit status 0 and "Process died: exitstatus=N" otherwise;
    # the crawl's exit status is the run's health verdict.
    assert f"Process finished: project='{PROJECT}' spider='commentary' job='{job}'" in scrapyd.log, details()
    assert out.exists(), details()
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    got = sorted((r["url"], r["language"], r["title"]) for r in records)
    want = sorted((e["url"], e["language"], e["title"]) for e in EXPECTED["expected_items"])
    assert got == want, details()
    assert not list(run.glob("*.part")), details()

    manifest_path = run / "out.manifest.json"
    assert manifest_path.exists(), details()
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert manifest["health"]["ok"] is True, f"{manifest['health']}{details()}"
    assert manifest["finish_reason"] == "finished", details()
    assert manifest["output"]["lines"] == len(EXPECTED["expected_items"]), details()
    assert "Traceback" not in scrapyd.job_log(job), details()
    # The extraction worker starts from the deployed egg too, and takes pages.
    in_workers = re.search(r"'carnegie/extraction/in_workers': (\d+)", scrapyd.job_log(job))
    assert in_workers is not None, details()
    assert int(in_workers[1]) > 0, details()
    assert "ended unexpectedly" not in scrapyd.job_log(job), details()
