"""What a re-extraction tells the state: it reads pages fetched earlier, so it is no visit to the site.

Found by a review: a re-extraction staged every document as seen now, so the next incremental crawl
took them all for fresh and requested none of them (an edit made on the site was missed, exit 0).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from carnegie_crawler.devserver import SiteServer
from tests.e2e.test_dataset_command import settings
from tests.e2e.test_smoke import EXPECTED, scrapy
from tests.helpers import SITE

pytestmark = pytest.mark.e2e

EDITED = "pages/posts/2019/10/tunisias-democratic-test.html"
EDITED_URL = "https://carnegieendowment.org/posts/2019/10/tunisias-democratic-test?lang=en"
REFRESH_DAYS = 0.00003  # 2.6 s: a document seen longer ago is asked for again


def last_records(tmp_path: Path, spider: str) -> list[tuple[str, str]]:
    manifest = max((tmp_path / "data").glob(f"{spider}-*.manifest.json"), key=lambda path: path.stat().st_mtime_ns)
    output = manifest.parent / json.loads(manifest.read_text(encoding="utf-8"))["output"]["path"]
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    return [(record["url"], record["crawl_status"]) for record in records]


@pytest.mark.parametrize("reextract_between", [False, True])
def test_an_incremental_crawl_after_a_reextraction_still_asks_for_pages_due(tmp_path, reextract_between):
    root = tmp_path / "site"
    shutil.copytree(SITE, root)
    fresh_for = settings(tmp_path, CARNEGIE_REFRESH_DAYS=str(REFRESH_DAYS))
    with SiteServer(root) as server:
        starts = ",".join(server.base_url + path for path in EXPECTED["start_paths"])
        first = scrapy("crawl", "commentary", "-a", f"start_urls={starts}", *settings(tmp_path))
        assert first.returncode == 0, first.stderr[-2000:]
        time.sleep(REFRESH_DAYS * 86400 + 0.5)  # every document is now due
        page = root / EDITED
        page.write_text(page.read_text(encoding="utf-8").replace("The results", "The latest results", 1))
        if reextract_between:  # the same extractor over the archive: nothing new is learnt about the site
            again = scrapy("reextract", "-a", "workers=1", *fresh_for)
            assert again.returncode == 0, again.stderr[-2000:]
        incremental = scrapy("crawl", "commentary", "-a", f"start_urls={starts}", "-a", "incremental=true", *fresh_for)
        assert incremental.returncode == 0, incremental.stderr[-2000:]
    assert (EDITED_URL, "updated") in last_records(tmp_path, "commentary"), "the edited page was not asked for"
