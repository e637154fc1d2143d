"""The disk stores' read fast paths: ``find_matches`` (vector labels straight to rows, no
positions) and the single-id ``da[id]`` path, checked against the generic code paths and
for the tracker's semantics (same object while tracked, fresh after another writer,
bounded, nothing tracked by a search)."""
from __future__ import annotations

import numpy as np
import pytest

from shoal.document.array import DocumentArray
from shoal.document.compute import matches_of, search
from shoal.document.document import Document
from shoal.errors import CorruptStoreError, DocumentNotFoundError

DIM = 6


def docs(n, start=0):
    rng = np.random.default_rng(start)
    return [Document(id=f"d{i}", text=f"text {i}", tags={"i": i, "odd": i % 2 == 1},
                     embedding=rng.random(DIM, dtype=np.float32)) for i in range(start, start + n)]


def mixed(disk):
    """An array whose rows take every read branch: plain rows, codec bytes (uri, mime),
    a float64 embedding kept in the blob, a Document without embedding removed again,
    deleted and replaced Documents (dead labels)."""
    data = docs(80)
    data[3].uri, data[3].mime_type = "file:///x.txt", "text/plain"
    data[4].embedding = np.arange(DIM, dtype=np.float64)
    data[5].tags = {}
    da = disk(data)
    del da[10:20]
    da[0] = Document(id="moved", text="moved", embedding=np.full(DIM, 0.5, np.float32))
    return da


def generic(da, q, limit, metric, **kw):
    """The position round trip the fast path replaces."""
    scores, positions = search(da, q, limit, metric, **kw)
    return matches_of(scores, positions, lambda ps: (da._store.get_at(ps), None), metric,
                      kw.get("only_id", False))


def same(a, b):
    assert [[d.id for d in r] for r in a] == [[d.id for d in r] for r in b]
    for ra, rb in zip(a, b):
        for x, y in zip(ra, rb):
            assert x.scores.keys() == y.scores.keys()
            for k in x.scores:
                assert x.scores[k].value == pytest.approx(y.scores[k].value, abs=1e-5)
            assert (x.text, x.tags, x.uri, x.mime_type) == (y.text, y.tags, y.uri, y.mime_type)
            assert x.embedding.dtype == y.embedding.dtype
            assert np.array_equal(x.embedding, y.embedding)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_find_matches_takes_labels_to_rows_and_agrees_with_positions(disk, monkeypatch, metric):
    da = mixed(disk)
    store = da._store
    assert callable(getattr(store, "find_matches", None))
    q = np.random.default_rng(9).random((300, DIM), dtype=np.float32)  # several chunks
    want = generic(da, q, 7, metric)
    fresh = DocumentArray(storage=disk.storage, config=disk.config(da))  # nothing tracked
    disk.opened.append(fresh)

    def no_positions(*_a, **_k):
        raise AssertionError("the unfiltered fast path must not go through positions")

    for arr in (da, fresh):
        monkeypatch.setattr(arr._store, "get_at", no_positions)
        monkeypatch.setattr(arr._store, "_positions_of_labels", no_positions)
        got = arr.find(q, limit=7, metric=metric)
        same(got, want)
        assert len({id(m) for r in got for m in r}) == sum(len(r) for r in got)
        monkeypatch.undo()
    assert [d.id for d in fresh.find(q[:2], limit=7, metric=metric, only_id=True)[0]] == \
        [d.id for d in want[0]]


def test_filtered_find_matches_still_goes_through_positions(disk):
    da = mixed(disk)
    q = np.random.default_rng(4).random((5, DIM), dtype=np.float32)
    flt = {"tags__odd": True}
    calls = []
    get_at = da._store.get_at
    da._store.get_at = lambda ps: calls.append(len(ps)) or get_at(ps)
    got = da.find(q, limit=4, filter=flt)
    assert calls and all(d.tags["odd"] for r in got for d in r)
    del da._store.get_at
    same(got, generic(da, q, 4, "cosine", filter=flt))


def test_search_results_are_untracked_copies(disk):
    da = disk(docs(30))
    cfg = disk.config(da)
    da.close()
    da = DocumentArray(storage=disk.storage, config=cfg)
    disk.opened.append(da)
    res = da.find(np.ones(DIM, np.float32), limit=5)
    assert len(da._store.tracker) == 0
    res[0].text = "changed in a search result"
    da.sync()
    assert da[res[0].id].text != "changed in a search result"


def test_search_sees_tracked_documents_changed_in_place(disk):
    da = disk(docs(30))
    d = da["d4"]
    d.text = "edited, not synced"
    res = da.find(np.stack([d.embedding] * 200), limit=3, metric="euclidean")
    assert all(r[0].id == "d4" and r[0].text == "edited, not synced" for r in res)
    assert len({id(r[0]) for r in res}) == 200 and all(r[0] is not d for r in res)


def test_sync_compares_tracked_embeddings_in_one_column_read(disk, monkeypatch):
    """Was: one column read per tracked Document (a round trip each on PostgreSQL)."""
    da = disk(docs(30))
    fetched = list(da)  # all tracked
    fetched[5].embedding = fetched[5].embedding + 1.0  # changed in place
    fetched[6].text = "edited"
    store = da._store  # noqa: SLF001
    calls = []
    original = store.column.take

    def counting_take(labels):
        calls.append(len(labels))
        return original(labels)

    monkeypatch.setattr(store.column, "take", counting_take)
    da.sync()
    # the 29 tracked embeddings (all but the Document whose text changed) in one read;
    # writing the two changed Documents back may read theirs again
    assert calls[0] == 29 and len(calls) <= 2
    monkeypatch.undo()
    again = da[:, "embedding"]
    assert np.allclose(again[5], docs(30)[5].embedding + 1.0)
    assert da["d6"].text == "edited" and np.allclose(again[7], docs(30)[7].embedding)


@pytest.mark.parametrize("storage", ["sqlite", "postgres"])
def test_vector_label_without_row_is_corrupt_store(storage, make_config, tmp_path):
    if storage == "postgres":
        from tests.unit.docstore.conftest import postgres_url  # noqa: PLC0415

        postgres_url()
    da = DocumentArray(docs(10), storage=storage, config=make_config(storage))
    try:
        store = da._store
        store.db.execute(f'UPDATE "{store.t}" SET label = NULL WHERE id = ?', ("d3",))
        with pytest.raises(CorruptStoreError, match="rebuild_index"):
            da.find(docs(1, start=3)[0].embedding, limit=10)
    finally:
        da.close()


# --- da[id] ----------------------------------------------------------------------------

def test_get_by_id_tracks_and_sees_other_writers(disk):
    da = disk(docs(10))
    a = da["d1"]
    assert da["d1"] is a  # tracked: in-place changes stay visible
    other = DocumentArray(storage=disk.storage, config=disk.config(da))
    disk.opened.append(other)
    other["d1"] = Document(id="d1", text="from the other handle", embedding=np.ones(DIM, np.float32))
    b = da["d1"]
    assert b is not a and b.text == "from the other handle"
    assert np.array_equal(b.embedding, np.ones(DIM, np.float32))
    new = docs(3, start=50)
    other.extend(new)  # new vector rows the first handle has not seen yet
    assert np.array_equal(da["d52"].embedding, new[2].embedding)
    with pytest.raises(DocumentNotFoundError, match="'nope'"):
        da["nope"]


def test_get_by_id_without_tracking_gives_new_objects(disk):
    da = disk(docs(5), track_fetched=0)
    a = da["d2"]
    assert da["d2"] is not a and da["d2"] == a
    a.text = "not written back"
    da.sync()
    assert da["d2"].text == "text 2" and len(da._store.tracker) == 0


def test_get_by_id_tracker_is_bounded_and_synced(disk):
    da = disk(docs(6), track_fetched=2)
    other = DocumentArray(storage=disk.storage, config=disk.config(da))
    disk.opened.append(other)
    da["d0"].text = "edit 0"
    da["d1"].text = "edit 1"
    assert other["d0"].text == "text 0"  # tracked, not written yet
    da["d2"]  # past capacity: the changes so far are written back, tracking starts over
    assert len(da._store.tracker) == 0
    assert [other["d0"].text, other["d1"].text] == ["edit 0", "edit 1"]
    da["d3"].text = "edit 3"
    assert len(da._store.tracker) == 1
    da.close()
    assert other["d3"].text == "edit 3"


def test_damaged_tags_are_a_corrupt_store_on_every_read_path(make_config):
    da = DocumentArray(docs(10), storage="sqlite", config=make_config("sqlite"))
    try:
        store = da._store
        store.db.execute(f'UPDATE "{store.t}" SET tags = ? WHERE id = ?', ('{"i": 3,', "d3"))
        with pytest.raises(CorruptStoreError):
            da["d3"]
        with pytest.raises(CorruptStoreError):
            da.find(np.stack([docs(4)[3].embedding] * 2), limit=3, metric="euclidean")
        assert da["d4"].tags == {"i": 4, "odd": False}
    finally:
        da.close()


def test_batched_get_by_ids_reads_each_documents_own_vector(disk):
    data = docs(40)
    data[5].embedding = np.arange(DIM, dtype=np.float64)
    data[6].embedding = None
    da = disk(data)
    other = DocumentArray(storage=disk.storage, config=disk.config(da))
    disk.opened.append(other)
    new = docs(3, start=100)
    other.extend(new)
    want = {d.id: d for d in data + new}
    ask = ["d101", "d5", "d6", "d30", "d5", "d0", "d102"]
    got = da[ask]
    assert [d.id for d in got] == ask
    for d in got:
        w = want[d.id].embedding
        assert (d.embedding is None) if w is None else (
            d.embedding.dtype == w.dtype and np.array_equal(d.embedding, w))
    one = [da[i].embedding for i in ("d30", "d0")]  # single reads after a batch
    assert np.array_equal(one[0], want["d30"].embedding) and np.array_equal(one[1], want["d0"].embedding)
