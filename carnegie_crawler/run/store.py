"""Cross-run state in SQLite: which documents we have, and what they looked like.

A run stages what it saw in `staging` (durable, so a paused JOBDIR run keeps
it). Only when the run is healthy and its output published does `commit_run`
promote the staged rows to `documents`, in one transaction. A document dropped
by validation, seen by an unhealthy run or lost in a crash is therefore never
marked as seen (docs/runs.md).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import sql
from .errors import StateError, state_error

STATE_VERSION = 1


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
            self.db.executescript(sql.SCHEMA)
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

    def committed_since(self, moment: str) -> str | None:
        """The last run committed after *moment* (a `now_utc` time), if any."""
        row = self._read("SELECT run_id FROM runs WHERE committed_at > ? ORDER BY committed_at DESC LIMIT 1", (moment,))
        return str(row[0]) if row else None

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
        seen_at: str | None = None,
    ) -> None:
        """Record what this run saw (now, unless *seen_at* says when the page was fetched); it becomes
        state only in `commit_run`."""
        self._staged.append(
            (run_id, url, language or "", fetched_url, content_hash, published_date, int(emitted),
             seen_at or now_utc(), etag, last_modified, json.dumps(list(links)))
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
            rows = self._db.execute(sql.FIND_REMOVALS, {"run": run_id}).fetchall()
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
                db.execute(sql.PROMOTE_DOCUMENTS, (run_id,))
                db.execute(sql.PROMOTE_URLS, (run_id,))
                db.execute(sql.PROMOTE_DEAD_ENDS, (run_id,))
                db.execute(sql.CLEAR_DEAD_ENDS, (run_id,))
                db.execute("DELETE FROM staging_dead_ends WHERE run_id = ?", (run_id,))
                (count,) = db.execute(
                    "SELECT COUNT(DISTINCT url || char(0) || language) FROM staging WHERE run_id = ?", (run_id,)
                ).fetchone()
                db.execute("DELETE FROM staging WHERE run_id = ?", (run_id,))
                db.execute("DELETE FROM paused_runs WHERE run_id = ?", (run_id,))
                db.execute("DELETE FROM publishing WHERE run_id = ?", (run_id,))  # run/recovery.py
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


def _known(row: tuple[str, str, str, str, str | None, str | None, str] | None) -> Known | None:
    if row is None:
        return None
    url, language, content_hash, last_seen, etag, last_modified, links = row
    return Known(url, language, content_hash, _parse_time(last_seen), etag, last_modified, tuple(json.loads(links)))


def _parse_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def is_fresh(last_seen: datetime, refresh_days: float) -> bool:
    return datetime.now(UTC) - last_seen < timedelta(days=refresh_days)
