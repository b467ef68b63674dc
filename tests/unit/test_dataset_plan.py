"""Planning an update: which old rows stay, where new records go, and the row-group chunks."""

from hypothesis import given, settings
from hypothesis import strategies as st

from carnegie_crawler.dataset.merge import NewRows, OldRun, chunks, plan, sort_key

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


@settings(max_examples=300, deadline=None)
@given(old=st.sets(KEYS), changes=st.dictionaries(KEYS, st.booleans()))
def test_the_plan_is_the_old_keys_with_the_changes_applied_in_order(old, changes):
    old_keys = sorted(old, key=sort_key)
    # A change is a new record (True: its location is a made-up triple) or a removal (False).
    latest = {key: (0, i, 1) if alive else None for i, (key, alive) in enumerate(changes.items())}
    new_keys = {where: key for key, where in latest.items() if where is not None}
    urls, languages = [key[0] for key in old_keys], [key[1] for key in old_keys]
    result = plan((urls, languages), latest) if old_keys else plan(None, latest)
    expected = sorted((set(old) - set(changes)) | {key for key, alive in changes.items() if alive}, key=sort_key)
    assert _rows(result.segments, old_keys, new_keys) == expected
    assert result.rows == len(expected)
    assert result.replaced == sum(1 for key, alive in changes.items() if alive and key in old)
    assert result.removed == sum(1 for key, alive in changes.items() if not alive and key in old)
    assert result.added == sum(1 for key, alive in changes.items() if alive and key not in old)


def test_an_untouched_file_is_one_run_of_old_rows():
    result = plan((["https://a.org/1", "https://a.org/2"], [None, "en"]), {})
    assert result.segments == [OldRun(0, 2)]


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
