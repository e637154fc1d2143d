"""``da.find`` on a disk store from several threads: ANN searches run in parallel (the store
lock is not held during the native search), and a write landing between a search and the
reading of its results never gives a wrong, short or failed answer."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from shoal import Document
from shoal.indexes import FaissIndex, HnswIndex

DIM = 8
INDEXES = {"hnsw": ({}, HnswIndex), "faiss": ({"factory": "Flat"}, FaissIndex)}


def docs(n, start=0, seed=0):
    rng = np.random.default_rng(seed)
    return [Document(id=f"d{i}", text=f"text {i}", embedding=rng.normal(size=DIM).astype(np.float32))
            for i in range(start, start + n)]


def ids(result):
    return [d.id for d in result]


def in_thread(fn, name="worker"):
    """Start ``fn`` in a thread; returns (thread, box) where box gets 'value' or 'error'."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    t = threading.Thread(target=run, name=name, daemon=True)
    t.start()
    return t, box


@pytest.mark.parametrize("kind", sorted(INDEXES))
def test_a_search_parked_in_the_ann_index_does_not_block_another(disk, monkeypatch, kind):
    params, cls = INDEXES[kind]
    da = disk(docs(60), index=kind, index_params=params)
    q = da[5].embedding
    assert ids(da.find(q, limit=3))[0] == "d5"  # index built and caught up
    entered, release = threading.Event(), threading.Event()
    search = cls.search

    def parked(self, *a, **kw):
        if threading.current_thread().name == "parked":
            entered.set()
            assert release.wait(20)
        return search(self, *a, **kw)

    monkeypatch.setattr(cls, "search", parked)
    a, a_box = in_thread(lambda: da.find(q, limit=3), "parked")
    try:
        assert entered.wait(20)
        b, b_box = in_thread(lambda: da.find(da[7].embedding, limit=3))
        b.join(20)
        assert not b.is_alive(), "a second search waited for the first one's ANN search"
        assert ids(b_box["value"])[0] == "d7"
    finally:
        release.set()
        a.join(20)
    assert ids(a_box["value"])[0] == "d5"


@pytest.mark.parametrize("tracked", [False, True], ids=["untracked", "tracked"])
@pytest.mark.parametrize("change", ["delete", "re-embed"])
def test_a_document_changed_between_search_and_read_is_searched_again(
        disk, monkeypatch, change, read_path, tracked):
    """A query whose ANN search found a Document that a write then deleted or moved
    elsewhere is searched again, so it still gets ``limit`` live matches: the same
    as a search run after the write."""
    da = disk(docs(40), index="hnsw")
    victim = da[3].embedding.copy()
    held = da[1] if tracked else None  # a fetched Document: the store tracks it
    if tracked:
        held.text = "edited"
        assert len(da._store.tracker)
    assert ids(da.find(victim, limit=5))[0] == "d3"
    search, fired = HnswIndex.search, []

    def then_write(self, *a, **kw):
        out = search(self, *a, **kw)
        if not fired:  # the store lock is not held here: another thread could write now
            fired.append(1)
            if change == "delete":
                del da["d3"]
            else:
                da[3] = Document(id="d3", text="moved", embedding=-victim)
        return out

    monkeypatch.setattr(HnswIndex, "search", then_write)
    got = da.find(victim, limit=5)
    assert fired and "d3" not in ids(got) and len(got) == 5
    assert all(d.text != "moved" for d in got)
    if tracked:
        assert [d.text for d in got if d.id == "d1"] in ([], ["edited"])
    after = da.find(victim, limit=5)  # a search run after the write
    assert ids(got) == ids(after)
    assert [m.scores["cosine"].value for m in got] == pytest.approx(
        [m.scores["cosine"].value for m in after], abs=1e-6)


def test_only_the_queries_that_lost_a_match_are_searched_again(disk, monkeypatch):
    da = disk(docs(60), index="hnsw")
    near3 = da[3].embedding.copy()
    far = -near3  # its 3 nearest do not include d3
    queries = np.stack([near3, far])
    before = da.find(queries, limit=3)
    assert ids(before[0])[0] == "d3" and "d3" not in ids(before[1])
    search, calls = HnswIndex.search, []

    def then_delete(self, q, *a, **kw):
        calls.append(len(q))
        out = search(self, q, *a, **kw)
        if len(calls) == 1:
            del da["d3"]
        return out

    monkeypatch.setattr(HnswIndex, "search", then_delete)
    got = da.find(queries, limit=3)
    assert calls == [2, 1]  # the second search: only the query that lost d3
    assert [len(r) for r in got] == [3, 3] and "d3" not in ids(got[0])
    assert ids(got[1]) == ids(before[1])


def test_a_vacuum_between_search_and_read_runs_the_search_again(disk, monkeypatch):
    da = disk(docs(80), index="hnsw")
    del da[0:30]  # vacuum renumbers the labels of the 50 left
    q = da[10].embedding.copy()
    want = da.find(q, limit=6)
    search, fired = HnswIndex.search, []

    def then_vacuum(self, *a, **kw):
        out = search(self, *a, **kw)
        if not fired:
            fired.append(1)
            da.vacuum()
        return out

    monkeypatch.setattr(HnswIndex, "search", then_vacuum)
    got = da.find(q, limit=6)
    assert fired
    assert ids(got) == ids(want)
    assert [m.scores["cosine"].value for m in got] == pytest.approx(
        [m.scores["cosine"].value for m in want], abs=1e-5)
    assert all(np.array_equal(a.embedding, b.embedding) for a, b in zip(got, want))


def test_searches_while_another_thread_writes_always_answer_with_live_documents(disk):
    da = disk(docs(200), index="hnsw")
    queries = np.random.default_rng(1).normal(size=(16, DIM)).astype(np.float32)
    da.find(queries[0], limit=5)
    written = {f"d{i}" for i in range(200)}
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher():
        try:
            while not stop.is_set():
                for r in da.find(queries, limit=5):
                    assert 0 < len(r) <= 5 and set(ids(r)) <= written
                    assert all(m.embedding is not None and m.embedding.shape == (DIM,) for m in r)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=searcher, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for step in range(15):
            new = docs(20, start=200 + 20 * step, seed=step + 2)
            written.update(d.id for d in new)
            da.extend(new)
            del da[f"d{20 * step}"]
            da[0] = Document(id=da[0].id, embedding=queries[step])
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors[0]
    assert len(da) == 200 + 15 * 20 - 15
