"""A search gives each match one score, kept as a pending (name, value) pair until
``d.scores`` is read: every way of reading a Document must see the same score."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from shoal import Document, DocumentArray
from shoal.document.codec import doc_from_bytes, doc_to_bytes, doc_to_dict
from shoal.document.score import NamedScoreMap, score_map, score_names, score_value
from shoal.executors.merge import rerank_matches


@pytest.fixture
def matches(read_path, tmp_path):
    """The matches of one query found through an LMDB store, by the C read path (when
    built) and by pure Python."""
    rng = np.random.default_rng(0)
    da = DocumentArray(storage="lmdb", config={"path": str(tmp_path / "s"), "n_dim": 4,
                                               "metric": "cosine"})
    da.extend(Document(id=f"d{i}", text=f"t{i}", embedding=rng.random(4, dtype=np.float32))
              for i in range(20))
    found = da.find(rng.random(4, dtype=np.float32), limit=5)
    da.close()
    return list(found)


def test_a_found_score_reads_like_a_set_one(matches):
    values = [score_value(m._scores, "cosine") for m in matches]
    assert all(isinstance(v, float) for v in values) and values == sorted(values)
    for m, v in zip(matches, values):
        assert score_names(m._scores) == ("cosine",)
        assert score_value(m._scores, "euclidean") is None
        assert "scores" in m.non_empty_fields
        assert m.scores["cosine"].value == v and type(m.scores) is NamedScoreMap
        assert list(m.scores) == ["cosine"]
        m.scores["cosine"].value = 9.0  # the map is the Document's own from now on
        assert m.scores["cosine"].value == 9.0


def test_a_found_score_survives_every_copy_and_codec(matches):
    m = matches[0]
    v = score_value(m._scores, "cosine")
    same = Document(id=m.id, text=m.text, embedding=m.embedding, scores={"cosine": v})
    assert m == same and same == m
    for other in (copy.copy(m), copy.deepcopy(m), pickle.loads(pickle.dumps(m)),
                  doc_from_bytes(doc_to_bytes(m)), Document(m)):
        assert other.scores["cosine"].value == v and other == same
    assert doc_to_dict(matches[1])["scores"] == {"cosine": {"value": score_value(
        matches[1]._scores, "cosine")}}
    m.scores["cosine"].value = 1.5
    assert m != same


def test_rerank_reads_found_scores(matches):
    holder = Document(id="q")
    holder.matches = [matches[i] for i in (4, 0, 3, 1, 2)]
    # two shards, each sorted as found: the merge keeps that (ascending) order
    rerank_matches(DocumentArray([holder]), limit=3, parts={"q": [matches[:2], matches[2:]]})
    assert [x.id for x in holder.matches] == [m.id for m in matches[:3]]


def test_score_map_helpers_on_plain_values():
    assert score_map(None) is None and score_names(None) == () and score_value(None, "x") is None
    full = NamedScoreMap()
    full["a"] = 0.5
    assert score_map(full) is full and score_names(full) == ("a",)
    assert score_value(full, "a") == 0.5 and score_value(full, "b") is None
    pending = score_map(("a", 0.25))
    assert type(pending) is NamedScoreMap and pending["a"].value == 0.25
