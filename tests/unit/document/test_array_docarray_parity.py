"""DocumentArray behaviour a DocArray 0.21 user's code relies on (each checked against
DocArray 0.21.1 side by side; the expected numbers are DocArray's)."""
from __future__ import annotations

import numpy as np
import pytest

from shoal import Document, DocumentArray
from shoal.document import evaluation
from shoal.document.distance import pairwise
from shoal.errors import BadInputError, InvalidFilterError


def _docs(n=20, dim=6, seed=0):
    m = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return [Document(id=f"d{i}", embedding=m[i], tags={"i": i}) for i in range(n)], m


def test_with_block_syncs_and_keeps_a_disk_array_open(make_da, storage):
    """DocArray's ``with da:`` writes back and stays usable (an executor's index)."""
    docs, m = _docs()
    da = make_da()
    with da:
        da.extend(docs)
    assert len(da) == 20 and da.find(m[3], limit=1)[0].id == "d3"
    with da:
        da[0].tags["seen"] = True  # changed in place: synced on leaving the block
    assert da[0].tags["seen"] is True


def test_flatten_is_an_array_children_first(make_da):
    root = Document(id="r", chunks=[Document(id="c1", chunks=[Document(id="cc")]),
                                    Document(id="c2")])
    root.matches = [Document(id="m1")]
    da = make_da([root, Document(id="s")])
    flat = da.flatten()
    assert isinstance(flat, DocumentArray)
    assert flat[:, "id"] == ["cc", "c1", "c2", "m1", "r", "s"]  # DocArray 0.21's order
    assert da[...][:, "id"] == flat[:, "id"]


def test_embedding_and_tensor_columns_are_stacked(make_da):
    docs, m = _docs(4)
    da = make_da(docs)
    col = da[:, "embedding"]
    assert isinstance(col, np.ndarray) and np.allclose(col, m)
    ids, emb = da[:2, ["id", "embedding"]]
    assert ids == ["d0", "d1"] and emb.shape == (2, 6)
    assert make_da([Document(), Document()])[:, "embedding"] is None


@pytest.mark.parametrize("limit", [2.0, np.int64(2)])
def test_limit_from_json_or_numpy(make_da, limit):
    docs, m = _docs()
    da = make_da(docs)
    assert len(da.find(m[0], limit=limit)) == 2
    q = DocumentArray([Document(embedding=m[0])])
    q.match(da, limit=limit)
    assert len(q[0].matches) == 2


@pytest.mark.parametrize("limit", [2.5, 0, -1, "2", True])
def test_bad_limits_are_refused(make_da, limit):
    docs, m = _docs()
    da = make_da(docs)
    with pytest.raises(BadInputError, match="limit must be a positive integer"):
        da.find(m[0], limit=limit)


def test_match_against_an_empty_array_leaves_no_matches(make_da):
    docs, _ = _docs(3)
    q = DocumentArray(docs)
    q.match(make_da())
    assert [len(d.matches) for d in q] == [0, 0, 0]


def test_empty_filter_means_no_filter(make_da):
    docs, m = _docs()
    da = make_da(docs)
    assert da.find(m[2], filter={}, limit=3)[:, "id"] == da.find(m[2], limit=3)[:, "id"]
    assert len(da.find({})) == 20


def test_a_function_as_the_metric(make_da):
    """DocArray's metric=callable: (queries, embeddings) -> distances, lowest first; the
    scores are named after the function; filters and normalization apply."""
    docs, m = _docs()
    da = make_da(docs)

    def manhattan(x, y):
        return np.abs(x[:, None, :] - y[None, :, :]).sum(-1)

    want = np.argsort(manhattan(m[:2], m), axis=1)[:, :4]
    got = da.find(m[:2], metric=manhattan, limit=4)
    assert [r[:, "id"] for r in got] == [[f"d{i}" for i in row] for row in want]
    assert got[0][1].scores["manhattan"].value == pytest.approx(manhattan(m[:1], m)[0, want[0, 1]])
    odd = da.find(m[0], metric=manhattan, limit=3, filter={"tags__i": {"$in": [1, 3, 5, 7]}})
    assert set(odd[:, "id"]) <= {"d1", "d3", "d5", "d7"} and len(odd) == 3
    q = DocumentArray([Document(embedding=m[5])])
    q.match(da, metric=manhattan, limit=2, metric_name="l1", normalization=(0, 1))
    assert q[0].matches[0].id == "d5" and q[0].matches[0].scores["l1"].value == pytest.approx(0.0)
    with pytest.raises(BadInputError, match="distance matrix"):
        da.find(m[0], metric=lambda x, y: np.zeros(3))


def test_normalization_scales_between_the_bounds_over_every_document(make_da):
    """DocArray: 'normalization bound uses original distance not the top-k trimmed'."""
    docs, m = _docs()
    da = make_da(docs)
    every = pairwise(m[7:8], m, "euclidean")[0]
    lo, hi = every.min(), every.max()
    got = da.find(m[7], metric="euclidean", limit=3, normalization=(1, 0))
    plain = da.find(m[7], metric="euclidean", limit=3)
    want = [(0 - 1) * (d.scores["euclidean"].value - lo) / (hi - lo + 1e-7) + 1 for d in plain]
    assert [d.scores["euclidean"].value for d in got] == pytest.approx(want, abs=1e-5)


# DocArray 0.21's docarray.math.evaluation on the same relevance lists
_REFERENCE = [
    # rel, p@2, recall(max_rel=4, k=3), f1(max_rel=4, k=3), ap, r_precision, ndcg, ndcg@3,
    # ndcg method 1, reciprocal rank, hit@2
    ([1, 0, 1, 0, 0, 1], 0.5, 0.5, 0.5714285714285715, 0.7222222222222222, 0.6666666666666666,
     0.7669465739504759, 0.6199062332840657, 0.8710785440003369, 1.0, 1),
    ([0, 0, 0, 1], 0.0, 0.0, 0.0, 0.25, 0.0, 0.5, 0.0, 0.43067655807339306, 0.25, 0),
    ([1, 1, 0], 1.0, 0.5, 0.5714285714285715, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1),
    ([0, 0, 0], 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0),
]


@pytest.mark.parametrize("row", _REFERENCE, ids=[str(r[0]) for r in _REFERENCE])
def test_metrics_give_docarrays_numbers(row):
    rel, *want = row
    e = evaluation
    got = [e.precision_at_k(rel, k=2), e.recall_at_k(rel, max_rel=4, k=3),
           e.f1_score_at_k(rel, max_rel=4, k=3), e.average_precision(rel), e.r_precision(rel),
           e.ndcg_at_k(rel), e.ndcg_at_k(rel, k=3), e.ndcg_at_k(rel, method=1),
           e.reciprocal_rank(rel), e.hit_at_k(rel, k=2)]
    assert got == pytest.approx(want)


def test_evaluate_takes_max_rel_and_custom_metrics(make_da):
    index = [Document(id=f"d{i}", tags={"label": i % 3}) for i in range(9)]
    q = DocumentArray([Document(id="q", tags={"label": 0})])
    q[0].matches = [index[0], index[1], index[3], index[4], index[6]]  # labels 0 1 0 1 0
    with pytest.raises(BadInputError, match="recall_at_k needs the number of relevant"):
        q.evaluate(["recall_at_k"])  # labels alone do not say how many are relevant
    assert q.evaluate(["recall_at_k"], max_rel=4)["recall_at_k"] == pytest.approx(0.75)
    assert q.evaluate(["recall_at_k"], num_relevant_documents_per_label={0: 6}, k=3) == \
        pytest.approx({"recall_at_k": 2 / 6})

    def hits(binary_relevance, **_):
        return float(sum(binary_relevance))

    assert q.evaluate([hits, "precision_at_k"], k=2) == pytest.approx(
        {"hits": 3.0, "precision_at_k": 0.5})
    assert q[0].evaluations["hits"].value == 3.0 and q[0].evaluations["hits"].ref_id == "q"
    gt = DocumentArray([Document(id="q", matches=[Document(id="d1"), Document(id="d6")])])
    res = q.evaluate(["precision_at_k", "recall_at_k"], ground_truth=gt)
    assert res == pytest.approx({"precision_at_k": 0.4, "recall_at_k": 1.0})
    with pytest.raises(BadInputError, match="do not hash alike"):
        q.evaluate(["precision_at_k"], ground_truth=DocumentArray(
            [Document(id="other", matches=[Document(id="d1")])]))
    with pytest.raises(BadInputError, match="unknown evaluation metric"):
        q.evaluate(["nope"])


def test_size_operator_and_list_equality(make_da):
    da = make_da([Document(id="a", tags={"l": [1, 2]}), Document(id="b", tags={"l": [2]}),
                  Document(id="c", tags={"l": "xy"})])
    assert da.find({"tags__l": {"$size": 2}})[:, "id"] == ["a", "c"]
    assert da.find({"tags__l": {"$eq": [1, 2]}})[:, "id"] == ["a"]
    assert da.find({"tags__l": {"$ne": [1, 2]}})[:, "id"] == ["b", "c"]
    with pytest.raises(InvalidFilterError, match=r"\$size needs a length"):
        da.find({"tags__l": {"$size": -1}})


def test_null_matches_a_missing_field_as_in_docarray(make_da):
    da = make_da([Document(id="a", tags={"x": 1}), Document(id="b", tags={"x": None}),
                  Document(id="c", tags={"y": 2})])
    assert da.find({"tags__x": None})[:, "id"] == ["b", "c"]
    assert da.find({"tags__x": {"$ne": None}})[:, "id"] == ["a"]
    assert da.find({"tags__x": {"$in": [None, 1]}})[:, "id"] == ["a", "b", "c"]
    assert da.find({"tags__x": {"$nin": [None]}})[:, "id"] == ["a"]


def test_named_score_takes_docarrays_op_name():
    from shoal.document.score import NamedScore

    s = NamedScore(value=0.5, op_name="cosine")
    assert s.op_name == s.op_type == "cosine"
    s.op_name = "l2"
    assert s.op_type == "l2" and NamedScore.from_dict({"op_name": "x"}).op_name == "x"


def test_a_function_metric_scans_in_blocks(make_da, monkeypatch):
    """The embeddings go to the function a block at a time (a disk store's column need
    not fit in RAM); the result is the same as over all of them at once."""
    from shoal.document import compute

    docs, m = _docs(40)
    da = make_da(docs)

    def l1(x, y):
        return np.abs(x[:, None, :] - y[None, :, :]).sum(-1)

    whole = [r[:, "id"] for r in da.find(m[:3], metric=l1, limit=5)]
    monkeypatch.setattr(compute, "_SCAN_ROWS", 7)
    assert [r[:, "id"] for r in da.find(m[:3], metric=l1, limit=5)] == whole
