"""Publication dates, from machine-readable attributes or printed date lines."""

from __future__ import annotations

import re
from datetime import date

_ISO = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})")
_MONTHS = {
    # English, full and abbreviated
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "sept": 9, "oct": 10, "nov": 11, "dec": 12,
    # French
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6,
    "juillet": 7, "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11,
    "décembre": 12, "decembre": 12,
    # Russian (genitive, as printed in dates)
    "января": 1, "февраля": 2, "марта": 3, "апреля": 4, "мая": 5, "июня": 6, "июля": 7,
    "августа": 8, "сентября": 9, "октября": 10, "ноября": 11, "декабря": 12,
    # Arabic (Levantine and Gulf month names)
    "يناير": 1, "فبراير": 2, "مارس": 3, "أبريل": 4, "ابريل": 4, "مايو": 5, "يونيو": 6,
    "يوليو": 7, "أغسطس": 8, "اغسطس": 8, "سبتمبر": 9, "أكتوبر": 10, "اكتوبر": 10,
    "نوفمبر": 11, "ديسمبر": 12, "كانون الثاني": 1, "شباط": 2, "آذار": 3, "نيسان": 4,
    "أيار": 5, "حزيران": 6, "تموز": 7, "آب": 8, "أيلول": 9, "تشرين الأول": 10,
    "تشرين الثاني": 11, "كانون الأول": 12,
}  # fmt: skip
_ARABIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789")
_MONTH_ALT = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
# "Feb 20, 2014", "September 15, 2017"
_MDY = re.compile(rf"(?<!\w)({_MONTH_ALT})\.?\s+(\d{{1,2}}),?\s+(\d{{4}})", re.IGNORECASE)
# "20 February 2014", "20 февраля 2014", "٢٠ فبراير ٢٠١٤"
# "12 أيار/مايو 2023" prints two month names; the first one counts.
_DMY = re.compile(rf"(?<!\w)(\d{{1,2}})\s+({_MONTH_ALT})(?:/[^\s\d]+)?\.?,?\s+(\d{{4}})", re.IGNORECASE)
_CJK = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")


def _make(y: str, m: int | str, d: str) -> str | None:
    try:
        return date(int(y), int(m), int(d)).isoformat()
    except ValueError:
        return None


def iso_date(value: str | None) -> str | None:
    """`2014-02-20T05:00:00Z` -> `2014-02-20` (the date as written, no timezone shift)."""
    if not value:
        return None
    match = _ISO.match(value)
    return _make(*match.groups()) if match else None


def parse_printed_date(text: str) -> str | None:
    """Find a date in a printed line such as 'Published on Feb 20, 2014'."""
    text = text.translate(_ARABIC_DIGITS)
    if found := iso_date(text):
        return found
    if match := _MDY.search(text):
        month, day, year = match.groups()
        return _make(year, _MONTHS[month.lower()], day)
    if match := _DMY.search(text):
        day, month, year = match.groups()
        return _make(year, _MONTHS[month.lower()], day)
    if match := _CJK.search(text):
        return _make(*match.groups())
    return None
