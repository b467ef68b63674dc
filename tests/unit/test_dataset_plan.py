"""Planning an update: which old rows stay, where new records go, and the row-group chunks."""

from hypothesis import given, settings
from hypothesis import strategies as st

from carnegie_crawler.dataset.merge import Counts, NewRows, OldRun, chunks, in_order, plan, sort_key

URLS = st.sampled_from(["https://a.org/1", "https://a.org/2", "https://a.org/10", "https://b.org/é", "https://b.org/z"])
KEYS = st.tuples(URLS, st.sampled_from([None, "ar", "en", "ru"]))


def _rows(segments, old_keys, new_keys):
    """The keys of the planned file, in order: old rows by number, new records by location."""
    out = []
    for segment in segments:
        if isinstance(segment, OldRun):
            out += old_keys[segment.start : segment.start + segment.length]
        else:
            out += [new_keys[where] for where in segment.where]
    return out


def test_sort_key_puts_a_null_language_first():
    keys = [("https://a.org/x", "en"), ("https://a.org/x", None), ("https://a.org/w", "ru"), ("https://a.org/x", "ar")]
    assert sorted(keys, key=sort_key) == [
        ("https://a.org/w", "ru"),
        ("https://a.org/x", None),
        ("https://a.org/x", "ar"),
        ("https://a.org/x", "en"),
    ]


def _groups(keys, sizes):
    """*keys* cut into row groups of the given *sizes* (the rest in one group), as `OldRows.key_groups` yields them."""
    out, at = [], 0
    for size in [*sizes, len(keys)]:
        group = keys[at : at + size]
        out.append(([key[0] for key in group], [key[1] for key in group]))
        at += size
    return out


@settings(max_examples=300, deadline=None)
@given(
    old=st.sets(KEYS),
    changes=st.dictionaries(KEYS, st.booleans()),
    sizes=st.lists(st.integers(0, 4), max_size=6),
)
def test_the_plan_is_the_old_keys_with_the_changes_applied_in_order(old, changes, sizes):
    old_keys = sorted(old, key=sort_key)
    # A change is a new record (True: its location is a made-up triple) or a removal (False).
    latest = {key: (0, i, 1) if alive else None for i, (key, alive) in enumerate(changes.items())}
    new_keys = {where: key for key, where in latest.items() if where is not None}
    counts = Counts()
    segments = list(plan(_groups(old_keys, sizes), in_order(latest), counts))
    expected = sorted((set(old) - set(changes)) | {key for key, alive in changes.items() if alive}, key=sort_key)
    assert _rows(segments, old_keys, new_keys) == expected
    assert counts.rows == len(expected)
    assert counts.replaced == sum(1 for key, alive in changes.items() if alive and key in old)
    assert counts.removed == sum(1 for key, alive in changes.items() if not alive and key in old)
    assert counts.added == sum(1 for key, alive in changes.items() if alive and key not in old)


def test_an_untouched_file_is_one_run_of_old_rows_per_group():
    groups = [(["https://a.org/1", "https://a.org/2"], [None, "en"]), (["https://a.org/3"], ["en"])]
    assert list(plan(groups, [], Counts())) == [OldRun(0, 2), OldRun(2, 1)]


@given(lengths=st.lists(st.tuples(st.booleans(), st.integers(1, 9)), max_size=12), size=st.integers(1, 7))
def test_chunks_hold_exactly_size_rows_in_the_same_order(lengths, size):
    segments, at, where = [], 0, 0
    for is_old, length in lengths:
        if is_old:
            segments.append(OldRun(at, length))
            at += length
        else:
            segments.append(NewRows([(0, where + i, 1) for i in range(length)]))
            where += length

    def flat(items):
        out = []
        for segment in items:
            if isinstance(segment, OldRun):
                out += [("old", segment.start + i) for i in range(segment.length)]
            else:
                out += [("new", place) for place in segment.where]
        return out

    cut = list(chunks(segments, size))
    sizes = [len(flat(chunk)) for chunk in cut]
    assert all(n == size for n in sizes[:-1])
    assert not sizes or 0 < sizes[-1] <= size
    assert [row for chunk in cut for row in flat(chunk)] == flat(segments)
