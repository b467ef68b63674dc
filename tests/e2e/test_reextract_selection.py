"""Re-extracting an older archive, or an older date range, never rolls the state and the dataset back.

Found by a review: `-a archives=<an older run's file>` (or `until=` before the last crawl) took the latest
response of each URL within the selection only. The run exited 0 and a page removed since (410) came back
in documents.parquet as `new`; an edited page went back to its old text as `updated`.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from carnegie_crawler.devserver import SiteServer
from tests.e2e.test_dataset_command import settings
from tests.e2e.test_smoke import EXPECTED, scrapy
from tests.helpers import SITE

pytestmark = pytest.mark.e2e

EDITED = "pages/posts/2019/10/tunisias-democratic-test.html"
EDITED_URL = "https://carnegieendowment.org/posts/2019/10/tunisias-democratic-test?lang=en"
GONE_PATH = "/posts/2022/09/carnegie-announces-new-middle-east-fellows"
GONE_URL = f"https://carnegieendowment.org{GONE_PATH}?lang=en"


def statuses(tmp_path: Path) -> dict[str, str]:
    """The last re-extraction's records: crawl_status by URL."""
    # The newest file, not the last name: runs started within one second sort by their random token.
    manifest = max((tmp_path / "data").glob("reextract-*.manifest.json"), key=lambda path: path.stat().st_mtime_ns)
    output = manifest.parent / json.loads(manifest.read_text(encoding="utf-8"))["output"]["path"]
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    return {record["url"]: record["crawl_status"] for record in records}


def dataset(tmp_path: Path) -> tuple[set[str], str]:
    """The documents' URLs, and the edited page's body."""
    table = pq.read_table(tmp_path / "dataset" / "documents.parquet")
    [edited] = table.filter(pc.equal(table.column("url"), EDITED_URL)).to_pylist()
    return set(table.column("url").to_pylist()), edited["body"]


def superseded(stderr: str) -> int:
    found = re.search(r"'carnegie/reextract/superseded': (\d+)", stderr)
    return int(found.group(1)) if found else 0


def test_reextracting_an_older_archive_or_date_range_does_not_roll_the_dataset_back(tmp_path):
    root = tmp_path / "site"
    shutil.copytree(SITE, root)
    with SiteServer(root) as server:
        starts = ",".join(server.base_url + p for p in EXPECTED["start_paths"])
        crawl = ["crawl", "commentary", "-a", f"start_urls={starts}", *settings(tmp_path)]
        first = scrapy(*crawl)
        assert first.returncode == 0, first.stderr[-2000:]
        [older] = (tmp_path / "archive").glob("*.warc.gz")
        time.sleep(0.01)
        between = datetime.now(UTC).isoformat()
        page = root / EDITED
        page.write_text(page.read_text(encoding="utf-8").replace("The results reflect", "The results NEW", 1))
        routes = json.loads((root / "routes.json").read_text(encoding="utf-8"))
        routes[GONE_PATH] = {"status": 410}
        server.site.routes = routes
        second = scrapy(*crawl)
        assert second.returncode == 0, second.stderr[-2000:]
    crawled, body = dataset(tmp_path)
    assert GONE_URL not in crawled
    assert "The results NEW" in body
    [newer] = {*(tmp_path / "archive").glob("*.warc.gz")} - {older}

    for selected in (f"archives={older.name}", f"until={between}"):
        again = scrapy("reextract", "-a", selected, "-a", "workers=1", *settings(tmp_path))
        assert again.returncode == 0, again.stderr[-2000:]
        # The second crawl fetched every page again: each has a newer response than the selection's.
        left_out = superseded(again.stderr)
        assert left_out > 0, selected
        assert f"{left_out} URL(s) left out" in again.stderr, selected
        assert statuses(tmp_path) == {}, selected
        urls, body = dataset(tmp_path)
        assert GONE_URL not in urls, f"{selected}: a page answering 410 is live in documents.parquet again"
        assert "The results NEW" in body, f"{selected}: the dataset went back to the page's old text"
        assert urls == crawled, selected

    # The newest archive, named: every page, unchanged; nothing left out.
    latest = scrapy("reextract", "-a", f"archives={newer.name}", "-a", "workers=1", *settings(tmp_path))
    assert latest.returncode == 0, latest.stderr[-2000:]
    assert superseded(latest.stderr) == 0
    assert set(statuses(tmp_path).values()) == {"unchanged"}
    assert GONE_URL not in statuses(tmp_path)
