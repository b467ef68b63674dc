"""Cross-run state in SQLite: which documents we have, and what they looked like.

A run stages what it saw in `staging` (durable, so a paused JOBDIR run keeps
it). Only when the run is healthy and its output published does `commit_run`
promote the staged rows to `documents`, in one transaction. A document dropped
by validation, seen by an unhealthy run or lost in a crash is therefore never
marked as seen (docs/runs.md).
"""

from __future__ import annotations

import errno
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
CREATE TABLE IF NOT EXISTS paused_runs (run_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    committed_at TEXT NOT NULL,
    output TEXT,
    emitted INTEGER NOT NULL
);
"""


class StateError(Exception):
    """The state database cannot be used; the message says which file, what happened and what to do."""

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind  # locked, read-only, disk-full, corrupt, foreign, version, io


# What an SQLite result code means for the operator. Only a failed integrity check (or a
# file that is not a database) is "corrupt": a locked, read-only or full file is healthy
# history that must never be thrown away on our advice.
_KINDS = (
    (("SQLITE_BUSY", "SQLITE_LOCKED"), "locked", "is locked by another program; try again when it is done"),
    (("SQLITE_READONLY",), "read-only", "is read-only; make it and its directory writable"),
    (("SQLITE_FULL",), "disk-full", "cannot be written: the disk is full; free some space"),
    (("SQLITE_CORRUPT",), "corrupt", "is corrupt"),
    (("SQLITE_NOTADB",), "corrupt", "is corrupt (SQLite cannot read it as a database); move it away or fix it"),
    (("SQLITE_CANTOPEN",), "io", "cannot be opened; check the path and its directory"),
)


def state_error(path: Path, exc: BaseException, doing: str) -> StateError:
    """One StateError with a message that names the cause, from an sqlite3 or OS error."""
    if isinstance(exc, StateError):
        return exc
    name = str(getattr(exc, "sqlite_errorname", ""))
    for prefixes, kind, words in _KINDS:
        if name.startswith(prefixes):
            detail = f" ({exc}); move it away or fix it" if kind == "corrupt" and "move it" not in words else ""
            return StateError(f"state file {path} {words}{detail} [{doing}]", kind)
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return StateError(f"state file {path} cannot be written: the disk is full [{doing}]", "disk-full")
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return StateError(f"state file {path} is read-only ({exc.strerror}) [{doing}]", "read-only")
        return StateError(f"state file {path}: {exc.strerror or exc} [{doing}]", "io")
    return StateError(f"state file {path}: {exc} [{doing}]", "io")


@dataclass(frozen=True)
class Removal:
    """A document a run found removed (docs/runs.md, "Removals")."""

    url: str
    language: str | None
    reason: str


@dataclass(frozen=True)
class Known:
    """What the last committed run knew of a document."""

    url: str
    language: str
    content_hash: str
    last_seen: datetime
    etag: str | None
    last_modified: str | None
    # Card links of the page at that URL: a 304 or a fresh page has no body to read, so the
    # crawl follows these (docs/runs.md, "No gaps").
    links: tuple[str, ...] = ()


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StateStore:
    """One SQLite file (WAL mode). Never recreated silently: a bad file is an error.

    Every write runs in `transaction()`, which rolls back on any error, so one failed
    statement (a full disk, say) never leaves the connection inside a broken transaction.
    Staged rows are buffered and written in batches of *batch*.
    """

    def __init__(self, path: Path, batch: int = 200, busy_timeout: float = 5.0) -> None:
        self.path = path
        self.batch = batch
        self._staged: list[tuple[Any, ...]] = []
        self._staged_dead_ends: list[tuple[str, str, str, str]] = []
        existed = path.exists()
        self.db: sqlite3.Connection | None = None
        try:
            if existed and path.stat().st_size > 0:
                with open(path, "rb") as fh:
                    if fh.read(16) != b"SQLite format 3\x00":
                        raise StateError(
                            f"state file {path} is not an SQLite database; move it away or fix it", "foreign"
                        )
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            if existed:
                self._check()
            # executescript commits on its own (each CREATE is idempotent), so no transaction() here.
            self.db.executescript(_SCHEMA)
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('state_version', ?)", (str(STATE_VERSION),))
        except (sqlite3.Error, OSError, StateError) as exc:
            self._close_quietly()
            raise state_error(path, exc, "opening") from None

    def _check(self) -> None:
        db = self._db
        (result,) = db.execute("PRAGMA quick_check").fetchone()
        if result != "ok":
            raise StateError(
                f"state file {self.path} failed its integrity check ({result}); move it away or fix it", "corrupt"
            )
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" in tables:
            row = db.execute("SELECT value FROM meta WHERE key='state_version'").fetchone()
            if row and row[0] != str(STATE_VERSION):
                raise StateError(
                    f"state file {self.path} has version {row[0]}, this crawler reads {STATE_VERSION}", "version"
                )
        elif tables:
            raise StateError(f"state file {self.path} is an SQLite file of another program", "foreign")

    @property
    def _db(self) -> sqlite3.Connection:
        if self.db is None:
            raise StateError(f"state file {self.path} is closed", "io")
        return self.db

    @contextmanager
    def transaction(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        """BEGIN ... COMMIT; any error rolls back, so the connection is always usable afterwards."""
        db = self._db
        db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    # -- reading ----------------------------------------------------------------
    def lookup_url(self, fetched_url: str) -> Known | None:
        """The document last seen at *fetched_url*, if a committed run fetched it."""
        row = self._read(
            "SELECT d.url, d.language, d.content_hash, d.last_seen, f.etag, f.last_modified, f.links"
            " FROM fetched_urls f JOIN documents d ON d.url = f.url AND d.language = f.language"
            " WHERE f.fetched_url = ?",
            (fetched_url,),
        )
        return _known(row)

    def lookup_document(self, url: str, language: str | None) -> Known | None:
        row = self._read(
            "SELECT url, language, content_hash, last_seen, etag, last_modified, '[]' FROM documents"
            " WHERE url = ? AND language = ?",
            (url, language or ""),
        )
        return _known(row)

    def dead_end_seen(self, fetched_url: str) -> datetime | None:
        """When a committed run last found *fetched_url* gone (404/410) or not a page (a PDF)."""
        row = self._read("SELECT last_seen FROM dead_ends WHERE fetched_url = ?", (fetched_url,))
        return _parse_time(row[0]) if row else None

    def last_run(self) -> str | None:
        """The id of the last committed run."""
        row = self._read("SELECT run_id FROM runs ORDER BY committed_at DESC, rowid DESC LIMIT 1", ())
        return str(row[0]) if row else None

    def _read(self, sql: str, args: tuple[Any, ...]) -> Any:
        try:
            return self._db.execute(sql, args).fetchone()
        except sqlite3.Error as exc:
            raise state_error(self.path, exc, "reading") from None

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
        self._staged.append(
            (run_id, url, language or "", fetched_url, content_hash, published_date, int(emitted), now_utc(),
             etag, last_modified, json.dumps(list(links)))
        )  # fmt: skip
        if len(self._staged) + len(self._staged_dead_ends) >= self.batch:
            self.flush()

    def stage_dead_end(self, run_id: str, fetched_url: str, reason: str) -> None:
        self._staged_dead_ends.append((run_id, fetched_url, reason, now_utc()))
        if len(self._staged) + len(self._staged_dead_ends) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Write the buffered staged rows (durable, so a paused JOBDIR run keeps them)."""
        if not self._staged and not self._staged_dead_ends:
            return
        try:
            with self.transaction() as db:
                db.executemany("INSERT OR REPLACE INTO staging VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", self._staged)
                db.executemany("INSERT OR REPLACE INTO staging_dead_ends VALUES (?, ?, ?, ?)", self._staged_dead_ends)
        except (sqlite3.Error, OSError) as exc:
            raise state_error(self.path, exc, "staging") from None
        self._staged.clear()
        self._staged_dead_ends.clear()

    def find_removals(self, run_id: str) -> list[Removal]:
        """Documents this run found gone: every URL they were fetched from is now a dead end, one of them in
        this run, and the run did not see them alive elsewhere. A document merely no longer linked is not."""
        self.flush()
        try:
            rows = self._db.execute(_FIND_REMOVALS, {"run": run_id}).fetchall()
        except sqlite3.Error as exc:
            raise state_error(self.path, exc, "looking for removed documents") from None
        return [Removal(url, language or None, reason) for url, language, reason in rows]

    def commit_run(
        self, run_id: str, started_at: str, output: str | None, emitted: int, removed: Sequence[Removal] = ()
    ) -> int:
        """Promote the run's staged rows to documents and drop *removed* ones, in one transaction.

        Returns the count of documents the run saw.
        """
        self.flush()
        db = self._db
        try:
            db.execute("PRAGMA synchronous=FULL")
            with self.transaction(immediate=True):
                for gone in removed:  # before the promotion: the run did not see these alive
                    key = (gone.url, gone.language or "")
                    db.execute("DELETE FROM documents WHERE url = ? AND language = ?", key)
                    db.execute("DELETE FROM fetched_urls WHERE url = ? AND language = ?", key)
                db.execute(_PROMOTE_DOCUMENTS, (run_id,))
                db.execute(_PROMOTE_URLS, (run_id,))
                db.execute(_PROMOTE_DEAD_ENDS, (run_id,))
                db.execute("DELETE FROM staging_dead_ends WHERE run_id = ?", (run_id,))
                (count,) = db.execute(
                    "SELECT COUNT(DISTINCT url || char(0) || language) FROM staging WHERE run_id = ?", (run_id,)
                ).fetchone()
                db.execute("DELETE FROM staging WHERE run_id = ?", (run_id,))
                db.execute("DELETE FROM paused_runs WHERE run_id = ?", (run_id,))
                db.execute(
                    "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?)",
                    (run_id, started_at, now_utc(), output, emitted),
                )
        except (sqlite3.Error, OSError) as exc:
            raise state_error(self.path, exc, "committing the run") from None
        finally:
            with suppress(sqlite3.Error):
                db.execute("PRAGMA synchronous=NORMAL")
        return int(count)

    def discard_runs(self, keep: str | None = None) -> int:
        """Drop staged rows of runs that died or ended unhealthy: every run but *keep* and the paused ones
        (a paused JOBDIR run resumes with its rows). Returns the row count."""
        self._staged = [row for row in self._staged if row[0] == keep]
        self._staged_dead_ends = [row for row in self._staged_dead_ends if row[0] == keep]
        kept = "run_id IS NOT ? AND run_id NOT IN (SELECT run_id FROM paused_runs)"
        try:
            with self.transaction() as db:
                gone = db.execute(f"DELETE FROM staging WHERE {kept}", (keep,)).rowcount
                db.execute(f"DELETE FROM staging_dead_ends WHERE {kept}", (keep,))
        except (sqlite3.Error, OSError) as exc:
            raise state_error(self.path, exc, "discarding staged rows") from None
        return int(gone)

    def drop_run(self, run_id: str) -> None:
        """Forget everything *run_id* staged: it ended unhealthy, or its job cannot resume."""
        self._staged = [row for row in self._staged if row[0] != run_id]
        self._staged_dead_ends = [row for row in self._staged_dead_ends if row[0] != run_id]
        try:
            with self.transaction() as db:
                for table in ("staging", "staging_dead_ends", "paused_runs"):
                    db.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
        except (sqlite3.Error, OSError) as exc:
            raise state_error(self.path, exc, "dropping a run's staged rows") from None

    def pause_run(self, run_id: str) -> None:
        """Keep *run_id*'s staged rows until it resumes: other runs on this state must not drop them."""
        self.flush()
        try:
            with self.transaction() as db:
                db.execute("INSERT OR IGNORE INTO paused_runs VALUES (?)", (run_id,))
        except (sqlite3.Error, OSError) as exc:
            raise state_error(self.path, exc, "pausing the run") from None

    def close(self) -> None:
        """Write what is buffered and close; the connection is closed even when the write fails."""
        try:
            self.flush()
        finally:
            self._close_quietly()

    def _close_quietly(self) -> None:
        if self.db is not None:
            with suppress(sqlite3.Error):
                self.db.close()
            self.db = None


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
# Dead ends that mean "this page is gone", as opposed to "this link is not a page" (a PDF).
_GONE_SQL = "(reason IN ('HTTP 404', 'HTTP 410') OR reason LIKE 'redirected away%')"
_FIND_REMOVALS = f"""
WITH now_gone AS (
    SELECT fetched_url, reason FROM staging_dead_ends WHERE run_id = :run AND {_GONE_SQL}
), gone AS (
    SELECT fetched_url FROM now_gone UNION SELECT fetched_url FROM dead_ends WHERE {_GONE_SQL}
)
SELECT d.url, d.language, MIN(n.reason)
FROM documents d
JOIN fetched_urls f ON f.url = d.url AND f.language = d.language
JOIN now_gone n ON n.fetched_url = f.fetched_url
WHERE NOT EXISTS (
    SELECT 1 FROM fetched_urls o WHERE o.url = d.url AND o.language = d.language
    AND o.fetched_url NOT IN (SELECT fetched_url FROM gone)
) AND NOT EXISTS (
    SELECT 1 FROM staging s WHERE s.run_id = :run AND s.url = d.url AND s.language = d.language
)
GROUP BY d.url, d.language
ORDER BY d.url, d.language
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
