from itemadapter import ItemAdapter
from scrapy.utils.test import get_crawler

from carnegie_crawler.extensions.health import Coverage, verdict
from carnegie_crawler.items import Publication
from carnegie_crawler.settings import CARNEGIE_MIN_COVERAGE, CARNEGIE_STUB_TYPES
from carnegie_crawler.spiders.commentary import CommentarySpider
from tests.helpers import valid_record


def crawler_with(stats: dict, **settings):
    crawler = get_crawler(
        CommentarySpider,
        {
            "CARNEGIE_MAX_INVALID_RATIO": 0.05,
            "CARNEGIE_MIN_COVERAGE": CARNEGIE_MIN_COVERAGE,
            "CARNEGIE_STUB_TYPES": CARNEGIE_STUB_TYPES,
        }
        | settings,
    )
    crawler.stats.open_spider()
    for key, value in stats.items():
        crawler.stats.set_value(key, value)
    return crawler


HEALTHY = {"carnegie/start_pages/fetched": 2, "item_scraped_count": 10, "carnegie/validation/checked": 10}


def coverage(*changes: dict) -> Coverage:
    cov = Coverage(CARNEGIE_STUB_TYPES)
    for change in changes:
        cov.add(ItemAdapter(Publication(**(valid_record() | change))))
    return cov


def test_a_clean_run_is_healthy():
    health = verdict(crawler_with(HEALTHY), "finished", coverage({}, {}))
    assert health.ok
    assert health.reasons == []


def test_an_unfinished_run_is_unhealthy():
    health = verdict(crawler_with(HEALTHY), "shutdown", coverage({}))
    assert not health.ok
    assert health.reasons == ["the crawl did not finish normally (finish reason: shutdown)"]


def test_no_start_page_fetched():
    health = verdict(crawler_with(HEALTHY | {"carnegie/start_pages/fetched": 0}), "finished", coverage({}))
    assert "no start page was fetched" in health.reasons


def test_no_items_fails_a_full_run_but_not_an_incremental_one():
    crawler = crawler_with(HEALTHY | {"item_scraped_count": 0})
    assert "the run produced no items" in verdict(crawler, "finished", coverage()).reasons
    crawler.spider = CommentarySpider(incremental="true")
    assert verdict(crawler, "finished", coverage()).ok


def test_too_many_invalid_items():
    stats = HEALTHY | {"carnegie/validation/checked": 20, "carnegie/validation/dropped": 2}
    health = verdict(crawler_with(stats), "finished", coverage({}))
    assert health.reasons == ["2 of 20 items were invalid (10% > 5%)"]
    assert verdict(crawler_with(stats, CARNEGIE_MAX_INVALID_RATIO=0.2), "finished", coverage({})).ok


def test_a_field_emptied_by_a_redesign_is_named():
    items = [{"published_date": None}] * 3 + [{}]
    health = verdict(crawler_with(HEALTHY), "finished", coverage(*items))
    assert health.reasons == ["field 'published_date' is filled in 25% of items, below 90%"]


def test_stub_types_do_not_count_against_authors_and_body():
    items = [{}, {}, {"content_type": "pressRelease", "authors": [], "body": None, "word_count": 0}]
    assert verdict(crawler_with(HEALTHY), "finished", coverage(*items)).ok


def test_coverage_shares_are_reported_per_field():
    shares = coverage({}, {"subtitle": "A dek"}).shares()
    assert shares["title"] == 1.0
    assert shares["subtitle"] == 0.5
    assert "crawled_at" not in shares
