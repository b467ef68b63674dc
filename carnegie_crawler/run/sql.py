"""The SQL of the cross-run state: its tables and the statements that commit a run."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    url TEXT NOT NULL,
    language TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    published_date TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    last_emitted_run TEXT,
    etag TEXT,
    last_modified TEXT,
    PRIMARY KEY (url, language)
);
CREATE TABLE IF NOT EXISTS fetched_urls (
    fetched_url TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    language TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    links TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS staging (
    run_id TEXT NOT NULL,
    url TEXT NOT NULL,
    language TEXT NOT NULL,
    fetched_url TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    published_date TEXT,
    emitted INTEGER NOT NULL,
    seen_at TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    links TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (run_id, url, language, fetched_url)
);
-- For the commit's joins by address (CLEAR_DEAD_ENDS) and by document (FIND_REMOVALS): without them
-- each scans a table per row, quadratic in the run's size.
CREATE INDEX IF NOT EXISTS staging_by_address ON staging (run_id, fetched_url);
CREATE INDEX IF NOT EXISTS fetched_urls_by_document ON fetched_urls (url, language);
CREATE TABLE IF NOT EXISTS dead_ends (
    fetched_url TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS staging_dead_ends (
    run_id TEXT NOT NULL,
    fetched_url TEXT NOT NULL,
    reason TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (run_id, fetched_url)
);
CREATE TABLE IF NOT EXISTS paused_runs (run_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    committed_at TEXT NOT NULL,
    output TEXT,
    emitted INTEGER NOT NULL
);
-- A run between "publishing its files" and "its state committed" (run/recovery.py): what it published.
CREATE TABLE IF NOT EXISTS publishing (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    output TEXT,
    emitted INTEGER NOT NULL,
    manifest TEXT,
    files TEXT NOT NULL
);
"""
PROMOTE_DOCUMENTS = """
INSERT INTO documents (url, language, content_hash, published_date, first_seen, last_seen,
                       last_emitted_run, etag, last_modified)
SELECT url, language, content_hash, published_date, seen_at, seen_at,
       CASE WHEN emitted THEN run_id END, etag, last_modified
FROM staging WHERE run_id = ? ORDER BY emitted, seen_at
ON CONFLICT (url, language) DO UPDATE SET
    content_hash = excluded.content_hash,
    published_date = COALESCE(excluded.published_date, documents.published_date),
    last_seen = MAX(documents.last_seen, excluded.last_seen),  -- a re-extraction stages the archive's date
    last_emitted_run = COALESCE(excluded.last_emitted_run, documents.last_emitted_run),
    etag = excluded.etag,
    last_modified = excluded.last_modified
"""
# Dead ends that mean "this page is gone", as opposed to "this link is not a page" (a PDF).
_GONE_SQL = "(reason IN ('HTTP 404', 'HTTP 410') OR reason LIKE 'redirected away%')"
# A document is removed when none of its addresses still shows it: each is gone, or shows another
# document now (the page's canonical URL or language changed: the old key would live on beside the new
# one for good), and this run found one of them so. Not when the run merely did not reach it.
FIND_REMOVALS = f"""
WITH now_gone AS (
    SELECT fetched_url, reason FROM staging_dead_ends WHERE run_id = :run AND {_GONE_SQL}
), gone AS (
    SELECT fetched_url FROM now_gone UNION SELECT fetched_url FROM dead_ends WHERE {_GONE_SQL}
), now_shows AS (
    SELECT DISTINCT fetched_url, url, language FROM staging WHERE run_id = :run
), why AS (
    SELECT f.url, f.language, n.reason FROM fetched_urls f JOIN now_gone n ON n.fetched_url = f.fetched_url
    UNION ALL
    SELECT f.url, f.language, 'moved to ' || s.url || CASE s.language WHEN '' THEN '' ELSE ' (' || s.language || ')' END
    FROM fetched_urls f JOIN now_shows s ON s.fetched_url = f.fetched_url
    WHERE s.url != f.url OR s.language != f.language
)
SELECT d.url, d.language, MIN(w.reason)
FROM documents d
JOIN why w ON w.url = d.url AND w.language = d.language
WHERE NOT EXISTS (
    SELECT 1 FROM fetched_urls o WHERE o.url = d.url AND o.language = d.language
    AND o.fetched_url NOT IN (SELECT fetched_url FROM gone)
    AND NOT EXISTS (
        SELECT 1 FROM staging s WHERE s.run_id = :run AND s.fetched_url = o.fetched_url
        AND (s.url != d.url OR s.language != d.language)
    )
) AND NOT EXISTS (
    SELECT 1 FROM staging s WHERE s.run_id = :run AND s.url = d.url AND s.language = d.language
)
GROUP BY d.url, d.language
ORDER BY d.url, d.language
"""
PROMOTE_DEAD_ENDS = """
INSERT OR REPLACE INTO dead_ends (fetched_url, reason, last_seen)
SELECT fetched_url, reason, seen_at FROM staging_dead_ends WHERE run_id = ?
"""
# An address this run found alive again (a 200 or a 304, fetched after it last failed) is no longer a
# dead end: it counts as a live address of its document again, and is asked for as a known page.
CLEAR_DEAD_ENDS = """
DELETE FROM dead_ends WHERE fetched_url IN (
    SELECT s.fetched_url FROM staging s JOIN dead_ends d ON d.fetched_url = s.fetched_url
    WHERE s.run_id = ? AND s.seen_at >= d.last_seen
)
"""
PROMOTE_URLS = """
INSERT OR REPLACE INTO fetched_urls (fetched_url, url, language, etag, last_modified, links)
SELECT fetched_url, url, language, etag, last_modified, links FROM staging WHERE run_id = ?
"""
