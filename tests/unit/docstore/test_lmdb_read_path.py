"""The search read path of the LMDB store: records -> Documents -> scored matches, in C
(shoal.document._fast) and in pure Python (the reference), and the label -> row hints."""
from __future__ import annotations

import numpy as np
import pytest

from shoal.document import accel
from shoal.document.array import DocumentArray
from shoal.document.compute import matches_of
from shoal.document.document import Document
from shoal.docstore.lmdb_records import documents, pack
from shoal.docstore.rows import encode, set_embeddings
from shoal.errors import CorruptStoreError

C = accel.fast


def _record(d: Document, label: int | None) -> bytes:
    return pack(encode(d), label)


def _stored_docs() -> list[Document]:
    return [
        Document(id="plain", text="hello wörld"),
        Document(id="tagged", text="t", tags={"a": [1, 2], "b": {"c": None}}),
        Document(id="no-text"),
        Document(id="blob", blob=b"\x00\x01", mime_type="x/y", tags={"k": "v"}),
        Document(id="f64", embedding=np.arange(3, dtype=np.float64)),  # kept in the blob
        Document(id="chunks", text="p", chunks=[Document(id="c1", text="c")]),
    ]


def test_documents_decodes_every_kind_of_record(read_path):
    stored = _stored_docs()
    labels = [0, 5, None, 7, 9, None]
    recs = [_record(d, lab) for d, lab in zip(stored, labels)]
    docs, got, want = documents(recs)
    assert got == [0, 5, -1, 7, 9, -1]
    assert want == [0, 1, 3]  # f64's embedding is in its blob (IN_BLOB), not read from the column
    for d, s in zip(docs, stored):
        assert type(d) is Document
        assert d.id == s.id and d.text == s.text and d.tags == s.tags and d.blob == s.blob
        assert d.mime_type == s.mime_type and d.granularity == 0 and d.parent_id is None
        assert len(d.matches) == 0 and len(d.scores) == 0
    assert np.array_equal(docs[4].embedding, stored[4].embedding) and docs[4].embedding.dtype == np.float64
    assert [c.id for c in docs[5].chunks] == ["c1"]
    assert docs[0].embedding is None
    rows = np.arange(6, dtype=np.float32).reshape(3, 2)
    set_embeddings(docs, want, rows)
    assert [list(docs[i].embedding) for i in want] == rows.tolist()


@pytest.mark.parametrize("damage", ["short", "overrun", "utf8", "tags"])
def test_damaged_records_raise_corrupt_store_error(read_path, damage):
    good = _record(Document(id="x", text="abc", tags={"a": 1}), 0)
    rec = {"short": good[:10],
           "overrun": good[:-3],
           "utf8": good.replace(b"abc", b"a\xffc"),
           "tags": good.replace(b'{"a":1}', b'{"a":1,')}[damage]
    with pytest.raises(CorruptStoreError):
        documents([_record(Document(id="ok"), 1), rec])


def _reference_matches(scores, keys, docs):
    """What matches_of must return, written out plainly."""
    out = []
    for row_s, row_k in zip(scores.tolist(), keys.tolist()):
        out.append([(docs[k].id, s) for s, k in zip(row_s, row_k) if k in docs])
    return out


@pytest.mark.parametrize("only_id", [False, True])
@pytest.mark.parametrize("fresh", [True, False])
def test_matches_of_scores_each_occurrence_on_its_own_object(read_path, only_id, fresh):
    keys = np.array([[3, 1, -1], [1, 3, 7], [3, 3, -1]], dtype=np.int64)
    scores = np.array([[0.1, 0.2, np.nan], [0.3, 0.4, 0.5], [0.6, 0.7, np.nan]], np.float32)
    source = {k: Document(id=f"d{k}", text=f"t{k}", tags={"k": k},
                          matches=[Document(id="old")]) for k in (1, 3, 7)}

    def fetch(unique):
        assert unique == [1, 3, 7]
        return [source[k] for k in unique], [fresh] * len(unique) if fresh else None

    got = matches_of(scores, keys, fetch, "cosine", only_id)
    assert [[(m.id, m.scores["cosine"].value) for m in row] for row in got] == \
        _reference_matches(scores, keys, source)
    flat = [m for row in got for m in row]
    assert len({id(m) for m in flat}) == len(flat)
    assert all(len(m.matches) == 0 and list(m.scores) == ["cosine"] for m in flat)
    if only_id:
        assert all(m.text == "" and m.tags == {} for m in flat)
    else:
        assert all(m.text == f"t{m.id[1:]}" and m.tags == {"k": int(m.id[1:])} for m in flat)
    if not fresh:  # stored Documents are never handed out or changed
        assert all(m is not source[int(m.id[1:])] for m in flat)
        assert all(len(d.matches) == 1 and len(d.scores) == 0 for d in source.values())


def _lmdb(tmp_path, n=200, dim=8, **extra):
    rng = np.random.default_rng(0)
    data = [Document(id=f"d{i}", text=f"text {i}", tags={"i": i},
                     embedding=rng.random(dim, dtype=np.float32)) for i in range(n)]
    da = DocumentArray(data, storage="lmdb", config={"path": str(tmp_path / "s"), "name": "a",
                                                     **extra})
    return da, data


def test_find_is_the_same_on_both_paths(tmp_path, monkeypatch):
    da, data = _lmdb(tmp_path, index="hnsw", metric="cosine", index_params={"ef": 200})
    q = np.random.default_rng(1).random((150, 8), dtype=np.float32)
    fast = [[(m.id, m.text, m.tags, m.scores["cosine"].value, m.embedding.tolist()) for m in r]
            for r in da.find(q, limit=5)]
    monkeypatch.setattr(accel, "fast", None)
    slow = [[(m.id, m.text, m.tags, m.scores["cosine"].value, m.embedding.tolist()) for m in r]
            for r in da.find(q, limit=5)]
    assert fast == slow
    da.close()


def test_stale_label_hints_are_detected_and_replaced(tmp_path, read_path):
    da, data = _lmdb(tmp_path)
    store = da._store
    q = data[10].embedding
    assert da.find(q, limit=1, metric="euclidean")[0].id == "d10"
    # plant wrong hints: every label points at the row of label 0, or at a missing row
    store._label_rows.learn(np.arange(200), np.zeros(200, dtype=np.int64))
    assert da.find(q, limit=1, metric="euclidean")[0].id == "d10"
    store._label_rows.learn(np.arange(200), np.full(200, 10_000, dtype=np.int64))
    res = da.find(q, limit=3, metric="euclidean")
    assert res[0].id == "d10" and res[0].text == "text 10" and res[0].tags == {"i": 10}
    # a vacuum renumbers labels (a new column epoch): the hints start over
    del da[0:5]
    da.vacuum()
    assert da.find(q, limit=1, metric="euclidean")[0].id == "d10"
    assert da.find(data[3].embedding, limit=1, metric="euclidean")[0].id != "d3"
    da.close()


def test_c_speedups_refuse_classes_of_another_shape():
    if C is None:
        pytest.skip("shoal.document._fast is not built")
    class Wider(Document):
        __slots__ = ("extra",)

    with pytest.raises(TypeError, match="slots"):
        C.init(Wider)
    C.init(Document)  # still usable
    assert documents([_record(Document(id="a", text="b"), 0)])[0][0].text == "b"


def test_matches_of_documents_of_a_subclass(read_path):
    class Mine(Document):
        __slots__ = ()

    data = DocumentArray([Mine(id=f"m{i}", embedding=np.full(3, i, np.float32)) for i in range(5)])
    res = data.find(np.full((2, 3), 2, np.float32), limit=2, metric="euclidean")
    assert [[m.id for m in r] for r in res] == [["m2", "m1"], ["m2", "m1"]]
    assert res[0][0] is not data[2] and res[0][0] is not res[1][0]
