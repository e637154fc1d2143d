"""The DocumentArray contract, run on every storage (memory, sqlite, lmdb)."""
import numpy as np
import pytest

from shoal import Document, DocumentArray
from shoal.errors import BadInputError, DimensionMismatchError, DocumentNotFoundError, EmptyArrayError


def docs(n, dim=None):
    out = [Document(id=f"d{i}", text=f"text {i}", tags={"i": i, "even": i % 2 == 0}) for i in range(n)]
    if dim:
        rng = np.random.default_rng(0)
        for d in out:
            d.embedding = rng.random(dim, dtype=np.float32)
    return out


def test_len_iter_and_order(make_da):
    da = make_da(docs(5))
    assert len(da) == 5
    assert [d.id for d in da] == [f"d{i}" for i in range(5)]
    assert bool(da) and not bool(make_da())


def test_index_by_int_slice_id_ids_mask(make_da):
    da = make_da(docs(6))
    assert da[0].id == "d0" and da[-1].id == "d5"
    assert [d.id for d in da[1:4]] == ["d1", "d2", "d3"]
    assert [d.id for d in da[::2]] == ["d0", "d2", "d4"]
    assert da["d3"].text == "text 3"
    assert [d.id for d in da[["d4", "d1"]]] == ["d4", "d1"]
    assert [d.id for d in da[[0, 5]]] == ["d0", "d5"]
    mask = [i % 3 == 0 for i in range(6)]
    assert [d.id for d in da[mask]] == ["d0", "d3"]
    assert [d.id for d in da[np.array(mask)]] == ["d0", "d3"]


def test_missing_id_and_position_errors(make_da):
    da = make_da(docs(2))
    with pytest.raises(DocumentNotFoundError, match="nope"):
        da["nope"]
    with pytest.raises(IndexError, match="out of range"):
        da[5]
    with pytest.raises(KeyError):
        da["nope"]
    with pytest.raises(BadInputError, match="one entry per Document"):
        da[[True, False, True]]


def test_attribute_columns(make_da):
    da = make_da(docs(3))
    assert da[:, "text"] == ["text 0", "text 1", "text 2"]
    assert da[:, ["id", "text"]] == [["d0", "d1", "d2"], ["text 0", "text 1", "text 2"]]
    da[:, "text"] = ["a", "b", "c"]
    assert da.texts == ["a", "b", "c"]
    assert da[0, "text"] == "a"
    da.texts = ["x", "y", "z"]
    assert [d.text for d in da] == ["x", "y", "z"]
    assert da.ids == ["d0", "d1", "d2"]
    assert da.tags[1] == {"i": 1, "even": False}
    with pytest.raises(BadInputError, match="one value per Document"):
        da.texts = ["only one"]
    assert da.texts == ["x", "y", "z"]


def test_nested_tag_columns_as_docarray_spells_them(make_da):
    """da[:, 'tags__a__b'] reads (None where missing) and writes a nested tag, on every
    storage (a disk store writes the change back)."""
    da = make_da([Document(id="a", tags={"p": {"q": 1}, "price": 3}), Document(id="b")])
    assert da[:, "tags__price"] == [3, None]
    assert da[:, "tags__p__q"] == [1, None]
    assert da[:, ["id", "tags__p"]] == [["a", "b"], [{"q": 1}, None]]
    assert da[0, "tags__p__q"] == 1 and da["a", "tags__price"] == 3
    da[:, "tags__p__q"] = [5, 6]
    assert da[:, "tags"] == [{"p": {"q": 5}, "price": 3}, {"p": {"q": 6}}]
    assert da.find(filter={"tags__p__q": {"$eq": 6}})[:, "id"] == ["b"]
    for bad in ((slice(None), "colour"), ([0, 1], ["id", "nope"])):
        with pytest.raises(BadInputError, match="unknown Document field"):
            da[bad]


def test_embeddings_matrix_and_setter(make_da):
    da = make_da(docs(4))
    assert da.embeddings is None
    m = np.arange(12, dtype=np.float32).reshape(4, 3)
    da.embeddings = m
    assert np.array_equal(da.embeddings, m)
    assert np.array_equal(da[2].embedding, m[2])
    with pytest.raises(DimensionMismatchError, match=r"\(4, D\)"):
        da.embeddings = np.zeros((3, 3))
    assert np.array_equal(da.embeddings, m)


def test_ragged_embeddings_are_a_clear_error():
    da = DocumentArray([Document(embedding=[1, 2]), Document(embedding=[1, 2, 3])])
    with pytest.raises(DimensionMismatchError, match="different shapes"):
        _ = da.embeddings


def test_tensors_and_blobs(make_da):
    da = make_da([Document(tensor=np.ones((2, 2), dtype=np.int8)), Document(blob=b"x")])
    with pytest.raises(EmptyArrayError, match=r"Documents \[1\] have no tensor"):
        _ = da.tensors  # as DocArray's unravel: a missing one after the first cannot stack
    assert [d.tensor.dtype if d.tensor is not None else None for d in da] == [np.int8, None]
    assert da.blobs == [None, b"x"]
    da = make_da([Document(tensor=np.ones(3)) for _ in range(2)])
    assert da.tensors.shape == (2, 3) and da[:, "tensor"].shape == (2, 3)
    da.tensors = np.zeros((2, 4))
    assert da.tensors.shape == (2, 4)
    assert make_da([Document(), Document()]).tensors is None


def test_append_extend_insert_delete(make_da):
    da = make_da(docs(3))
    da.append(Document(id="a"))
    da.extend([Document(id="b"), Document(id="c")])
    da.insert(0, Document(id="first"))
    assert da.ids == ["first", "d0", "d1", "d2", "a", "b", "c"]
    del da[0]
    del da["d1"]
    del da[-2:]
    assert da.ids == ["d0", "d2", "a"]
    del da[[True, False, True]]
    assert da.ids == ["d2"]
    popped = da.pop()
    assert popped.id == "d2" and len(da) == 0


def test_extend_streams_a_generator(make_da):
    da = make_da()
    da.extend(Document(id=str(i)) for i in range(2500))
    assert len(da) == 2500 and da[2499].id == "2499"


def test_setitem_replaces_keeping_position(make_da):
    da = make_da(docs(3))
    da[1] = Document(id="new", text="n")
    assert da.ids == ["d0", "new", "d2"]
    da["d2"] = Document(id="d2", text="changed")
    assert da["d2"].text == "changed" and da.ids == ["d0", "new", "d2"]
    da[0:2] = [Document(id="x"), Document(id="y")]
    assert da.ids == ["x", "y", "d2"]


def test_contains_index_remove_reverse_sort(make_da):
    da = make_da(docs(4))
    assert "d1" in da and da[1] in da and "zz" not in da
    assert da.index("d2") == 2
    da.remove("d0")
    da.reverse()
    assert da.ids == ["d3", "d2", "d1"]
    da.sort(key=lambda d: d.tags["i"])
    assert da.ids == ["d1", "d2", "d3"]
    da.clear()
    assert len(da) == 0


def test_empty_and_add(make_da):
    assert len(DocumentArray.empty(7)) == 7
    da = make_da(docs(2)) + DocumentArray(docs(1)[:0] + [Document(id="z")])
    assert da.ids == ["d0", "d1", "z"]


def test_traversal_selectors():
    root = Document(id="r")
    root.chunks.extend([Document(id=f"c{i}") for i in range(3)])
    root.chunks[0].matches.append(Document(id="cm0"))
    root.matches.extend([Document(id="m0"), Document(id="m1")])
    other = Document(id="r2")
    other.chunks.append(Document(id="c_other"))
    da = DocumentArray([root, other])
    assert da["@r"].ids == ["r", "r2"]
    assert da["@c"].ids == ["c0", "c1", "c2", "c_other"]
    assert da["@m"].ids == ["m0", "m1"]
    assert da["@cm"].ids == ["cm0"]
    assert da["@r[:1]"].ids == ["r"]
    assert da["@c[:1]"].ids == ["c0", "c_other"]
    assert da["@c,m"].ids == ["c0", "c1", "c2", "c_other", "m0", "m1"]
    assert da["@r[1]c"].ids == ["c_other"]
    assert da.traverse_flat("cm").ids == ["cm0"]
    assert len(da[...]) == 2 + 4 + 1 + 2
    # one grammar for '@...' selectors and traverse_flat: DocArray's steps and spaces
    for path in ("c[::2]", "r[::-1]", "c1", "r:1", "r c", "c[-1]"):
        assert da["@" + path].ids == da.traverse_flat(path).ids
    assert da["@c[::2]"].ids == ["c0", "c2", "c_other"]
    assert da["@r[::-1]"].ids == ["r2", "r"]
    assert da["@c[-1]"].ids == ["c2", "c_other"]
    with pytest.raises(BadInputError, match="traversal path"):
        da["@x"]


def test_batch_shuffle_sample_split(make_da):
    da = make_da(docs(10))
    batches = list(da.batch(4))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(da.shuffle(seed=1).ids) == sorted(da.ids)
    s = da.sample(3, seed=2)
    assert len(s) == 3 and set(s.ids) <= set(da.ids)
    groups = da.split_by_tag("even")
    assert sorted(groups) == [False, True] and len(groups[True]) == 5
    with pytest.raises(BadInputError):
        da.sample(11)


def _upper(d):
    d.text = d.text.upper()
    return d


def test_apply_and_map(make_da):
    da = make_da(docs(5))
    assert list(da.map(lambda d: d.tags["i"] * 2)) == [0, 2, 4, 6, 8]
    da.apply(_upper)
    assert da.texts[0] == "TEXT 0"
    assert list(DocumentArray(docs(4)).map(_upper, backend="process", num_worker=2))[3].text == "TEXT 3"


def test_summary(make_da, capsys):
    da = make_da(docs(3, dim=4))
    assert da.summary() is None  # as DocArray: printed only
    text = capsys.readouterr().out
    assert "Length" in text and "3" in text and "(4,) float32" in text
    if da.storage != "memory":  # a disk store names its vector index
        assert "Index" in text and "exact, cosine" in text


def test_summary_names_the_ann_index(tmp_path):
    from shoal.document.report import array_summary

    cfg = {"path": str(tmp_path / "s"), "index": "hnsw", "index_params": {"M": 8},
           "metric": "euclidean"}
    with DocumentArray(docs(3, dim=4), storage="lmdb", config=cfg) as da:
        assert "hnsw {'M': 8}, euclidean" in array_summary(da)
    pytest.importorskip("faiss")
    ivf = {"path": str(tmp_path / "f"), "index": "faiss:IVF16,Flat"}
    with DocumentArray(docs(100, dim=4), storage="lmdb", config=ivf) as da:
        da.find(np.ones(4, dtype=np.float32), limit=1)
        assert "(searches exact until 640 vectors train it)" in array_summary(da)
        da.extend(Document(embedding=np.random.default_rng(i).random(4, dtype=np.float32))
                  for i in range(600))
        da.find(np.ones(4, dtype=np.float32), limit=1)
        assert "exact until" not in array_summary(da)


def test_context_manager_closes(make_da):
    with make_da(docs(2)) as da:
        assert len(da) == 2


def test_embeddings_partially_missing_is_clear():
    da = DocumentArray([Document(embedding=[1.0]), Document()])
    with pytest.raises(EmptyArrayError, match="1 of 2 Documents have no embedding"):
        _ = da.embeddings


def test_query_documents_partially_missing_embeddings_are_named_as_queries():
    da = DocumentArray([Document(id="a", embedding=[1.0, 0.0])])
    queries = DocumentArray([Document(embedding=[1.0, 0.0]), Document()])
    with pytest.raises(EmptyArrayError, match="1 of 2 query Documents have no embedding"):
        da.find(queries, limit=1)
    with pytest.raises(EmptyArrayError, match="1 of 2 query Documents have no embedding"):
        queries.match(da, limit=1)


def test_in_memory_changes_are_by_reference():
    da = DocumentArray(docs(2))
    da[0].text = "changed"
    assert da[0].text == "changed"


def test_duplicate_ids_in_memory_follow_list_semantics():
    d = Document(id="same")
    da = DocumentArray([d, Document(id="same", text="second")])
    assert len(da) == 2 and da["same"].text == "second"
    strict = DocumentArray(config={"on_duplicate": "error"})
    strict.append(Document(id="a"))
    from shoal.errors import DuplicateIdError

    with pytest.raises(DuplicateIdError, match="already in the array"):
        strict.extend([Document(id="b"), Document(id="a")])
    assert strict.ids == ["a"]
