"""Words the site prints, used to recognise parts of a page by their text."""

from __future__ import annotations

import re

# Printed eyebrow / card type label -> metadata `type` value (docs/site.md, "Anatomy").
TYPE_LABELS = {
    "commentary": "commentary",
    "in the media": "legacyinthemedia",
    "press release": "pressRelease",
    "event": "event",
    "q&a": "qa",
    "other": "other",
    "testimony": "testimony",
    "article": "article",
}
# Metadata `type` values the spider's `types` argument accepts (lower-case key -> value).
# Beyond the printed labels, the site has more kinds of publication (docs/site.md, "URLs").
KNOWN_TYPES = {v.lower(): v for v in (*TYPE_LABELS.values(), "research", "report", "paper", "podcast", "book", "video")}

BLOGS = {"diwan": "Diwan", "carnegie politika": "Carnegie Politika", "politika": "Carnegie Politika"}
BLOG_PATHS = {"diwan": "Diwan", "politika": "Carnegie Politika"}

# Section headings, in English and in the site's translations (ar, fr, ru); a trailing colon is allowed.
RECENT_WORK = re.compile(r"^(?:recent work|أحدث الأعمال|travaux récents|последние работы)\s*:?$", re.IGNORECASE)
MORE_WORK = re.compile(r"^(?:more work from|المزيد من أعمال|plus de travaux d|больше работ)", re.IGNORECASE)
ABOUT_AUTHORS = re.compile(
    r"^(?:about the authors?|عن (?:الكاتب|الكتّاب|الكتاب|المؤلف|المؤلفين)|à propos de l.auteur|à propos des auteurs"
    r"|об авторе|об авторах)\s*:?$",
    re.IGNORECASE,
)
NOTES = re.compile(r"^(?:(?:end|foot)?notes|الهوامش|notes de bas de page|примечания)\s*:?$", re.IGNORECASE)
# Section headings that end the article body wherever they appear.
NON_BODY_SECTIONS = (RECENT_WORK, MORE_WORK, ABOUT_AUTHORS, NOTES)

BYLINE = re.compile(r"^(?:by|بقلم|par|автор|авторы)\s*:?\s+(?=\S)", re.IGNORECASE)
BYLINE_WORDS = frozenset({"by", "بقلم", "par", "автор", "авторы"})
DATELINE = re.compile(
    r"^(?:published\s+on|published|updated\s+on|نُشر في|نشر في|publié le|опубликовано)(?!\w)[:\s]*", re.IGNORECASE
)
SOURCE_LINE = re.compile(r"^(?:source|المصدر|источник)\s*:\s*", re.IGNORECASE)
ORIGIN_LINE = re.compile(
    r"^(?:(?:this|the|an?)\b[^.]{0,60}?\b)?originally\s+(?:published|appeared)\s+(?:in|on|by)\s+"
    r"((?-i:[A-Z\u0100-\uffff]|the\s).{0,120}?)"
    r"(?:\s+on\s+[^.]*\d{4})?(?:\.\s*|\s+|$)(?:read (?:the )?full text\W*)?$",
    re.IGNORECASE,
)
READ_FULL_TEXT = re.compile(r"^read (?:the )?full text\b", re.IGNORECASE)
BOILERPLATE = re.compile(
    r"^(?:link copied|copy link|share(?: on \w+)?|project|learn more|read more|read full text|sign up)$"
    r"|^get more news and analysis from\b|^this site uses cookies\b|^(?:تم )?نسخ الرابط$"
    r"|does not take institutional positions",
    re.IGNORECASE,
)
# The disclaimer, matched as lower-case words: a substring test, not a regex scan of every line.
DISCLAIMER_WORDS = "does not take institutional positions"
TITLE_SUFFIX = re.compile(r"\s+[|–—-]\s+Carnegie Endowment for International Peace\s*$", re.IGNORECASE)
NAME_SUFFIX = re.compile(r"^(?:jr|sr|ii|iii|iv|v|phd|md|esq)\.?$", re.IGNORECASE)
