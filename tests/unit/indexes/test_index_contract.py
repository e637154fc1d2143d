"""The VectorIndex contract, stated once and run against every backend."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from conftest import ANN
from index_helpers import DIM, brute_force, recall, scores_of
from shoal.errors import (
    BadInputError, CorruptStoreError, DimensionMismatchError, EmptyArrayError,
)
from shoal.indexes import VectorIndex, load_index
from shoal.indexes.persist import LOCK_NAME

METRICS = ["cosine", "euclidean", "sqeuclidean", "inner_product"]


def filled(make, data, labels, metric="cosine", **kw):
    index = make(metric, **kw)
    index.add(labels, data)
    return index


def test_is_a_vector_index(make):
    index = make()
    assert isinstance(index, VectorIndex)
    assert index.dim == DIM and index.metric == "cosine" and len(index) == 0
    assert isinstance(index.params, dict) and isinstance(index.search_params, dict)


def test_empty_index_returns_padding(make, queries):
    scores, labels = make().search(queries[:3], 5)
    assert labels.shape == (3, 5) and (labels == -1).all() and np.isnan(scores).all()


@pytest.mark.parametrize("metric", METRICS)
def test_recall_and_scores_match_reference(make, backend, data, labels, queries, metric):
    index = filled(make, data, labels, metric)
    assert len(index) == len(labels)
    scores, found = index.search(queries, 10)
    assert scores.shape == found.shape == (len(queries), 10)
    assert scores.dtype == np.float32 and found.dtype == np.int64
    ref_scores, ref_pos = brute_force(queries, data, 10, metric)
    r = recall(found, labels[ref_pos])
    assert r >= (0.9 if backend in ANN else 0.999), r
    # every score is the exact metric value of the label returned, whichever backend
    rows = np.searchsorted(labels, found)  # labels are sorted
    exact = scores_of(queries, data[rows], metric)
    np.testing.assert_allclose(scores, exact, rtol=1e-4, atol=1e-4)
    # best first
    sign = -1.0 if metric == "inner_product" else 1.0
    assert (np.diff(scores * sign, axis=1) >= -1e-5).all()


def test_cosine_distance_never_leaves_0_to_2(make, data, labels):
    """A vector's cosine distance to itself is 0, not float32 rounding's -2e-7 (which some
    backends gave: hnswlib and BLAS compute ``1 - dot`` a little differently)."""
    index = make("cosine")
    index.add(labels, data)
    scores, found = index.search(np.concatenate([data, -data]), 3)
    assert np.nanmin(scores) >= 0.0 and np.nanmax(scores) <= 2.0
    assert np.all(scores[: len(data), 0] < 1e-5)


def test_k_larger_than_index_is_padded(make, data, labels, queries):
    index = filled(make, data[:5], labels[:5])
    scores, found = index.search(queries[:2], 8)
    assert (found[:, :5] >= 0).all() and (found[:, 5:] == -1).all()
    assert np.isnan(scores[:, 5:]).all() and not np.isnan(scores[:, :5]).any()


def test_remove(make, data, labels, queries):
    index = filled(make, data, labels)
    gone = labels[::3]
    assert index.remove(gone) == len(gone)
    assert index.remove(gone) == 0  # idempotent
    assert index.remove(np.array([10**12])) == 0
    assert len(index) == len(labels) - len(gone)
    _, found = index.search(queries, 10)
    assert not np.isin(found, gone).any()
    assert (found >= 0).all()
    assert set(index.labels().tolist()) == set(labels.tolist()) - set(gone.tolist())


def test_replace_and_readd(make, data, labels, queries):
    index = filled(make, data, labels, "euclidean")
    target = int(labels[17])
    index.add([target], queries[:1])  # re-adding a label replaces its vector
    assert len(index) == len(labels)
    scores, found = index.search(queries[:1], 3)
    assert found[0, 0] == target and scores[0, 0] == pytest.approx(0.0, abs=1e-3)
    index.remove([target])
    index.add([target], queries[1:2])  # removed, then added again
    scores, found = index.search(queries[1:2], 1)
    assert found[0, 0] == target and len(index) == len(labels)
    # duplicates inside one call: the last vector wins
    index.add([5, 5], np.stack([queries[2], queries[3]]))
    _, found = index.search(queries[3:4], 1)
    assert found[0, 0] == 5


def test_allowed_prefilter(make, backend, data, labels, queries):
    index = filled(make, data, labels)
    rng = np.random.default_rng(3)
    for size in (4, 60, 700):
        allowed = rng.choice(labels, size, replace=False)
        scores, found = index.search(queries[:10], 10, allowed=np.append(allowed, [10**12]))
        got = found[found >= 0]
        assert np.isin(got, allowed).all()
        want = min(10, size)
        assert ((found >= 0).sum(axis=1) == want).all()
        mask = np.isin(labels, allowed)
        _, ref = brute_force(queries[:10], data[mask], 10, "cosine")
        assert recall(found[:, :want], labels[mask][ref][:, :want]) >= 0.9
    _, found = index.search(queries[:2], 5, allowed=np.array([], dtype=np.int64))
    assert (found == -1).all()


def test_save_load_roundtrip(make, data, labels, queries, tmp_path):
    index = filled(make, data, labels, "euclidean")
    index.remove(labels[:10])
    index.applied_seq = 42
    before = index.search(queries, 5)
    index.save(tmp_path / "ix")
    index.save(tmp_path / "ix")  # saving over an existing index is fine
    meta = json.loads((tmp_path / "ix" / "meta.json").read_text())
    assert meta["format_version"] == 1 and meta["count"] == len(labels) - 10
    assert meta["params"] == index.params
    loaded = load_index(tmp_path / "ix")
    assert type(loaded) is type(index) and loaded.applied_seq == 42
    assert len(loaded) == len(index) and loaded.metric == "euclidean" and loaded.params == index.params
    after = loaded.search(queries, 5)
    np.testing.assert_array_equal(before[1], after[1])
    np.testing.assert_allclose(before[0], after[0], rtol=1e-6)
    again = load_index(tmp_path / "ix", vector_source=data)  # every backend accepts one
    np.testing.assert_array_equal(again.search(queries, 5)[1], before[1])
    loaded.add([1], queries[:1])  # still writable after load
    assert loaded.search(queries[:1], 1)[1][0, 0] == 1
    saved = [f for f in (tmp_path / "ix").iterdir() if f.name != LOCK_NAME]
    assert len(saved) == 1 + len(meta["files"])  # old gens gone


def test_load_missing_or_corrupt(make, data, labels, tmp_path):
    with pytest.raises(CorruptStoreError):
        load_index(tmp_path / "nothing")
    index = filled(make, data[:100], labels[:100])
    path = tmp_path / "ix"
    index.save(path)
    meta_path = path / "meta.json"
    meta = json.loads(meta_path.read_text())
    biggest = max(meta["files"].values(), key=lambda f: f["size"])["name"]
    raw = (path / biggest).read_bytes()
    (path / biggest).write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CorruptStoreError):
        load_index(path)
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 0xFF
    (path / biggest).write_bytes(bytes(flipped))  # same size, one bad byte
    with pytest.raises(CorruptStoreError):
        load_index(path)
    (path / biggest).write_bytes(raw)
    load_index(path)
    meta_path.write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(CorruptStoreError, match="format_version"):
        load_index(path)
    meta_path.write_text("{not json")
    with pytest.raises(CorruptStoreError):
        load_index(path)


def test_bad_input_leaves_index_unchanged(make, data, labels, queries):
    index = filled(make, data[:200], labels[:200])
    before = index.search(queries[:3], 5)
    bad = data[:3].copy()
    bad[1, 2] = np.nan
    with pytest.raises(BadInputError):
        index.add([1, 2, 3], bad)
    with pytest.raises(DimensionMismatchError):
        index.add([1, 2, 3], data[:3, :-1])
    with pytest.raises(BadInputError):
        index.add([1, 2], data[:3])
    with pytest.raises(BadInputError):
        index.add([-1, 2, 3], data[:3])
    with pytest.raises(BadInputError):
        index.add([1.5, 2, 3], data[:3])
    with pytest.raises(EmptyArrayError):
        index.add([], np.empty((0, DIM), np.float32))
    with pytest.raises(BadInputError):
        index.remove([-4])
    with pytest.raises(DimensionMismatchError):
        index.search(queries[:2, :5], 5)
    with pytest.raises(BadInputError):
        index.search(queries[:2], 0)
    with pytest.raises(BadInputError):
        index.search(np.full((1, DIM), np.nan, np.float32), 3)
    with pytest.raises(TypeError):
        index.search(queries[:2], 3, no_such_param=1)
    assert len(index) == 200
    after = index.search(queries[:3], 5)
    np.testing.assert_array_equal(before[1], after[1])


def test_concurrent_search_and_add(make, data, labels, queries):
    index = filled(make, data[:500], labels[:500])
    errors: list[BaseException] = []
    stop = threading.Event()
    valid = set(labels.tolist()) | {-1}

    def searcher() -> None:
        try:
            while not stop.is_set():
                scores, found = index.search(queries[:4], 10)
                assert found.shape == (4, 10) and set(found.ravel().tolist()) <= valid
                assert not np.isnan(scores[found >= 0]).any()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for start in range(500, len(labels), 100):
            index.add(labels[start:start + 100], data[start:start + 100])
            index.remove(labels[start - 50:start - 40])
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    assert len(index) == len(labels) - 10 * len(range(500, len(labels), 100))
