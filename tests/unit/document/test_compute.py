"""embed / match / find / evaluate, checked against plain numpy on every storage."""
import numpy as np
import pytest

from shoal import Document, DocumentArray
from shoal.errors import (
    BadInputError, DimensionMismatchError, EmptyArrayError, UnknownMetricError,
)
from shoal.document.distance import pairwise


def _data(n=50, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((n, dim)).astype(np.float32)
    return [Document(id=f"d{i}", embedding=m[i], tags={"i": i}) for i in range(n)], m


def _brute(q, m, metric, k):
    s = pairwise(q, m, metric)
    order = np.argsort(-s if metric == "inner_product" else s, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(s, order, axis=1), order


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "sqeuclidean", "inner_product"])
def test_match_equals_brute_force(make_da, metric):
    docs, m = _data()
    index = make_da(docs)
    queries, qm = _data(5, seed=1)
    qa = DocumentArray(queries)
    qa.match(index, metric=metric, limit=4)
    scores, order = _brute(qm, m, metric, 4)
    for qi, q in enumerate(qa):
        assert [x.id for x in q.matches] == [f"d{j}" for j in order[qi]]
        got = [x.scores[metric].value for x in q.matches]
        assert np.allclose(got, scores[qi], atol=1e-4)
        assert all(x.adjacency == 1 for x in q.matches)


def test_cosine_score_is_a_distance():
    docs, _ = _data(10)
    da = DocumentArray(docs)
    da.match(da, limit=1)
    assert da[0].matches[0].id == "d0"
    assert abs(da[0].matches[0].scores["cosine"].value) < 1e-5


def test_exclude_self_only_id_and_batches(make_da):
    docs, _ = _data(30)
    da = make_da(docs)
    q = DocumentArray(_data(30)[0])  # same ids and vectors
    q.match(da, limit=3, exclude_self=True, only_id=True, batch_size=7)
    for d in q:
        assert len(d.matches) == 3 and d.id not in d.matches.ids
        assert d.matches[0].content is None and d.matches[0].embedding is None


def test_match_with_limit_larger_than_data():
    docs, _ = _data(3)
    q = DocumentArray(_data(2, seed=3)[0])
    q.match(DocumentArray(docs), limit=10)
    assert len(q[0].matches) == 3


def test_find_forms(make_da):
    docs, m = _data(40)
    da = make_da(docs)
    one = da.find(m[7], limit=3)
    assert isinstance(one, DocumentArray) and one[0].id == "d7"
    by_doc = da.find(Document(embedding=m[9]), limit=2)
    assert by_doc[0].id == "d9"
    many = da.find(m[[1, 2]], limit=2)
    assert isinstance(many, list) and [r[0].id for r in many] == ["d1", "d2"]
    many_docs = da.find(DocumentArray([Document(embedding=m[3])]), limit=1)
    assert many_docs[0][0].id == "d3"


def test_find_limit_none_ranks_every_document_as_match_does(make_da):
    docs, m = _data(25)
    da = make_da(docs)
    ranked = da.find(m[4], limit=None)
    assert len(ranked) == 25 and ranked[0].id == "d4"
    scores = [d.scores["cosine"].value for d in ranked]
    assert scores == sorted(scores)
    q = DocumentArray([Document(embedding=m[4])])
    q.match(da, limit=None)
    assert [d.id for d in q[0].matches] == [d.id for d in ranked]
    assert len(da.find(m[4], limit=None, filter={"tags__i": {"$lt": 5}})) == 5
    rest = da.find(Document(id="d4", embedding=m[4]), limit=None, exclude_self=True)
    assert len(rest) == 24 and "d4" not in [d.id for d in rest]


def test_find_with_filter_is_prefiltered(make_da):
    docs, m = _data(60)
    da = make_da(docs)
    res = da.find(m[0], limit=10, filter={"tags__i": {"$gte": 50}})
    assert len(res) == 10 and all(d.tags["i"] >= 50 for d in res)
    only = da.find(filter={"tags__i": {"$lt": 3}})
    assert sorted(only.ids) == ["d0", "d1", "d2"]
    assert sorted(da.find({"tags__i": {"$in": [4, 5]}}).ids) == ["d4", "d5"]
    assert len(da.find(m[0], limit=5, filter={"tags__i": {"$gt": 1000}})) == 0


def test_bad_input_errors(make_da):
    docs, m = _data(10)
    da = make_da(docs)
    with pytest.raises(UnknownMetricError, match="unknown metric"):
        da.find(m[0], metric="hamming")
    with pytest.raises(DimensionMismatchError, match="dimension"):
        da.find(np.zeros(3, dtype=np.float32))
    with pytest.raises(BadInputError, match="limit"):
        da.find(m[0], limit=0)
    with pytest.raises(EmptyArrayError):
        DocumentArray([Document()]).match(da)
    q = DocumentArray(_data(2)[0])
    q.match(DocumentArray())  # as DocArray: nothing to match against, no matches
    assert [len(d.matches) for d in q] == [0, 0]
    with pytest.raises(BadInputError, match="NaN"):
        da.find(np.full(8, np.nan, dtype=np.float32))


def test_embed_with_callable_and_encode(make_da):
    da = make_da([Document(id=str(i), text="x" * i) for i in range(10)])
    da.embed(lambda batch: np.array([[len(t), 1.0] for t in batch.texts]), batch_size=3)
    assert np.array_equal(da.embeddings[:, 0], np.arange(10))

    class Encoder:
        def encode(self, texts):
            return np.ones((len(texts), 4))

    da.embed(Encoder(), normalize=True)
    assert np.allclose(np.linalg.norm(da.embeddings, axis=1), 1.0)


def test_embed_rejects_wrong_row_count_and_leaves_array_unchanged():
    da = DocumentArray([Document(embedding=[0.0, 0.0]) for _ in range(4)])
    with pytest.raises(DimensionMismatchError, match="one embedding per Document"):
        da.embed(lambda batch: np.ones((1, 2)), batch_size=4)
    assert np.array_equal(da.embeddings, np.zeros((4, 2)))


def test_evaluate_with_ground_truth_and_labels():
    index = DocumentArray([Document(id=f"d{i}", tags={"label": i % 2}) for i in range(4)])
    q = DocumentArray([Document(id="q", tags={"label": 0})])
    q[0].matches = [index["d0"], index["d1"], index["d2"]]
    gt = DocumentArray([Document(id="q")])
    gt[0].matches = [Document(id="d2"), Document(id="d0")]
    res = q.evaluate(["precision_at_k", "recall_at_k", "reciprocal_rank", "ndcg_at_k"],
                     ground_truth=gt, k=2)
    assert res["precision_at_k"] == 0.5 and res["recall_at_k"] == 0.5
    assert res["reciprocal_rank"] == 1.0
    assert 0 < res["ndcg_at_k"] < 1
    assert q[0].evaluations["precision_at_k"].value == 0.5
    by_label = q.evaluate("precision_at_k", k=3)
    assert by_label["precision_at_k"] == pytest.approx(2 / 3)
    with pytest.raises(BadInputError, match="unknown evaluation metric"):
        q.evaluate(["nope"])


def test_blockwise_knn_matches_one_shot():
    from shoal.document.distance import knn

    rng = np.random.default_rng(5)
    data = rng.standard_normal((1000, 16)).astype(np.float32)
    q = rng.standard_normal((7, 16)).astype(np.float32)
    for metric in ("cosine", "euclidean", "inner_product"):
        s1, i1 = knn(q, data, 10, metric)
        s2, i2 = knn(q, data, 10, metric, block_size=64)
        assert np.array_equal(i1, i2) and np.allclose(s1, s2, atol=1e-4)


def test_match_copies_every_field_but_matches_and_scores():
    from shoal.document.compute import _light_copy
    from shoal.document.document import Document as D

    src = D(id="s", parent_id="p", granularity=1, adjacency=2, text="t", uri="u",
            mime_type="m", tags={"a": 1}, modality="x", offset=3, location=[1], weight=0.5,
            embedding=[1.0, 2.0])
    src.chunks.append(D(id="c"))
    src.matches.append(D(id="old"))
    src.scores["x"] = 1.0
    m = _light_copy(src)
    for name in D.__slots__[:-1]:
        if name in ("_matches", "_scores", "_evaluations"):
            assert getattr(m, name) is None
        elif name == "_embedding":
            assert m._embedding is src._embedding
        else:
            assert getattr(m, name) == getattr(src, name), name
    m.tags["a"] = 2
    assert src.tags["a"] == 1
    assert _light_copy(src, only_id=True).non_empty_fields == ("id",)


def test_normalize_rows_copies_or_scales_in_place():
    from shoal.document.distance import normalize_rows

    m = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    unit = normalize_rows(m)
    assert unit is not m and np.allclose(m[0], [3, 4])  # the input is left alone
    assert np.allclose(unit, [[0.6, 0.8], [0, 0], [1, 0]])
    same = normalize_rows(m, in_place=True)
    assert same is m and np.allclose(m, unit)  # zero rows stay zero


def test_docarray_find_and_match_keywords_run_on_every_storage(make_da, storage):
    """DocArray's normalization / use_scipy / device / num_worker / index='text' /
    return_root=False are taken by find and match on every storage (a disk store's index
    would refuse unknown keywords); normalization min-max scales each query's matches."""
    docs, m = _data(30)
    da = make_da(docs) if storage == "memory" else make_da(docs, index="hnsw")
    plain = [d.scores["cosine"].value for d in da.find(m[3], limit=5)]
    scaled = da.find(m[3], limit=5, normalization=(0, 1), use_scipy=True, device="cpu",
                     num_worker=2, index="text", return_root=False)
    got = [d.scores["cosine"].value for d in scaled]
    every = pairwise(m[3:4], m, "cosine")[0]  # DocArray's bounds: over every Document
    lo, hi = every.min(), every.max()
    assert got == pytest.approx([(v - lo) / (hi - lo + 1e-7) for v in plain], abs=1e-5)
    assert got[0] == pytest.approx(0.0, abs=1e-5) and got[-1] < 0.9
    q = DocumentArray([Document(embedding=m[3])])
    q.match(da, limit=5, normalization=(1, 0), num_worker=4)
    assert [d.scores["cosine"].value for d in q[0].matches] == pytest.approx(
        [1 - g for g in got], abs=1e-6)
    for bad, match in (({"index": "embedding"}, "DocArray option"), ({"on": "@c"}, "DocArray option"),
                       ({"normalization": 1}, "pair")):
        with pytest.raises(BadInputError, match=match):
            da.find(m[3], limit=5, **bad)
