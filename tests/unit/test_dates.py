import pytest

from carnegie_crawler.extraction.dates import iso_date, parse_printed_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Published on Feb 20, 2014", "2014-02-20"),
        ("September 15, 2017", "2017-09-15"),
        ("Published on Sept. 3, 2020", "2020-09-03"),
        ("20 February 2014", "2014-02-20"),
        ("نُشر في ٢٠ فبراير ٢٠١٤", "2014-02-20"),
        ("20 февраля 2014", "2014-02-20"),
        ("publié le 3 mars 2021", "2021-03-03"),
        ("Feb 30, 2014", None),
        ("Published recently", None),
    ],
)
def test_printed_dates(text, expected):
    assert parse_printed_date(text) == expected


def test_iso_date_keeps_the_written_day():
    assert iso_date("2014-02-20T05:00:00Z") == "2014-02-20"
    assert iso_date("2014-02-20T23:30:00-05:00") == "2014-02-20"
    assert iso_date("not a date") is None
    assert iso_date(None) is None
