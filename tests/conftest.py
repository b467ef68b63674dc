from __future__ import annotations

from collections.abc import Iterator

import pytest

from carnegie_crawler.devserver import SiteServer
from tests.helpers import SITE


@pytest.fixture
def site_server() -> Iterator[SiteServer]:
    """The interlinked fixture site on 127.0.0.1, fresh per test (request log, flaky routes)."""
    with SiteServer(SITE) as server:
        yield server
