"""Cross-run state in SQLite: which documents we have, and what they looked like.

A run stages what it saw in `staging` (durable, so a paused JOBDIR run keeps
it). Only after the run's output file is committed does `commit_run` promote
the staged rows to `documents` in one transaction. A document dropped by
validation, or lost in a crash, is therefore never marked as seen.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

STATE_VERSION = 1
_SCHEMA = """
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
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    committed_at TEXT NOT NULL,
    output TEXT,
    emitted INTEGER NOT NULL
);
"""


class StateError(Exception):
    """The state database cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class Known:
    """What the last committed run knew of a document."""

    url: str
    language: str
    content_hash: str
    last_seen: datetime
    etag: str | None
    last_modified: str | None
    # Card links of the page at that URL: a 304 has no body, so the crawl follows these.
    links: tuple[str, ...] = ()


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StateStore:
    """One SQLite file (WAL mode). Never recreated silently: a bad file is an error."""

    def __init__(self, path: Path, batch: int = 200) -> None:
        self.path = path
        self.batch = batch
        self._pending = 0
        existed = path.exists()
        try:
            if existed and path.stat().st_size > 0:
                with open(path, "rb") as fh:
                    if fh.read(16) != b"SQLite format 3\x00":
                        raise StateError(f"state file {path} is not an SQLite database; move it away or fix it")
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            if existed:
                self._check()
            self.db.executescript(_SCHEMA)
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('state_version', ?)", (str(STATE_VERSION),))
        except sqlite3.DatabaseError as exc:
            raise StateError(f"state file {path} is unreadable or corrupt ({exc}); move it away or fix it") from None
        except OSError as exc:
            raise StateError(f"cannot open state file {path}: {exc.strerror or exc}") from None

    def _check(self) -> None:
        (result,) = self.db.execute("PRAGMA quick_check").fetchone()
        if result != "ok":
            raise StateError(f"state file {self.path} failed its integrity check ({result}); move it away or fix it")
        tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" in tables:
            row = self.db.execute("SELECT value FROM meta WHERE key='state_version'").fetchone()
            if row and row[0] != str(STATE_VERSION):
                raise StateError(f"state file {self.path} has version {row[0]}, this crawler reads {STATE_VERSION}")
        elif tables:
            raise StateError(f"state file {self.path} is an SQLite file of another program")

    # -- reading ----------------------------------------------------------------
    def lookup_url(self, fetched_url: str) -> Known | None:
        """The document last seen at *fetched_url*, if a committed run fetched it."""
        row = self.db.execute(
            "SELECT d.url, d.language, d.content_hash, d.last_seen, f.etag, f.last_modified, f.links"
            " FROM fetched_urls f JOIN documents d ON d.url = f.url AND d.language = f.language"
            " WHERE f.fetched_url = ?",
            (fetched_url,),
        ).fetchone()
        return _known(row)

    def lookup_document(self, url: str, language: str | None) -> Known | None:
        row = self.db.execute(
            "SELECT url, language, content_hash, last_seen, etag, last_modified, '[]' FROM documents"
            " WHERE url = ? AND language = ?",
            (url, language or ""),
        ).fetchone()
        return _known(row)

    def dead_end_seen(self, fetched_url: str) -> datetime | None:
        """When a committed run last found *fetched_url* gone (404/410) or not a page (a PDF)."""
        row = self.db.execute("SELECT last_seen FROM dead_ends WHERE fetched_url = ?", (fetched_url,)).fetchone()
        return _parse_time(row[0]) if row else None

    # -- writing ----------------------------------------------------------------
    def stage(
        self,
        run_id: str,
        *,
        url: str,
        language: str | None,
        fetched_url: str,
        content_hash: str,
        published_date: str | None,
        emitted: bool,
        etag: str | None = None,
        last_modified: str | None = None,
        links: Sequence[str] = (),
    ) -> None:
        """Record what this run saw; it becomes state only in `commit_run`."""
        self._begin()
        self.db.execute(
            "INSERT OR REPLACE INTO staging VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, url, language or "", fetched_url, content_hash, published_date, int(emitted), now_utc(),
             etag, last_modified, json.dumps(list(links))),
        )  # fmt: skip
        self._count()

    def stage_dead_end(self, run_id: str, fetched_url: str, reason: str) -> None:
        self._begin()
        self.db.execute(
            "INSERT OR REPLACE INTO staging_dead_ends VALUES (?, ?, ?, ?)", (run_id, fetched_url, reason, now_utc())
        )
        self._count()

    def _begin(self) -> None:
        if self._pending == 0:
            self.db.execute("BEGIN")

    def _count(self) -> None:
        self._pending += 1
        if self._pending >= self.batch:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.db.execute("COMMIT")
            self._pending = 0

    def commit_run(self, run_id: str, started_at: str, output: str | None, emitted: int) -> int:
        """Promote the run's staged rows to documents, in one transaction. Returns the document count."""
        self.flush()
        self.db.execute("PRAGMA synchronous=FULL")
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(_PROMOTE_DOCUMENTS, (run_id,))
            self.db.execute(_PROMOTE_URLS, (run_id,))
            self.db.execute(_PROMOTE_DEAD_ENDS, (run_id,))
            self.db.execute("DELETE FROM staging_dead_ends WHERE run_id = ?", (run_id,))
            (count,) = self.db.execute(
                "SELECT COUNT(DISTINCT url || char(0) || language) FROM staging WHERE run_id = ?", (run_id,)
            ).fetchone()
            self.db.execute("DELETE FROM staging WHERE run_id = ?", (run_id,))
            self.db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?)", (run_id, started_at, now_utc(), output, emitted)
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        finally:
            self.db.execute("PRAGMA synchronous=NORMAL")
        return int(count)

    def close(self) -> None:
        self.flush()
        self.db.close()


_PROMOTE_DOCUMENTS = """
INSERT INTO documents (url, language, content_hash, published_date, first_seen, last_seen,
                       last_emitted_run, etag, last_modified)
SELECT url, language, content_hash, published_date, seen_at, seen_at,
       CASE WHEN emitted THEN run_id END, etag, last_modified
FROM staging WHERE run_id = ? ORDER BY emitted, seen_at
ON CONFLICT (url, language) DO UPDATE SET
    content_hash = excluded.content_hash,
    published_date = COALESCE(excluded.published_date, documents.published_date),
    last_seen = excluded.last_seen,
    last_emitted_run = COALESCE(excluded.last_emitted_run, documents.last_emitted_run),
    etag = excluded.etag,
    last_modified = excluded.last_modified
"""
_PROMOTE_DEAD_ENDS = """
INSERT OR REPLACE INTO dead_ends (fetched_url, reason, last_seen)
SELECT fetched_url, reason, seen_at FROM staging_dead_ends WHERE run_id = ?
"""
_PROMOTE_URLS = """
INSERT OR REPLACE INTO fetched_urls (fetched_url, url, language, etag, last_modified, links)
SELECT fetched_url, url, language, etag, last_modified, links FROM staging WHERE run_id = ?
"""


def _known(row: tuple[str, str, str, str, str | None, str | None, str] | None) -> Known | None:
    if row is None:
        return None
    url, language, content_hash, last_seen, etag, last_modified, links = row
    return Known(url, language, content_hash, _parse_time(last_seen), etag, last_modified, tuple(json.loads(links)))


def _parse_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def is_fresh(last_seen: datetime, refresh_days: float) -> bool:
    return datetime.now(UTC) - last_seen < timedelta(days=refresh_days)
