"""The project as a user installs it: build a wheel, install it into a fresh venv, run `scrapy demo` elsewhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.helpers import SITE, TESTS

REPO = TESTS.parent
EXPECTED = json.loads((SITE / "expected.json").read_text(encoding="utf-8"))
pytestmark = pytest.mark.e2e


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"{args}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the working tree, so no build artefact lands in the checkout."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    junk = shutil.ignore_patterns(".venv", ".git", "data", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")
    shutil.copytree(REPO, source, ignore=junk)
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        work,
        source,
        cwd=work,
    )
    (built,) = work.glob("carnegie_crawler-*.whl")
    return built


def test_the_wheel_carries_the_schema_and_the_demo_site(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "carnegie_crawler/schemas/publication.schema.json" in names
    assert "carnegie_crawler/demo_site/expected.json" in names
    assert "carnegie_crawler/demo_site/robots.txt" in names
    assert sum(n.startswith("carnegie_crawler/demo_site/pages/") for n in names) >= len(EXPECTED["expected_items"])
    assert not any(n.startswith("tests/") for n in names)


def test_scrapy_demo_runs_from_the_installed_wheel_in_an_empty_directory(wheel, tmp_path):
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", wheel, cwd=tmp_path)
    # The dependencies come from this environment's site-packages (no network in CI); the project
    # itself only from the wheel: this environment's editable install is not on that path.
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path)
    (Path(purelib.stdout.strip()) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["SCRAPY_SETTINGS_MODULE"] = "carnegie_crawler.settings"  # an installed project has no scrapy.cfg
    where = run(python, "-c", "import carnegie_crawler; print(carnegie_crawler.__file__)", cwd=empty, env=env)
    assert str(REPO) not in where.stdout, "the project must come from the wheel"
    result = run(python, "-m", "scrapy", "demo", cwd=empty, env=env)
    (output,) = (empty / "data" / "demo").glob("*.jsonl")
    lines = output.read_text(encoding="utf-8").splitlines()
    assert sorted(json.loads(line)["url"] for line in lines) == sorted(e["url"] for e in EXPECTED["expected_items"])
    assert "Run finished: healthy" in result.stderr
