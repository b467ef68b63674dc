from itemadapter import ItemAdapter
from scrapy.settings import Settings

from carnegie_crawler.items import Publication
from carnegie_crawler.run.config import RunConfig
from carnegie_crawler.run.health import Coverage, Health, verdict
from carnegie_crawler.settings import CARNEGIE_STUB_TYPES
from tests.helpers import project_settings, valid_record


def config_with(**settings) -> RunConfig:
    return RunConfig.from_settings(Settings(project_settings(**settings)))


def judge(stats: dict, reason: str = "finished", cov: Coverage | None = None, *, written: int | None = None,
          incremental: bool = False, filtered: bool = False, **settings) -> Health:  # fmt: skip
    cov = cov if cov is not None else coverage({})
    lines = stats.get("item_scraped_count", 0) if written is None else written
    return verdict(
        reason, stats, cov, config_with(**settings), written=lines, incremental=incremental, filtered=filtered
    )


HEALTHY = {"carnegie/start_pages/fetched": 2, "item_scraped_count": 10, "carnegie/validation/checked": 10}


def coverage(*changes: dict) -> Coverage:
    cov = Coverage(CARNEGIE_STUB_TYPES)
    for change in changes:
        cov.add(ItemAdapter(Publication(**(valid_record() | change))))
    return cov


def test_a_clean_run_is_healthy():
    health = judge(HEALTHY, cov=coverage({}, {}))
    assert health.ok
    assert health.reasons == []


def test_an_unfinished_run_is_unhealthy():
    health = judge(HEALTHY, "shutdown")
    assert not health.ok
    assert health.reasons == ["the crawl did not finish normally (finish reason: shutdown)"]


def test_no_start_page_fetched():
    assert "no start page was fetched" in judge(HEALTHY | {"carnegie/start_pages/fetched": 0}).reasons


def test_no_items_fails_a_full_run_but_not_an_incremental_or_filtered_one():
    empty = HEALTHY | {"item_scraped_count": 0}
    assert "the run produced no items" in judge(empty, cov=coverage()).reasons
    assert judge(empty, cov=coverage(), incremental=True).ok
    assert judge(empty, cov=coverage(), filtered=True).ok, "a types= or since= filter that matched nothing"


def test_too_many_invalid_items():
    stats = HEALTHY | {"carnegie/validation/checked": 20, "carnegie/validation/dropped": 2}
    assert judge(stats).reasons == ["2 of 20 items were invalid (10% > 5%)"]
    assert judge(stats, CARNEGIE_MAX_INVALID_RATIO=0.2).ok


def test_a_field_emptied_by_a_redesign_is_named():
    items = [{"published_date": None}] * 15 + [{}] * 5
    health = judge(HEALTHY, cov=coverage(*items))
    assert health.reasons == ["field 'published_date' is filled in 25% of items, below 90%"]


def test_coverage_needs_a_minimum_sample():
    one_update_without_author = coverage({"authors": []})
    assert judge(HEALTHY, cov=one_update_without_author, incremental=True).ok
    assert not judge(HEALTHY, cov=one_update_without_author, CARNEGIE_COVERAGE_MIN_ITEMS=1).ok


def test_stub_types_do_not_count_against_authors_and_body():
    items = [{}] * 20 + [{"content_type": "pressRelease", "authors": [], "body": None, "word_count": 0}]
    assert judge(HEALTHY, cov=coverage(*items)).ok


def test_coverage_shares_are_reported_per_field():
    shares = coverage({}, {"subtitle": "A dek"}).shares()
    assert shares["title"] == 1.0
    assert shares["subtitle"] == 0.5
    assert "crawled_at" not in shares
