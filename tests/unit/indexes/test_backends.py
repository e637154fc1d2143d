"""Backend-specific behaviour: hnsw growth and ef, faiss training / factories / refine, exact blocks."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from index_helpers import DIM, brute_force, recall
from shoal.errors import (
    BadInputError, IndexNotTrainedError, InvalidConfigError, UnknownBackendError,
)
from shoal.indexes import (
    ExactIndex, FaissIndex, HnswIndex, create_index, exact_search_blocks, load_index,
)


# -- hnsw ----------------------------------------------------------------------------------
def test_hnsw_grows_and_reuses_deleted_slots(data, labels, queries):
    index = HnswIndex(DIM, "cosine", capacity=16, M=8, ef_construction=64)
    for start in range(0, 600, 50):  # many adds far past the first allocation
        index.add(labels[start:start + 50], data[start:start + 50])
    assert len(index) == 600 and index.capacity >= 600
    cap = index.capacity
    index.remove(labels[:100])
    index.add(labels[600:700], data[600:700])  # fills the 100 freed slots
    assert len(index) == 600 and index.capacity == cap
    index.add(labels[:3], data[:3])  # labels removed earlier, added again
    _, found = index.search(data[:3], 1)
    assert found[:, 0].tolist() == labels[:3].tolist()
    assert not np.isin(index.search(queries, 10)[1], labels[3:100]).any()


def test_hnsw_ef_per_query_and_concurrent_mixed_ef(data, labels, queries):
    index = HnswIndex(DIM, "euclidean", M=8, ef_construction=64, ef=10)
    index.add(labels, data)
    _, ref = brute_force(queries, data, 10, "euclidean")
    low = recall(index.search(queries, 10)[1], labels[ref])
    high = recall(index.search(queries, 10, ef=300)[1], labels[ref])
    assert high >= low and high >= 0.95
    assert index.search_params["ef"] == 10  # per-query ef does not stick
    results: dict[int, list[np.ndarray]] = {10: [], 300: []}
    errors: list[BaseException] = []

    def run(ef: int) -> None:
        try:
            for _ in range(20):
                results[ef].append(index.search(queries, 10, ef=ef)[1])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(ef,)) for ef in (10, 300, 10, 300)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for got in results[300]:  # each query ran with the ef it asked for
        assert recall(got, labels[ref]) == pytest.approx(high)


def test_hnsw_bad_params():
    with pytest.raises(InvalidConfigError):
        HnswIndex(DIM, M=1)
    with pytest.raises(InvalidConfigError):
        HnswIndex(0)
    index = HnswIndex(DIM)
    index.add([1], np.ones((1, DIM), np.float32))
    with pytest.raises(InvalidConfigError):
        index.search(np.ones((1, DIM), np.float32), 1, ef=0)
    with pytest.raises(InvalidConfigError):
        index.search(np.ones((1, DIM), np.float32), 1, num_threads=0)
    with pytest.raises(InvalidConfigError, match="'Mx'.*it takes M, ef_construction, ef"):
        create_index("hnsw", DIM, M=8, Mx=3)  # a typo: the error names what it takes


def test_hnsw_threads_per_call_give_the_same_answer(data, labels, queries):
    index = HnswIndex(DIM, M=8, ef_construction=64)
    index.add(labels, data)
    assert HnswIndex.threads_per_call
    every = index.search(queries, 10)
    for n in (1, 2, -1):
        got = index.search(queries, 10, num_threads=n)
        assert np.array_equal(got[1], every[1]) and np.allclose(got[0], every[0])


# -- faiss ---------------------------------------------------------------------------------
def test_faiss_invalid_factory():
    with pytest.raises(InvalidConfigError, match="IVFxx"):
        FaissIndex(DIM, factory="IVFxx,Flat")


def test_faiss_untrained_ivf_refuses_and_stays_empty(data, labels, queries):
    index = FaissIndex(DIM, "cosine", factory="IVF8,Flat")
    assert not index.is_trained
    with pytest.raises(IndexNotTrainedError, match="train"):
        index.add(labels[:10], data[:10])
    with pytest.raises(IndexNotTrainedError, match="train"):
        index.search(queries[:1], 3)
    with pytest.raises(IndexNotTrainedError, match="more training"):
        index.train(data[:3])  # fewer points than lists
    assert len(index) == 0 and not index.is_trained
    index.train(data)
    index.add(labels, data)
    assert len(index) == len(labels)
    with pytest.raises(BadInputError):
        index.train(data)  # training again would invalidate stored codes


def test_faiss_ivfpq_refine_recall(data, labels, queries):
    exact = ExactIndex(DIM, "euclidean")
    exact.add(labels, data)
    source = lambda lab: exact.get_vectors(lab)  # noqa: E731 - a store column stands in
    index = create_index("faiss:IVF8,PQ4x4", DIM, "euclidean", nprobe=4, vector_source=source)
    index.train(data)
    index.add(labels, data)
    _, ref = brute_force(queries, data, 10, "euclidean")
    plain = recall(index.search(queries, 10)[1], labels[ref])
    scores, found = index.search(queries, 10, refine=10)
    refined = recall(found, labels[ref])
    assert refined >= 0.95 and refined >= plain
    vecs = exact.get_vectors(found.ravel()).reshape(found.shape + (DIM,))
    true = np.linalg.norm(vecs - queries[:, None, :], axis=2)  # refined scores are exact
    np.testing.assert_allclose(scores, true, rtol=1e-4, atol=1e-4)
    with pytest.raises(InvalidConfigError, match="vector_source"):
        FaissIndex(DIM, factory="IVF8,PQ4x4").search(queries[:1], 3, refine=4)


def test_faiss_nprobe_per_query(data, labels, queries):
    index = FaissIndex(DIM, "euclidean", factory="IVF16,Flat", nprobe=1)
    index.train(data)
    index.add(labels, data)
    _, ref = brute_force(queries, data, 10, "euclidean")
    assert recall(index.search(queries, 10, nprobe=16)[1], labels[ref]) == 1.0


def test_faiss_vector_source_survives_load(data, labels, queries, tmp_path):
    exact = ExactIndex(DIM, "cosine")
    exact.add(labels, data)
    index = FaissIndex(DIM, "cosine", factory="IVF8,PQ4x4", refine=8,
                       vector_source=exact.get_vectors)
    index.train(data)
    index.add(labels, data)
    index.save(tmp_path / "pq")
    loaded = load_index(tmp_path / "pq", vector_source=exact.get_vectors)
    np.testing.assert_array_equal(loaded.search(queries, 5)[1], index.search(queries, 5)[1])


def test_faiss_hnsw_tombstones_compact(data, labels, queries):
    index = FaissIndex(DIM, "euclidean", factory="HNSW16")
    index.add(labels, data)
    for _ in range(3):  # replacing everything creates tombstones, then compaction
        index.add(labels, data)
    assert len(index) == len(labels)
    _, found = index.search(data[:20], 1)
    assert found[:, 0].tolist() == labels[:20].tolist()


# -- exact ---------------------------------------------------------------------------------
def test_exact_search_blocks_matches_index(data, labels, queries):
    index = ExactIndex(DIM, "cosine", block_size=100)
    index.add(np.arange(len(data)), data)
    blocks = ((off, data[off:off + 256]) for off in range(0, len(data), 256))
    s1, l1 = exact_search_blocks(queries, blocks, 7, "cosine")
    s2, l2 = index.search(queries, 7)
    np.testing.assert_array_equal(l1, l2)
    np.testing.assert_allclose(s1, s2, rtol=1e-5, atol=1e-5)
    allowed = np.arange(0, len(data), 5)
    blocks = ((labels[off:off + 256], data[off:off + 256]) for off in range(0, len(data), 256))
    s3, l3 = exact_search_blocks(queries, blocks, 7, "cosine", allowed=labels[allowed])
    assert np.isin(l3, labels[allowed]).all()
    _, ref = brute_force(queries, data[allowed], 7, "cosine")
    np.testing.assert_array_equal(l3, labels[allowed][ref])


def test_exact_remove_keeps_rows_dense(data, labels, queries):
    index = ExactIndex(DIM, "inner_product")
    index.add(labels, data)
    rng = np.random.default_rng(0)
    gone = rng.choice(labels, 700, replace=False)
    index.remove(gone)
    keep = ~np.isin(labels, gone)
    ref_s, ref = brute_force(queries, data[keep], 10, "inner_product")
    scores, found = index.search(queries, 10)
    np.testing.assert_array_equal(found, labels[keep][ref])
    np.testing.assert_allclose(index.get_vectors(labels[keep][:5]), data[keep][:5])


def test_registry():
    from shoal.indexes import available_indexes, register_index
    assert {"exact", "hnsw", "faiss"} <= set(available_indexes())
    with pytest.raises(UnknownBackendError, match="exact"):
        create_index("annoy", DIM)
    with pytest.raises(InvalidConfigError):
        create_index("exact", DIM, "cosine", nonsense=1)
    register_index("my-exact", ExactIndex, replace=True)
    assert isinstance(create_index("my-exact", DIM, "l2"), ExactIndex)
    assert create_index("my-exact", DIM, "l2").metric == "euclidean"
    with pytest.raises(InvalidConfigError):
        register_index("my-exact", ExactIndex)
    assert create_index("faiss:IVF4,Flat", DIM).factory == "IVF4,Flat"


@pytest.mark.parametrize("name,params", [
    ("hnsw", {"M": 12, "ef_construction": 100}),
    ("faiss", {"factory": "HNSW16"}),
    ("faiss", {"factory": "IVF8,Flat", "nprobe": 2}),
    ("faiss", {"factory": "Flat"}),
])
def test_allowed_through_the_ann_filter(name, params, data, labels, queries):
    """exact_threshold=0 forces the library's own filtered search (no exact fallback)."""
    index = create_index(name, DIM, "cosine", exact_threshold=0, **params)
    index.train(data)
    index.add(labels, data)
    rng = np.random.default_rng(5)
    for size in (7, 400):
        allowed = rng.choice(labels, size, replace=False)
        _, found = index.search(queries, 10, allowed=allowed)
        assert np.isin(found[found >= 0], allowed).all()
        assert ((found >= 0).sum(axis=1) == min(10, size)).all()
        mask = np.isin(labels, allowed)
        _, ref = brute_force(queries, data[mask], 10, "cosine")
        assert recall(found, labels[mask][ref]) >= 0.9


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "sqeuclidean", "inner_product"])
def test_rerank_callable_and_array_sources_agree(metric, data, queries):
    from shoal.indexes import rerank
    rng = np.random.default_rng(9)
    cand = rng.integers(0, len(data), (len(queries), 30))
    cand[0, :5] = -1  # padding from the ANN stage
    s1, l1 = rerank(queries, cand, data, 10, metric)                   # array fast path
    s2, l2 = rerank(queries, cand, lambda lab: data[lab], 10, metric)  # callable
    np.testing.assert_array_equal(l1, l2)
    np.testing.assert_allclose(s1, s2, rtol=1e-5, atol=1e-5)

    class Column:  # what a store's vector column offers
        def matrix(self) -> np.ndarray:
            return data

    s3, l3 = rerank(queries, cand, Column(), 10, metric)
    np.testing.assert_array_equal(l1, l3)
    for i in range(len(queries)):
        c = cand[i][cand[i] >= 0]
        ref_s, ref_p = brute_force(queries[i:i + 1], data[c], 10, metric)
        np.testing.assert_allclose(s1[i], ref_s[0], rtol=1e-4, atol=1e-4)


def test_faiss_refine_with_array_source_cosine(data, queries):
    index = FaissIndex(DIM, "cosine", factory="IVF8,PQ4x4", nprobe=8, refine=10, vector_source=data)
    index.train(data)
    index.add(np.arange(len(data)), data)
    ref_s, ref = brute_force(queries, data, 10, "cosine")
    scores, found = index.search(queries, 10)
    assert recall(found, ref) >= 0.95
    v = data[found] / np.linalg.norm(data[found], axis=2, keepdims=True)
    qn = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    np.testing.assert_allclose(scores, 1.0 - np.einsum("qcd,qd->qc", v, qn), rtol=1e-4, atol=1e-4)


def test_hnsw_exact_fallback_uses_vector_source(data, labels, queries):
    asked = []

    def source(lab: np.ndarray) -> np.ndarray:
        asked.append(lab.size)
        return data[np.searchsorted(labels, lab)]

    index = HnswIndex(DIM, "cosine", M=8, vector_source=source)
    index.add(labels, data)
    allowed = labels[::50]
    scores, found = index.search(queries, 5, allowed=allowed)
    assert asked == [allowed.size]
    mask = np.isin(labels, allowed)
    ref_s, ref = brute_force(queries, data[mask], 5, "cosine")
    np.testing.assert_array_equal(found, labels[mask][ref])
    np.testing.assert_allclose(scores, ref_s, rtol=1e-4, atol=1e-4)


def test_load_overrides_search_defaults(data, labels, tmp_path):
    index = HnswIndex(DIM, ef=16)
    index.add(labels[:50], data[:50])
    index.save(tmp_path / "h")
    assert load_index(tmp_path / "h", ef=99).search_params["ef"] == 99
    with pytest.raises(InvalidConfigError):
        load_index(tmp_path / "h", no_such_option=1)
