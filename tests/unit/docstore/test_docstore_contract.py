"""The DocStore contract, stated once and run against memory, sqlite and lmdb."""
from __future__ import annotations

import numpy as np
import pytest

from shoal.document.array import DocumentArray
from shoal.document.document import Document
from shoal.errors import (DimensionMismatchError, DocumentNotFoundError, DuplicateIdError,
                          EmptyArrayError)


def docs(n, dim=4, start=0):
    rng = np.random.default_rng(start)
    return [Document(id=f"d{i}", text=f"text {i}", tags={"i": i, "odd": i % 2 == 1},
                     embedding=rng.random(dim, dtype=np.float32)) for i in range(start, start + n)]


def test_extend_get_len_contains(opener):
    da = opener(docs(10))
    assert len(da) == 10
    assert "d3" in da and "nope" not in da
    assert da[3].id == "d3" and da[-1].id == "d9"
    assert da["d4"].text == "text 4"
    assert [d.id for d in da[2:5]] == ["d2", "d3", "d4"]
    assert da[:, "text"][:2] == ["text 0", "text 1"]
    assert [d.id for d in da[["d7", "d1"]]] == ["d7", "d1"]
    assert np.allclose(da[5].embedding, docs(10)[5].embedding)
    assert da[5].embedding.dtype == np.float32
    with pytest.raises(DocumentNotFoundError):
        da["missing"]
    with pytest.raises(IndexError):
        da[10]


def test_set_insert_delete_keep_positions(opener):
    da = opener(docs(6))
    da[1] = Document(id="x", text="new")
    da.insert(0, Document(id="first"))
    del da[3]  # was d2
    del da[["d4"]]
    assert [d.id for d in da] == ["first", "d0", "x", "d3", "d5"]
    assert da.index("d5") == 4 and da["x"].text == "new"
    da.append(Document(id="last"))
    assert da[-1].id == "last" and len(da) == 6
    del da[1:3]
    assert [d.id for d in da] == ["first", "d3", "d5", "last"]
    assert [da.index(i) for i in ("first", "d3", "d5", "last")] == [0, 1, 2, 3]
    da.clear()
    assert len(da) == 0 and list(da) == []
    da.extend(docs(2))
    assert [d.id for d in da] == ["d0", "d1"]


def test_set_at_may_swap_ids_and_refuses_duplicates(opener):
    da = opener(docs(4))
    da[0:2] = [Document(id="d1", text="a"), Document(id="d0", text="b")]
    assert [d.id for d in da] == ["d1", "d0", "d2", "d3"] and da["d0"].text == "b"
    with pytest.raises(DuplicateIdError):
        da[0] = Document(id="d3")
    assert [d.id for d in da] == ["d1", "d0", "d2", "d3"]


def test_order_survives_reopen(opener):
    da = opener(docs(20))
    da.insert(5, Document(id="mid"))
    del da[0]
    da.reverse()
    order = [d.id for d in da]
    da = opener.reopen(da)
    assert [d.id for d in da] == order
    assert da.index("mid") == order.index("mid")


def test_in_place_changes_are_written_back_on_sync_and_exit(opener):
    da = opener(docs(5))
    da[0].text = "changed"
    da["d1"].tags["new"] = 1
    d2 = da[2]
    d2.embedding = np.ones(4, dtype=np.float32)
    assert da[0].text == "changed"  # the same object while tracked
    da.sync()
    da = opener.reopen(da)
    assert da[0].text == "changed" and da["d1"].tags["new"] == 1
    assert np.array_equal(da[2].embedding, np.ones(4))
    if opener.storage != "memory":
        with DocumentArray(storage=opener.storage, config=opener.config(da)) as again:
            again[3].text = "on exit"
        da = opener.reopen(da)
        assert da[3].text == "on exit"


def test_bulk_attribute_writes_are_immediate(opener):
    da = opener(docs(4))
    da[:, "text"] = ["a", "b", "c", "d"]
    da.embeddings = np.zeros((4, 4), dtype=np.float32)
    da = opener.reopen(da)
    assert da.texts == ["a", "b", "c", "d"]
    assert np.array_equal(da.embeddings, np.zeros((4, 4)))


def test_duplicate_policy(opener):
    da = opener(docs(3))
    with pytest.raises(DuplicateIdError, match="d1"):
        da.extend([Document(id="new"), Document(id="d1")])
    assert len(da) == 3 and "new" not in da
    with pytest.raises(DuplicateIdError):
        da.extend([Document(id="z"), Document(id="z")])
    assert len(da) == 3
    over = opener(docs(3), on_duplicate="overwrite")
    over.extend([Document(id="d1", text="replaced"), Document(id="d9")])
    assert [d.id for d in over] == ["d0", "d1", "d2", "d9"] and over["d1"].text == "replaced"


def test_wrong_dimension_leaves_store_unchanged(opener):
    if opener.storage == "memory":
        pytest.skip("the memory store has no fixed dimension")
    da = opener(docs(3, dim=4))
    with pytest.raises(DimensionMismatchError):
        da.extend([Document(id="ok", embedding=np.zeros(4, np.float32)),
                   Document(id="bad", embedding=np.zeros(5, np.float32))])
    assert len(da) == 3 and "ok" not in da
    assert da.embeddings.shape == (3, 4)


def test_find_exact_matches_brute_force(opener):
    data = docs(300, dim=8)
    da = opener(data, block_size=64)
    matrix = np.stack([d.embedding for d in data])
    q = np.random.default_rng(1).random((3, 8), dtype=np.float32)
    res = da.find(q, limit=5, metric="euclidean")
    for row, r in zip(q, res):
        want = np.argsort(np.linalg.norm(matrix - row, axis=1))[:5]
        assert [d.id for d in r] == [f"d{i}" for i in want]
        assert np.allclose([d.scores["euclidean"].value for d in r],
                           np.sort(np.linalg.norm(matrix - row, axis=1))[:5], atol=1e-4)


def test_filtered_find_returns_limit_passing_docs(opener):
    data = docs(500, dim=8)
    da = opener(data, block_size=50)
    q = np.random.default_rng(2).random(8, dtype=np.float32)
    flt = {"tags__i": {"$lt": 100}, "tags__odd": True}
    res = da.find(q, limit=10, filter=flt)
    assert len(res) == 10
    assert all(d.tags["i"] < 100 and d.tags["odd"] for d in res)
    passing = [d for d in data if d.tags["i"] < 100 and d.tags["odd"]]
    m = np.stack([d.embedding for d in passing])
    cos = 1 - (m @ q) / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))
    assert [d.id for d in res] == [passing[i].id for i in np.argsort(cos)[:10]]
    assert len(da.find(q, limit=10, filter={"tags__i": {"$gt": 10_000}})) == 0


def test_search_after_deletes_and_updates(opener):
    data = docs(50, dim=4)
    da = opener(data)
    del da[0:10]
    da[0] = Document(id="moved", embedding=np.full(4, 9, np.float32))
    res = da.find(np.full(4, 9, np.float32), limit=3, metric="euclidean")
    assert res[0].id == "moved"
    assert all(d.id not in {f"d{i}" for i in range(11)} for d in res)
    assert len(da.find(np.ones(4, np.float32), limit=100)) == 40


def test_batch_find_gives_every_match_its_own_object(opener):
    data = docs(60, dim=8)
    data[0].matches = [Document(id="stored-match")]  # a stored Document's own matches stay out
    da = opener(data)
    rng = np.random.default_rng(3)
    centre = data[0].embedding
    q = (centre + 0.01 * rng.random((300, 8))).astype(np.float32)  # > one search chunk
    res = da.find(q, limit=5, metric="euclidean")
    matrix = np.stack([d.embedding for d in data])
    objects = [m for r in res for m in r]
    assert len({id(m) for m in objects}) == len(objects) == 300 * 5
    for row, r in zip(q, res):
        dist = np.linalg.norm(matrix - row, axis=1)
        assert [d.id for d in r] == [f"d{i}" for i in np.argsort(dist)[:5]]
        assert np.allclose([d.scores["euclidean"].value for d in r], np.sort(dist)[:5], atol=1e-4)
        assert all(len(d.matches) == 0 and list(d.scores) == ["euclidean"] for d in r)
    res[0][0].text = "changed"
    res[0][0].tags["new"] = 1
    assert res[1][0].text == "text 0" and "new" not in res[1][0].tags
    assert da["d0"].text == "text 0" and "new" not in da["d0"].tags
    only = da.find(q[:2], limit=3, metric="euclidean", only_id=True)
    assert [d.id for d in only[0]] == [d.id for d in res[0][:3]]
    assert only[0][0].text == "" and only[0][0].embedding is None
    assert only[0][0].scores["euclidean"].value == res[0][0].scores["euclidean"].value


def test_find_sees_unsynced_changes_of_fetched_documents(opener):
    data = docs(20, dim=4)
    da = opener(data)
    fetched = da["d7"]
    fetched.text = "edited in place"
    got = da.find(data[7].embedding, limit=1, metric="euclidean")[0]
    assert got.id == "d7" and got.text == "edited in place"
    assert got is not fetched


@pytest.mark.parametrize("index", [None, "hnsw"])
def test_embeddings_set_in_place_are_searched_once_synced(disk, index):
    da = disk([Document(id=f"d{i}", text=f"text {i}", tags={"i": i}) for i in range(6)],
              **({"index": index} if index else {}))
    vecs = np.eye(6, dtype=np.float32)[:, :4] + 0.01
    for d, v in zip(da, vecs):
        d.embedding = v
    for kw in ({}, {"filter": {"tags__i": {"$lt": 3}}}):
        with pytest.raises(EmptyArrayError, match=r"6 Documents read from this store were given "
                                                  r"an embedding in place.*da\.sync\(\) first"):
            da.find(vecs[2], limit=1, metric="euclidean", **kw)
    da.sync()
    assert da.find(vecs[2], limit=1, metric="euclidean")[0].id == "d2"
    assert da.find(vecs[1], limit=1, metric="euclidean", filter={"tags__i": {"$lt": 3}})[0].id == "d1"

    moved = da["d2"]
    moved.embedding = np.full(4, 9.0, dtype=np.float32)  # not saved: search ranks by the saved one
    assert da.find(vecs[2], limit=1, metric="euclidean")[0].id == "d2"
    da.sync()
    assert da.find(np.full(4, 9.0, dtype=np.float32), limit=1, metric="euclidean")[0].id == "d2"
    assert da.find(vecs[2], limit=1, metric="euclidean")[0].id != "d2"


def test_missing_embeddings_error_has_no_sync_hint_when_nothing_is_unsaved(disk):
    da = disk([Document(id="a", embedding=np.ones(4, np.float32)), Document(id="b")])
    with pytest.raises(EmptyArrayError, match="no embedding") as err:
        da.find(np.ones(4, np.float32), limit=1)
    assert "sync" not in str(err.value)


def test_find_without_embeddings_is_a_clear_error(opener):
    da = opener([Document(id="a", embedding=np.ones(3, np.float32)), Document(id="b")])
    with pytest.raises(EmptyArrayError, match="no embedding"):
        da.find(np.ones(3, np.float32), limit=1)


def test_embeddings_column_and_non_float32_fidelity(opener):
    da = opener([Document(id="f64", embedding=np.arange(3, dtype=np.float64)),
                 Document(id="f32", embedding=np.arange(3, dtype=np.float32))])
    assert da["f64"].embedding.dtype == np.float64
    assert np.array_equal(da.embeddings, [[0, 1, 2], [0, 1, 2]])
    assert da[0] == Document(id="f64", embedding=np.arange(3, dtype=np.float64))


def test_reembed_with_another_dimension(opener):
    da = opener(docs(6, dim=4))
    da.embed(lambda batch: np.ones((len(batch), 2)), batch_size=6)
    assert da.embeddings.shape == (6, 2)
    assert len(da.find(np.ones(2, np.float32), limit=3)) == 3


def test_iteration_streams_in_blocks_and_sees_everything(opener):
    da = opener(docs(5000, dim=2))
    assert sum(1 for _ in da) == 5000
    assert [d.id for d in da][4999] == "d4999"


def test_every_field_round_trips_through_reopen(opener):
    rich = Document(id="rich", parent_id="p", granularity=1, adjacency=2, blob=b"\x00\x01",
                    tensor=np.arange(6, dtype=np.int32).reshape(2, 3), uri="file://x",
                    mime_type="text/plain", tags={"a": {"b": [1, 2.5, None, True]}, "s": "ü"},
                    modality="text", offset=1.5, location=[1.0, 2.0], weight=0.5,
                    embedding=np.arange(4, dtype=np.float32), text="hello",
                    chunks=[Document(id="c", text="chunk")], matches=[Document(id="m")],
                    scores={"cosine": 0.25})
    plain = Document(id="plain", text="only text")
    da = opener([rich, plain])
    da = opener.reopen(da)
    assert da["rich"] == rich and da["plain"] == plain
    assert da["rich"].chunks[0].parent_id == "rich" or da["rich"].chunks[0].text == "chunk"


def test_batch_find_after_deletes_and_replacements_equals_brute_force(opener):
    data = docs(120, dim=8)
    data[7].embedding = np.arange(8, dtype=np.float64)  # kept exactly, searched as float32
    da = opener(data)
    if opener.storage != "memory":  # disk stores answer with their label -> row fast path
        assert callable(getattr(da._store, "find_matches", None))
    del da[20:40]
    da[0] = Document(id="new", text="new", embedding=np.full(8, 0.25, np.float32))
    live = [da[i] for i in range(len(da))]
    matrix = np.stack([np.asarray(d.embedding, np.float32) for d in live])
    q = np.random.default_rng(5).random((260, 8), dtype=np.float32)
    q[-1] = np.arange(8)
    res = da.find(q, limit=4, metric="euclidean")
    for row, r in zip(q, res):
        dist = np.linalg.norm(matrix - row, axis=1)
        assert [d.id for d in r] == [live[i].id for i in np.argsort(dist)[:4]]
        assert all(d.text == live[[x.id for x in live].index(d.id)].text for d in r)
    hit = [d for r in res for d in r if d.id == "d7"]
    assert hit and all(d.embedding.dtype == np.float64 for d in hit)
