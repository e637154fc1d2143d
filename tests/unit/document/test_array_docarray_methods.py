"""DocArray 0.21 DocumentArray methods: batch_ids, apply_batch, reduce / reduce_all,
traverse / traverse_flat_per_path, dataloader, from_lines / from_ndjson, load_csv /
from_csv / save_csv, save_embeddings_csv, to_dataframe / from_dataframe,
embed_and_evaluate, get_vocabulary, plot_embeddings.

Expected values marked "DocArray 0.21.1" were produced by running the same calls on
DocArray 0.21.1 (CI has no docarray).
"""
from __future__ import annotations

import io
import json

import numpy as np
import pytest

from shoal import Document, DocumentArray, dataclass
from shoal.errors import BadInputError, EmptyArrayError, MalformedDataError, MissingExtraError
from shoal.typing import Text


def _ids(da):
    return [d.id for d in da]


# --- batch_ids ---------------------------------------------------------------------------

def test_batch_ids(make_da):
    da = make_da([Document(id=str(i)) for i in range(5)])
    assert list(da.batch_ids(2)) == [["0", "1"], ["2", "3"], ["4"]]  # DocArray 0.21.1
    shuffled = list(da.batch_ids(2, shuffle=True))
    assert [len(b) for b in shuffled] == [2, 2, 1]
    assert sorted(sum(shuffled, [])) == ["0", "1", "2", "3", "4"]
    assert list(make_da().batch_ids(3)) == []


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_batch_ids_refuses_bad_size(bad):
    with pytest.raises(BadInputError, match="batch_size"):
        DocumentArray([Document()]).batch_ids(bad)


# --- apply_batch -------------------------------------------------------------------------

def _upper(batch):
    batch.texts = [t.upper() for t in batch.texts]
    return batch


def test_apply_batch_writes_back(make_da):
    da = make_da([Document(id=f"d{i}", text=f"t{i}") for i in range(5)])
    assert da.apply_batch(_upper, batch_size=2) is da
    assert da.texts == ["T0", "T1", "T2", "T3", "T4"]  # DocArray 0.21.1


def test_apply_batch_new_documents_by_id_and_in_place(make_da):
    da = make_da([Document(id=f"d{i}", text=f"t{i}") for i in range(4)])
    da.apply_batch(lambda b: DocumentArray([Document(id=d.id, text=d.text + "!") for d in b]),
                   batch_size=3, num_worker=2)
    assert da.texts == ["t0!", "t1!", "t2!", "t3!"]

    def in_place(b):
        for d in b:
            d.tags = {"n": len(b)}

    da.apply_batch(in_place, batch_size=3, shuffle=True)  # None: the batch, changed in place
    assert sorted(d.tags["n"] for d in da) == [1, 3, 3, 3]
    assert _ids(da) == ["d0", "d1", "d2", "d3"]


def test_apply_batch_refuses_bad_results():
    da = DocumentArray([Document(id="a")])
    with pytest.raises(BadInputError, match="must return a DocumentArray"):
        da.apply_batch(lambda b: 3, batch_size=1)
    with pytest.raises(KeyError):  # an id the array does not hold (DocumentNotFoundError)
        da.apply_batch(lambda b: DocumentArray([Document(id="zz")]), batch_size=1)
    with pytest.raises(BadInputError, match="backend"):
        da.apply_batch(_upper, batch_size=1, backend="gpu")


# --- reduce ----------------------------------------------------------------------------------

def test_reduce_merges_by_id(make_da):
    da1 = make_da([Document(id="a", text="A1", matches=[Document(id="m1", tags={"s": 1})]),
                   Document(id="b")])
    da2 = DocumentArray([
        Document(id="a", text="A2", uri="u", tags={"t": 2},
                 matches=[Document(id="m1", text="mt"), Document(id="m2")],
                 chunks=[Document(id="c1")]),
        Document(id="c", text="C")])
    assert da1.reduce(da2) is da1
    got = [(d.id, d.text, d.uri, d.tags, [(m.id, m.text, m.tags) for m in d.matches],
            [c.id for c in d.chunks]) for d in da1]
    # DocArray 0.21.1 (its uri default is '' where shoal's is None)
    assert got == [("a", "A1", "u", {"t": 2}, [("m1", "mt", {"s": 1}), ("m2", "", {})], ["c1"]),
                   ("b", "", None, {}, [], []), ("c", "C", None, {}, [], [])]


def test_reduce_all_left_most_wins(make_da):
    da1 = DocumentArray([Document(id="a", text="A1"), Document(id="b")])
    da3 = DocumentArray([Document(id="b", text="B3"), Document(id="d")])
    out = make_da([Document(id="z")]).reduce_all([da1, da3])
    assert [(d.id, d.text) for d in out] == [("z", ""), ("a", "A1"), ("b", "B3"), ("d", "")]


def test_reduce_repeated_new_id_merges_once():
    da = DocumentArray().reduce(DocumentArray([Document(id="x", text="first"),
                                               Document(id="x", uri="u")]))
    assert [(d.id, d.text, d.uri) for d in da] == [("x", "first", "u")]


def test_reduce_refuses_non_arrays():
    with pytest.raises(BadInputError):
        DocumentArray().reduce(Document())
    with pytest.raises(BadInputError):
        DocumentArray().reduce_all(DocumentArray([Document()]))


# --- traverse ---------------------------------------------------------------------------------

def _tree(make_da):
    return make_da([Document(id=f"r{i}", chunks=[Document(id=f"c{i}{j}") for j in range(2)])
                    for i in range(3)])


def test_traverse_yields_one_array_per_leaf(make_da):
    da = _tree(make_da)
    # DocArray 0.21.1
    assert [_ids(x) for x in da.traverse("c")] == [["c00", "c01"], ["c10", "c11"], ["c20", "c21"]]
    assert [_ids(x) for x in da.traverse("r")] == [["r0", "r1", "r2"]]
    assert [_ids(x) for x in da.traverse("r, c[0]", filter_fn=lambda d: d.id != "c10")] == \
        [["r0", "r1", "r2"], ["c00"], [], ["c20"]]
    assert all(isinstance(x, DocumentArray) for x in da.traverse("c"))
    assert [_ids(x) for x in da.traverse("cm")] == [[]] * 6  # a leaf per chunk, no matches
    assert [_ids(x) for x in da.traverse("r[1:]c[-1]")] == [["c11"], ["c21"]]


def test_traverse_flat_per_path_and_filter(make_da):
    da = _tree(make_da)
    assert [_ids(x) for x in da.traverse_flat_per_path("r,c")] == \
        [["r0", "r1", "r2"], ["c00", "c01", "c10", "c11", "c20", "c21"]]  # DocArray 0.21.1
    assert _ids(da.traverse_flat("c", filter_fn=lambda d: d.id.endswith("1"))) == ["c01", "c11", "c21"]


@dataclass
class Page:
    title: Text
    body: Text


def test_traverse_multimodal_attribute():
    da = DocumentArray([Document(Page(title="t1", body="b1")), Document(Page(title="t2", body="b2"))])
    assert [x.texts for x in da.traverse("r.[title,body]")] == [["t1"], ["b1"], ["t2"], ["b2"]]
    assert da.traverse_flat("r.[body]").texts == ["b1", "b2"]


@pytest.mark.parametrize("bad", ["x", "r[", "c,,m", ""])
def test_traverse_refuses_bad_paths(bad):
    with pytest.raises(BadInputError, match="traversal path"):
        DocumentArray([Document()]).traverse(bad)


# --- dataloader -------------------------------------------------------------------------------

def _count_and_double(batch):
    return [2 * d.tags["i"] for d in batch]


def test_dataloader_streams_batches(make_da, tmp_path):
    da = make_da([Document(id=str(i), tags={"i": i}) for i in range(10)])
    path = tmp_path / "docs.bin"
    da.save(path)
    out = list(DocumentArray.dataloader(path, _count_and_double, batch_size=4))
    assert out == [[0, 2, 4, 6], [8, 10, 12, 14], [16, 18]]
    out = list(DocumentArray.dataloader(path, len, batch_size=3, backend="process", num_worker=2))
    assert out == [3, 3, 3, 1]
    with pytest.raises(BadInputError, match="batch_size"):
        DocumentArray.dataloader(path, len, batch_size=0)


def test_dataloader_with_an_external_pool(tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    from multiprocessing.pool import ThreadPool

    path = tmp_path / "d.bin"
    DocumentArray([Document(tags={"i": i}) for i in range(5)]).save(path, compress="zlib")
    with ThreadPoolExecutor(2) as ex:
        assert list(DocumentArray.dataloader(path, len, 2, pool=ex)) == [2, 2, 1]
    with ThreadPool(2) as pool:
        assert list(DocumentArray.dataloader(path, len, 2, pool=pool)) == [2, 2, 1]


# --- from_lines / from_ndjson -----------------------------------------------------------------

_LINES = ['{"id": "a", "text": "hello", "tags": {"x": 1}}', '{"id": "b", "text": "world", "color": "red"}']


def test_from_lines_json_and_ndjson(tmp_path):
    da = DocumentArray.from_lines(_LINES)
    assert [(d.id, d.text, d.tags) for d in da] == \
        [("a", "hello", {"x": 1}), ("b", "world", {"color": "red"})]  # DocArray 0.21.1
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join(_LINES) + "\n\n")
    assert [(d.id, d.text) for d in DocumentArray.from_lines(filepath=str(path), size=1)] == [("a", "hello")]
    assert _ids(DocumentArray.from_ndjson(str(path))) == ["a", "b"]
    with open(path) as f:
        assert _ids(DocumentArray.from_ndjson(f)) == ["a", "b"]
    da = DocumentArray.from_ndjson(_LINES, field_resolver={"text": "uri"})
    assert [(d.uri, d.text) for d in da] == [("hello", ""), ("world", "")]
    assert len(DocumentArray.from_ndjson(_LINES, sampling_rate=0.0)) == 0


def test_from_lines_csv_and_text(tmp_path):
    csv_path = tmp_path / "x.csv"
    csv_path.write_text("id,text,n\na,hi,3\nb,yo,4\n")
    da = DocumentArray.from_lines(filepath=str(csv_path))
    assert [(d.id, d.text, d.tags) for d in da] == [("a", "hi", {"n": "3"}), ("b", "yo", {"n": "4"})]  # DocArray
    da = DocumentArray.from_lines(lines=["id,text", "a,hi"], line_format="csv")  # DocArray: TypeError
    assert [(d.id, d.text) for d in da] == [("a", "hi")]
    txt = tmp_path / "x.txt"
    txt.write_text("hello\nworld\r\n")
    # DocArray yields bare strings here (and then fails); shoal makes a text Document per line
    assert DocumentArray.from_lines(filepath=str(txt)).texts == ["hello", "world"]
    assert DocumentArray.from_lines(filepath=str(txt), read_mode="rb")[:, "blob"] == [b"hello", b"world"]
    assert DocumentArray.from_lines(["a", "b"], line_format="text").texts == ["a", "b"]


def test_from_lines_into_a_disk_store(tmp_path):
    pytest.importorskip("shoal.docstore")
    da = DocumentArray.from_ndjson(_LINES, storage="sqlite",
                                   config={"connection": str(tmp_path / "x.db")})
    try:
        assert da.storage == "sqlite" and _ids(da) == ["a", "b"]
    finally:
        da.close()


def test_from_lines_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="filepath"):
        DocumentArray.from_lines()
    with pytest.raises(MalformedDataError, match="line 2"):
        DocumentArray.from_ndjson(['{"id": "a"}', "{not json"])
    with pytest.raises(MalformedDataError, match="not an object"):
        DocumentArray.from_ndjson(["[1, 2]"])
    with pytest.raises(BadInputError, match="no such file"):
        DocumentArray.from_lines(filepath=str(tmp_path / "missing.jsonl"))
    with pytest.raises(BadInputError, match="read_mode"):
        DocumentArray.from_lines(_LINES, read_mode="w")
    with pytest.raises(BadInputError, match="sampling_rate"):
        DocumentArray.from_lines(_LINES, sampling_rate=2)


# --- CSV ------------------------------------------------------------------------------------------

def test_load_csv_and_from_csv_options(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("id,text,n\na,hi,3\nb,yo,4\n")
    da = DocumentArray.load_csv(str(path), field_resolver={"n": "uri"})
    assert [(d.id, d.text, d.uri, d.tags) for d in da] == [("a", "hi", "3", {}), ("b", "yo", "4", {})]  # DocArray
    tsv = tmp_path / "x.tsv"
    tsv.write_text("id\ttext\na\thi there\n")
    assert DocumentArray.from_csv(str(tsv), dialect="auto").texts == ["hi there"]
    assert DocumentArray.from_csv(str(tsv), dialect="excel-tab").texts == ["hi there"]
    latin = tmp_path / "l.csv"
    latin.write_bytes("id,text\na,caf\xe9\n".encode("latin-1"))
    assert DocumentArray.load_csv(str(latin), encoding="latin-1").texts == ["caf\xe9"]
    assert len(DocumentArray.from_csv(str(path), size=1)) == 1
    assert len(DocumentArray.from_csv(str(path), sampling_rate=0)) == 0


def test_save_csv_options(make_da, tmp_path):
    da = make_da([Document(id="a", text="x", tags={"k": 1}), Document(id="b", text="y", tags={"k": 2})])
    plain = tmp_path / "p.csv"
    da.save_csv(plain)
    assert plain.read_text().splitlines()[0] == "id,text,tag__k"
    tab = tmp_path / "t.tsv"
    da.save_csv(tab, dialect="excel-tab", with_header=False, exclude_fields=["text"])
    assert tab.read_text().splitlines() == ["a\t1", "b\t2"]
    buf = io.StringIO()
    da.save_csv(buf, flatten_tags=False, with_header=False)
    assert buf.getvalue().splitlines()[0] == 'a,x,"{""k"":1}"'
    assert DocumentArray.from_csv(plain)[:, "tags"] == [{"k": 1}, {"k": 2}]
    with pytest.raises(BadInputError, match="dialect"):
        da.save_csv(tmp_path / "z.csv", dialect="nope")


def test_save_embeddings_csv(make_da, tmp_path):
    da = make_da([Document(embedding=np.array([1.0, 2.5])), Document(embedding=np.array([3, 4.25]))])
    path = tmp_path / "e.csv"
    da.save_embeddings_csv(path)
    assert path.read_text() == ("1.000000000000000000e+00 2.500000000000000000e+00\n"
                                "3.000000000000000000e+00 4.250000000000000000e+00\n")  # DocArray 0.21.1
    da.save_embeddings_csv(path, delimiter="\t", fmt="%.2f")
    assert path.read_text() == "1.00\t2.50\n3.00\t4.25\n"  # DocArray 0.21.1
    buf = io.StringIO()
    da.save_embeddings_csv(buf, fmt="%g", delimiter=",")
    assert buf.getvalue() == "1,2.5\n3,4.25\n"
    np.testing.assert_allclose(np.loadtxt(path, delimiter="\t"), [[1, 2.5], [3, 4.25]])


def test_save_embeddings_csv_without_embeddings(tmp_path):
    for da in (DocumentArray(), DocumentArray([Document()])):  # DocArray: a numpy ValueError
        with pytest.raises(EmptyArrayError, match="no embeddings"):
            da.save_embeddings_csv(tmp_path / "n.csv")
    with pytest.raises(BadInputError, match="savetxt"):
        DocumentArray([Document(embedding=np.ones(2))]).save_embeddings_csv(tmp_path / "n.csv", bogus=1)


# --- DataFrame ------------------------------------------------------------------------------------

def test_dataframe_round_trip():
    pd = pytest.importorskip("pandas")
    da = DocumentArray([Document(id="a", text="hi", tags={"x": 1}),
                        Document(id="b", embedding=np.array([1.0, 2.0]))])
    df = da.to_dataframe()
    assert isinstance(df, pd.DataFrame) and list(df["id"]) == ["a", "b"]
    back = DocumentArray.from_dataframe(df)
    assert _ids(back) == ["a", "b"] and back[0].text == "hi" and back[0].tags == {"x": 1}
    np.testing.assert_allclose(back[1].embedding, [1.0, 2.0])
    with pytest.raises(BadInputError, match="DataFrame"):
        DocumentArray.from_dataframe([{"id": "a"}])


def test_dataframe_without_pandas(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    with pytest.raises(MissingExtraError, match="pandas"):
        DocumentArray([Document()]).to_dataframe()
    with pytest.raises(MissingExtraError, match="pandas"):
        DocumentArray.from_dataframe(object())


# --- get_vocabulary ---------------------------------------------------------------------------

def test_get_vocabulary(make_da):
    da = make_da([Document(text="Hello, world! hello"), Document(text="The world: is big."), Document()])
    assert da.get_vocabulary() == {"hello": 2, "world": 3, "the": 4, "is": 5, "big": 6}  # DocArray 0.21.1
    assert da.get_vocabulary(min_freq=2) == {"hello": 2, "world": 3}  # DocArray 0.21.1
    assert DocumentArray().get_vocabulary() == {}
    with pytest.raises(BadInputError):
        da.get_vocabulary(min_freq="2")


# --- embed_and_evaluate ------------------------------------------------------------------------

_VEC = {0: np.array([1.0, 0, 0]), 1: np.array([0, 1.0, 0]), 2: np.array([0, 0, 1.0])}
_LABELS = [0, 0, 1, 1, 2, 2, 0, 1]
_NOISE = [0.1, 0.2, 0.05, 0.3, 0.15, 0.25, 0.6, 0.9]


def _embed(batch):
    batch.embeddings = np.stack([_VEC[d.tags["label"]] + _NOISE[int(d.text)] * _VEC[(d.tags["label"] + 1) % 3]
                                 for d in batch])


def _labelled(prefix="d", labels=_LABELS):
    return [Document(id=f"{prefix}{i}", text=str(i), tags={"label": lab}) for i, lab in enumerate(labels)]


def test_embed_and_evaluate_on_itself(make_da):
    da = make_da(_labelled())
    r = da.embed_and_evaluate(metrics=["precision_at_k", "reciprocal_rank", "recall_at_k"],
                              embed_funcs=_embed, limit=3, exclude_self=True)
    # DocArray 0.21.1
    assert r == pytest.approx({"precision_at_k": 0.5833333333333333, "reciprocal_rank": 1.0,
                               "recall_at_k": 1.0})
    assert _ids(da[0].matches) == ["d1", "d6", "d5"] and da[0].matches[0].tags == {"label": 0}
    assert da[0].evaluations["precision_at_k"].value == pytest.approx(2 / 3)


def test_embed_and_evaluate_in_blocks(make_da):
    da = make_da(_labelled())
    r = da.embed_and_evaluate(metrics=["precision_at_k", "reciprocal_rank"], embed_funcs=_embed,
                              limit=3, match_batch_size=3)
    assert r == pytest.approx({"precision_at_k": 0.9166666666666666, "reciprocal_rank": 1.0})  # DocArray
    assert _ids(da[0].matches) == ["d0", "d1", "d6"]
    assert [m.scores["cosine"].value for m in da[0].matches] == pytest.approx([0.0, 0.004771, 0.095568], abs=1e-5)


def test_embed_and_evaluate_with_index_data_and_ground_truth(make_da):
    q = DocumentArray(_labelled("q", [0, 1, 2]))
    idx = make_da(_labelled("i"))
    r = q.embed_and_evaluate(metrics=["precision_at_k", "average_precision", "recall_at_k"],
                             index_data=idx, embed_funcs=_embed, limit=4, distance="euclidean")
    # DocArray 0.21.1
    assert r == pytest.approx({"precision_at_k": 2 / 3, "average_precision": 1.0, "recall_at_k": 1.0})
    assert _ids(q[1].matches) == ["i3", "i2", "i7", "i6"]
    gt = DocumentArray([Document(id=f"q{i}", matches=[Document(id=f"i{j}") for j in range(8)
                                                      if _LABELS[j] == lab][:2])
                        for i, lab in enumerate([0, 1, 2])])
    q = DocumentArray(_labelled("q", [0, 1, 2]))
    r = q.embed_and_evaluate(metrics=["precision_at_k", "recall_at_k"], index_data=idx,
                             ground_truth=gt, embed_funcs=_embed, limit=2)
    assert r == pytest.approx({"precision_at_k": 1.0, "recall_at_k": 1.0})  # DocArray 0.21.1


def test_embed_and_evaluate_samples_queries():
    da = DocumentArray(_labelled())
    r = da.embed_and_evaluate(metrics=["reciprocal_rank"], embed_funcs=_embed, limit=3,
                              query_sample_size=4)
    assert r == {"reciprocal_rank": 1.0}  # a Document is its own nearest match
    assert sum(1 for d in da if d.matches) == 4


def test_embed_and_evaluate_bad_input():
    with pytest.raises(BadInputError, match="labels|ground_truth"):  # DocArray: ValueError
        DocumentArray([Document(text="1")]).embed_and_evaluate(["precision_at_k"], embed_funcs=_embed)
    with pytest.raises(BadInputError, match="embed_models"):
        DocumentArray(_labelled()).embed_and_evaluate(["precision_at_k"])
    with pytest.raises(EmptyArrayError):
        DocumentArray().embed_and_evaluate(["precision_at_k"], embed_funcs=_embed)


# --- plot_embeddings ---------------------------------------------------------------------------

def _points(n=30, d=5):
    x = np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)
    return x, [Document(embedding=e, tags={"c": i % 3, "v": float(i)}) for i, e in enumerate(x)]


def test_pca_2d_matches_scikit_learn():
    sklearn = pytest.importorskip("sklearn.decomposition")
    from shoal.document.plot import pca_2d

    x, _ = _points(50, 6)
    np.testing.assert_allclose(pca_2d(x), sklearn.PCA(2).fit_transform(x.astype(np.float64)), atol=1e-6)
    assert pca_2d(np.ones((3, 1))).shape == (3, 2)


def test_plot_embeddings_writes_a_png(make_da, tmp_path):
    pytest.importorskip("matplotlib")
    _, docs = _points()
    da = make_da(docs)
    out = da.plot_embeddings(path=tmp_path, colored_attr="c")
    assert out == str(tmp_path / "MyDocumentArray.png")
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    out = da.plot_embeddings(path=tmp_path / "v.png", colored_attr="v", start_server=True)
    assert out == str(tmp_path / "v.png")
    out = DocumentArray(docs[:1]).plot_embeddings(title="one")  # a temp folder
    assert out.endswith("one.png")


def test_plot_embeddings_sprites(tmp_path):
    pytest.importorskip("matplotlib")
    _, docs = _points(5)
    for d in docs:
        d.tensor = np.random.default_rng(1).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    out = DocumentArray(docs).plot_embeddings(path=tmp_path, image_sprites=True)
    assert (tmp_path / "MyDocumentArray.png").stat().st_size > 0 and out.endswith(".png")


def test_plot_embeddings_bad_input(tmp_path, monkeypatch):
    with pytest.raises(EmptyArrayError):
        DocumentArray([Document()]).plot_embeddings(path=tmp_path)
    with pytest.raises(EmptyArrayError):
        DocumentArray().plot_embeddings(path=tmp_path)
    _, docs = _points(3)
    with pytest.raises(BadInputError, match="title"):
        DocumentArray(docs).plot_embeddings(title="a/b", path=tmp_path)
    with pytest.raises(BadInputError, match="folder"):
        DocumentArray(docs).plot_embeddings(path=tmp_path / "missing" / "x.png")
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(MissingExtraError, match="bench"):
        DocumentArray(docs).plot_embeddings(path=tmp_path)


def test_empty_bulk_attributes_stay_lists():
    # DocArray 0.21 returns None for texts / blobs / contents of an empty array; shoal keeps
    # [] (callers iterate or compare it to []), as it did before.
    assert DocumentArray().texts == [] and DocumentArray().blobs == []
    assert json.loads(json.dumps(DocumentArray([Document(text="a")]).texts)) == ["a"]
