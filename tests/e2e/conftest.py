"""Every test in this folder is end-to-end: `pytest -m "not e2e"` runs the fast part alone."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from carnegie_crawler.devserver import SiteServer
from tests.helpers import SITE

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def editable_site(tmp_path: Path) -> Iterator[SiteServer]:
    """A copy of the fixture site that a test may edit, served on one port for all its runs."""
    root = tmp_path / "site"
    shutil.copytree(SITE, root)
    with SiteServer(root) as server:
        yield server
