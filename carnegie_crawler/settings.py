"""Project settings. Every value here can be overridden with `scrapy crawl ... -s NAME=VALUE`."""

BOT_NAME = "carnegie_crawler"
SPIDER_MODULES = ["carnegie_crawler.spiders"]
NEWSPIDER_MODULE = "carnegie_crawler.spiders"
# Our own `crawl` (argument checks, clean one-line errors) and `demo` commands.
COMMANDS_MODULE = "carnegie_crawler.commands"

# --- Politeness: one small team's crawler against a public site -------------
# Identify ourselves and give the site a way to reach us.
USER_AGENT = "carnegie-crawler/0.1 (+https://example.org/carnegie-crawler; contact: data-team@example.org)"
# The site publishes robots.txt; we honour it.
ROBOTSTXT_OBEY = True
# Few parallel requests to one host; the whole crawl is a few thousand pages.
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 2
# A base delay, which AutoThrottle then adapts to the server's latency.
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
# Transient failures (rate limiting, server errors, timeouts) are retried.
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
# The spider's errback logs each failed request once; Scrapy's own give-up line would repeat it.
RETRY_GIVE_UP_LOG_LEVEL = "DEBUG"
# Old addresses redirect once; a chain longer than this is a loop or a trap.
REDIRECT_MAX_TIMES = 5
# A connection cut mid-body still gives us most of a page: extract it (and count it) rather than lose it.
DOWNLOAD_FAIL_ON_DATALOSS = False
# Publication pages are well under 1 MB; anything past 10 MB is not one.
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
# Scrapy hands a page's items and requests to this many parallel slots, each an asyncio task made
# per page (default 100). Our pipelines never wait on I/O, so slots past a few only cost time.
CONCURRENT_ITEMS = 8
# A hung connection must not stall a scheduled run.
DOWNLOAD_TIMEOUT = 30
# Cookies are not needed to read public pages.
COOKIES_ENABLED = False

# Unattended runs need no interactive consoles; both open local ports that run code.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

# Redirect targets get the same URL normalisation as card links.
DOWNLOADER_MIDDLEWARES = {
    "carnegie_crawler.middlewares.NormalizeUrlMiddleware": 50,
    # Scrapy's own gives the rules only to the first request waiting on robots.txt, and reads a
    # robots.txt that answers 5xx as allow-all; ours fixes both (carnegie_crawler/robots.py).
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "carnegie_crawler.robots.RobotsTxtMiddleware": 100,
    # Near the downloader: it sees every response as received, redirects and robots.txt included.
    "carnegie_crawler.archive.middleware.ArchiveMiddleware": 950,
}

# --- Logging ----------------------------------------------------------------
LOG_LEVEL = "INFO"
# Dropped items are logged as one line with their reasons, without the item dump.
LOG_FORMATTER = "carnegie_crawler.logformatter.CarnegieLogFormatter"

# --- Items ------------------------------------------------------------------
ITEM_PIPELINES = {
    "carnegie_crawler.pipelines.validation.ValidationPipeline": 100,
    "carnegie_crawler.pipelines.dedupe.DedupePipeline": 200,
    "carnegie_crawler.pipelines.changes.ChangesPipeline": 300,
    "carnegie_crawler.pipelines.writer.JsonLinesWriterPipeline": 900,
}
EXTENSIONS = {
    # Owns the run from start to exit: id, lock, output, state, manifest, exit status (docs/runs.md).
    "carnegie_crawler.run.owner.RunOwner": 100,
    "carnegie_crawler.extensions.workers.ExtractionWorkers": 400,
}
# Worker processes that parse pages, for fast mirror crawls; a polite crawl (one page a second)
# spends 2-3 ms per page on extraction, so by default pages are extracted in the crawl's process.
CARNEGIE_EXTRACT_WORKERS = 0
# Feed exports (-o/-O) keep non-ASCII text readable, like our own writer.
FEED_EXPORT_ENCODING = "utf-8"
# In CSV, list and object fields are JSON strings that any CSV reader can parse back.
FEED_EXPORTERS = {"csv": "carnegie_crawler.exporters.JsonFieldsCsvItemExporter"}

# Where the dataset goes: one JSON object per line, renamed into place when a healthy run ends.
# %(run_id)s is unique per run (spider name, start time in UTC, random suffix); %(time)s and
# %(name)s are the start time and spider name alone. Empty: off.
CARNEGIE_OUTPUT = "data/%(run_id)s.jsonl"
# Items that fail the schema, with their reasons, so nothing is lost silently. Kept out of data/*.jsonl.
CARNEGIE_REJECTS = "data/rejects/%(run_id)s.jsonl"
# The JSON Schema every item is validated against (empty: the bundled schema).
CARNEGIE_SCHEMA = ""

# --- Scheduled runs -----------------------------------------------------------
# Cross-run state (SQLite): what each document looked like when last written.
CARNEGIE_STATE = "data/state.sqlite3"
# Incremental runs emit only new and changed documents (also: -a incremental=true).
CARNEGIE_INCREMENTAL = False
# In incremental runs, a known document is fetched again (conditionally) after this many days.
CARNEGIE_REFRESH_DAYS = 7
# A second run on the same state file waits this many seconds for the first, then exits 3.
CARNEGIE_LOCK_TIMEOUT = 60
# Cards followed from one page: a real page lists a dozen; a trap page could list 50,000.
CARNEGIE_MAX_CARDS_PER_PAGE = 200
# The dataset every healthy run folds its output into (documents.parquet, history.parquet, a card and a
# datapackage.json), for consumers to load in one line; `scrapy dataset` rebuilds it. Empty: off.
CARNEGIE_DATASET = "data/dataset"
# Every response fetched, kept per run as a gzip-compressed WARC file (<run id>.warc.gz), published with the
# output, so `scrapy reextract` can rebuild the dataset without a request. Empty: off.
CARNEGIE_ARCHIVE = "data/archive"
# The run manifest; empty: next to the output, as <output>.manifest.json.
CARNEGIE_MANIFEST = ""
# Health: the run fails (non-zero exit) when more items than this share are invalid...
CARNEGIE_MAX_INVALID_RATIO = 0.05
# ...or when a field is filled in fewer items than this (date, authors, body: non-stub types only).
CARNEGIE_MIN_COVERAGE = {"title": 1.0, "published_date": 0.9, "authors": 0.8, "body": 0.9}
# Coverage is judged only from this many items on: a share of three items says nothing.
CARNEGIE_COVERAGE_MIN_ITEMS = 20
# Types whose pages are stubs (no author or a one-line body) by nature.
CARNEGIE_STUB_TYPES = ["legacyinthemedia", "pressRelease"]
# A one-line progress status (pages, items, rates) at INFO level, every minute.
LOGSTATS_INTERVAL = 60.0
