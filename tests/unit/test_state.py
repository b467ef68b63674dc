import errno
import sqlite3

import pytest

from carnegie_crawler.run.store import StateError, StateStore, state_error


def stage(store: StateStore, run: str, url: str = "https://c.org/posts/2020/01/a?lang=en", **kw) -> None:
    row = {
        "url": url, "language": "en", "fetched_url": url, "content_hash": "h1",
        "published_date": "2020-01-01", "emitted": True, "etag": '"e1"', "links": ["https://c.org/posts/2020/01/b"],
    } | kw  # fmt: skip
    store.stage(run, **row)


def test_staged_rows_are_not_state_until_the_run_commits(tmp_path):
    store = StateStore(tmp_path / "s.db")
    stage(store, "run-1")
    store.flush()
    assert store.lookup_url("https://c.org/posts/2020/01/a?lang=en") is None
    assert store.commit_run("run-1", "2026-11-25T00:00:00Z", "out.jsonl", 1) == 1
    known = store.lookup_url("https://c.org/posts/2020/01/a?lang=en")
    assert known is not None
    assert (known.content_hash, known.etag, known.links) == ("h1", '"e1"', ("https://c.org/posts/2020/01/b",))
    store.close()


def test_uncommitted_rows_of_a_crashed_run_never_become_state(tmp_path):
    store = StateStore(tmp_path / "s.db")
    stage(store, "crashed")
    store.flush()
    store.db.close()  # the process dies here: no commit_run
    reopened = StateStore(tmp_path / "s.db")
    assert reopened.lookup_document("https://c.org/posts/2020/01/a?lang=en", "en") is None
    stage(reopened, "next")
    reopened.commit_run("next", "t", "o", 1)
    assert reopened.lookup_document("https://c.org/posts/2020/01/a?lang=en", "en") is not None


def test_a_later_run_updates_hash_and_keeps_first_seen(tmp_path):
    store = StateStore(tmp_path / "s.db")
    stage(store, "r1")
    store.commit_run("r1", "t", "o", 1)
    stage(store, "r2", content_hash="h2")
    store.commit_run("r2", "t", "o", 1)
    first_seen, last_emitted = store.db.execute("SELECT first_seen, last_emitted_run FROM documents").fetchone()
    assert store.lookup_document("https://c.org/posts/2020/01/a?lang=en", "en").content_hash == "h2"
    assert first_seen
    assert last_emitted == "r2"


def test_the_state_file_uses_wal(tmp_path):
    store = StateStore(tmp_path / "s.db")
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"this is not a database at all" * 10, "not an SQLite database"),
        (b"SQLite format 3\x00" + b"\xff" * 200, "is corrupt"),
    ],
)
def test_a_corrupt_state_file_is_an_error_and_is_left_untouched(tmp_path, content, fragment):
    path = tmp_path / "s.db"
    path.write_bytes(content)
    with pytest.raises(StateError, match=fragment):
        StateStore(path)
    assert path.read_bytes() == content, "never recreated: the history would be lost"


def test_a_truncated_state_file_is_an_error(tmp_path):
    path = tmp_path / "s.db"
    store = StateStore(path)
    for i in range(300):
        stage(store, "r", url=f"https://c.org/posts/2020/01/{i}")
    store.commit_run("r", "t", "o", 300)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StateError):
        StateStore(path)


def test_another_programs_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE invoices (id INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(StateError, match="another program"):
        StateStore(path)


def test_a_state_file_locked_by_another_program_says_locked_not_corrupt(tmp_path):
    path = tmp_path / "s.db"
    StateStore(path).close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StateError, match="is locked by another program") as caught:
            StateStore(path, busy_timeout=0.1)
        assert caught.value.kind == "locked"
        assert "corrupt" not in str(caught.value)
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_full_database_fails_one_flush_and_the_connection_stays_usable(tmp_path):
    store = StateStore(tmp_path / "s.db", batch=10_000)
    (pages,) = store.db.execute("PRAGMA page_count").fetchone()
    store.db.execute(f"PRAGMA max_page_count={pages + 2}")  # SQLite's own "database or disk is full"
    for i in range(2000):
        stage(store, "r", url=f"https://c.org/posts/2020/01/{i}", links=["x" * 200])
    with pytest.raises(StateError, match="the disk is full") as caught:
        store.flush()
    assert caught.value.kind == "disk-full"
    assert not store.db.in_transaction, "the failed statement was rolled back"
    store.db.execute("PRAGMA max_page_count=1073741823")
    store.flush()  # the same rows, now that there is room
    assert store.commit_run("r", "t", "o", 2000) == 2000
    store.close()


@pytest.mark.parametrize(
    ("name", "kind", "words"),
    [
        ("SQLITE_BUSY", "locked", "is locked"),
        ("SQLITE_READONLY_DBMOVED", "read-only", "is read-only"),
        ("SQLITE_FULL", "disk-full", "disk is full"),
        ("SQLITE_CORRUPT", "corrupt", "is corrupt"),
    ],
)
def test_each_sqlite_failure_has_its_own_message(tmp_path, name, kind, words):
    exc = sqlite3.OperationalError("boom")
    exc.sqlite_errorname = name
    error = state_error(tmp_path / "s.db", exc, "committing")
    assert (error.kind, words in str(error)) == (kind, True)
    assert kind == "corrupt" or "corrupt" not in str(error)


def test_os_errors_are_named_too(tmp_path):
    full = state_error(tmp_path / "s.db", OSError(errno.ENOSPC, "No space left on device"), "opening")
    read_only = state_error(tmp_path / "s.db", OSError(errno.EROFS, "Read-only file system"), "opening")
    assert (full.kind, read_only.kind) == ("disk-full", "read-only")


def test_a_document_is_removed_only_when_every_address_it_was_fetched_from_is_gone(tmp_path):
    store = StateStore(tmp_path / "s.db")
    doc = "https://c.org/posts/2020/01/a?lang=en"
    stage(store, "r1", url=doc, fetched_url="https://c.org/middle-east/posts/2020/01/a?lang=en")
    stage(store, "r1", url=doc, fetched_url=doc)
    store.commit_run("r1", "t", "o", 1)

    store.stage_dead_end("r2", doc, "HTTP 410")
    assert store.find_removals("r2") == [], "one of its two addresses still answers"
    store.commit_run("r2", "t", "o", 0)

    store.stage_dead_end("r3", "https://c.org/middle-east/posts/2020/01/a?lang=en", "HTTP 404")
    [gone] = store.find_removals("r3")
    assert (gone.url, gone.language, gone.reason) == (doc, "en", "HTTP 404")
    store.commit_run("r3", "t", "o", 0, removed=[gone])
    assert store.lookup_document(doc, "en") is None, "a removed document leaves the state"
    assert store.find_removals("r4") == []
    store.close()


def test_not_linked_any_more_or_not_a_page_or_seen_alive_is_not_removal(tmp_path):
    store = StateStore(tmp_path / "s.db")
    a, b, c = (f"https://c.org/posts/2020/01/{x}?lang=en" for x in "abc")
    for url in (a, b, c):
        stage(store, "r1", url=url)
    store.commit_run("r1", "t", "o", 3)
    # a: not linked in r2 (no dead end); b: now a PDF; c: 404 under one address, alive under another
    store.stage_dead_end("r2", b, "not html: application/pdf")
    store.stage_dead_end("r2", c, "HTTP 404")
    stage(store, "r2", url=c, fetched_url="https://c.org/middle-east/posts/2020/01/c?lang=en")
    assert store.find_removals("r2") == []
    store.close()


def test_an_address_that_answers_again_is_no_longer_a_dead_end(tmp_path):
    """A 404 once (a maintenance blip), then 200 again: when the document's other address goes, the
    document still has this one alive and stays (found by a review: dead ends were never cleared)."""
    store = StateStore(tmp_path / "s.db")
    doc, old = "https://c.org/posts/2020/01/a?lang=en", "https://c.org/2020/01/01/a-pub-123"
    stage(store, "r1", url=doc, fetched_url=doc)
    stage(store, "r1", url=doc, fetched_url=old)
    store.commit_run("r1", "t", "o", 1)
    stage(store, "r2", url=doc, fetched_url=doc)
    store.stage_dead_end("r2", old, "HTTP 404")
    assert store.find_removals("r2") == []
    store.commit_run("r2", "t", "o", 1)
    assert store.dead_end_seen(old) is not None

    stage(store, "r3", url=doc, fetched_url=doc)
    stage(store, "r3", url=doc, fetched_url=old)  # back
    store.commit_run("r3", "t", "o", 1)
    assert store.dead_end_seen(old) is None

    store.stage_dead_end("r4", doc, "HTTP 410")
    assert store.find_removals("r4") == [], f"{old} answered 200 when last asked"
    store.close()


def test_an_archived_answer_older_than_a_dead_end_does_not_clear_it(tmp_path):
    """A re-extraction stages the date its page was fetched: a 200 from before a 404 says nothing."""
    store = StateStore(tmp_path / "s.db")
    doc = "https://c.org/posts/2020/01/a?lang=en"
    stage(store, "r1", url=doc)
    store.commit_run("r1", "t", "o", 1)
    store.stage_dead_end("r2", doc, "HTTP 404")
    store.commit_run("r2", "t", "o", 0, removed=store.find_removals("r2"))
    stage(store, "r3", url=doc, seen_at="2001-01-01T00:00:00Z")
    store.commit_run("r3", "t", "o", 1)
    assert store.dead_end_seen(doc) is not None
    store.close()


def test_a_document_whose_address_shows_another_key_now_is_removed(tmp_path):
    """The page fixed its language tag, or moved its canonical URL: the old key leaves, as moved."""
    store = StateStore(tmp_path / "s.db")
    page, other = "https://c.org/posts/2020/01/a?lang=en", "https://c.org/posts/2020/01/b?lang=en"
    stage(store, "r1", url=page, language="ar")
    stage(store, "r1", url=other)
    store.commit_run("r1", "t", "o", 2)
    stage(store, "r2", url=page, language="en")  # the same address shows the page in English now
    stage(store, "r2", url="https://c.org/russia/posts/2020/01/b?lang=en", fetched_url=other)
    removed = sorted((gone.url, gone.language, gone.reason) for gone in store.find_removals("r2"))
    assert removed == [
        (page, "ar", f"moved to {page} (en)"),
        (other, "en", "moved to https://c.org/russia/posts/2020/01/b?lang=en (en)"),
    ]
    store.commit_run("r2", "t", "o", 2, removed=store.find_removals("r2"))
    assert store.lookup_document(page, "ar") is None
    assert store.lookup_document(page, "en") is not None


def test_a_document_one_of_whose_addresses_still_shows_it_stays(tmp_path):
    store = StateStore(tmp_path / "s.db")
    doc, alias = "https://c.org/posts/2020/01/a?lang=en", "https://c.org/middle-east/posts/2020/01/a?lang=en"
    stage(store, "r1", url=doc, fetched_url=doc)
    stage(store, "r1", url=doc, fetched_url=alias)
    store.commit_run("r1", "t", "o", 1)
    # The alias shows another document now; the run did not reach the document's own address.
    stage(store, "r2", url="https://c.org/posts/2020/01/z?lang=en", fetched_url=alias)
    assert store.find_removals("r2") == []
    store.close()


def _correlated_scans(db: sqlite3.Connection, query: str, args: object) -> list[str]:
    """Table scans SQLite would run once per row of an outer query (inside a correlated subquery)."""
    rows = db.execute("EXPLAIN QUERY PLAN " + query, args).fetchall()
    parent = {node: up for node, up, _, _ in rows}
    detail = {node: text for node, _, _, text in rows}

    def correlated(node: int) -> bool:  # its nearest enclosing subquery is (a plain one is run once, cached)
        while node in parent:
            node = parent[node]
            text = detail.get(node, "")
            if "SUBQUERY" in text or text.startswith(("CO-ROUTINE", "MATERIALIZE")):
                return text.startswith("CORRELATED")
        return False

    return [text for node, _, _, text in rows if text.startswith("SCAN") and correlated(node)]


@pytest.mark.parametrize("name", ["CLEAR_DEAD_ENDS", "FIND_REMOVALS"])
def test_the_commits_queries_never_scan_a_table_per_row(tmp_path, name):
    """Found by a review: both scanned the run's staged rows or the addresses once per row (5 s at 8,000
    dead ends, 4 s at 40,000 documents), inside the state's write transaction."""
    from carnegie_crawler.run import sql

    StateStore(tmp_path / "s.db").close()  # the schema, indexes included
    db = sqlite3.connect(tmp_path / "s.db")
    try:
        args = {"run": "r"} if name == "FIND_REMOVALS" else ("r",)
        assert _correlated_scans(db, getattr(sql, name), args) == []
    finally:
        db.close()
