"""What the vector indexes wired into the disk stores promise, at the edges an end-to-end
audit found broken: filtered faiss HNSW search, exact scores from lossy indexes, rejected
writes, exact search racing a vacuum, an index newer than its store, unknown search
parameters, an open racing another process's save. Small data, each test well under 2 s."""
from __future__ import annotations

import contextlib
import glob
import os
import shutil
import threading

import numpy as np
import pytest

from shoal import Document, DocumentArray
from shoal.errors import BadInputError
from shoal.indexes import create_index

pytest.importorskip("hnswlib")
pytest.importorskip("faiss")


def _config(storage, tmp_path, **extra):
    if storage == "lmdb":
        return {"path": str(tmp_path / "l"), **extra}
    return {"connection": str(tmp_path / "s.db"), "table_name": "t", **extra}


def _far_from_query(n=10_000, allowed=1100, dim=8):
    """Vectors, the ``allowed`` labels lying opposite the query, the query."""
    x = np.random.default_rng(0).standard_normal((n, dim)).astype(np.float32)
    far = np.sort(np.argsort(x[:, 0])[:allowed])
    q = np.zeros(dim, np.float32)
    q[0] = 5.0
    return x, far, q


# -- 1. faiss HNSW: an IDSelector-filtered search returns fewer than k (often 0) -----------

def test_faiss_hnsw_allowed_search_returns_k_when_k_are_allowed():
    """``allowed`` is a pre-filter: k allowed labels whenever that many exist, even with
    faiss 'HNSW32' and an allowed set past ``exact_threshold`` lying away from the query
    (where the filtered graph walk alone finds none of them)."""
    x, far, q = _far_from_query()
    index = create_index("faiss", x.shape[1], "euclidean", factory="HNSW32")
    index.add(np.arange(len(x)), x)
    _, labels = index.search(q[None], 10, allowed=far)
    assert (labels >= 0).sum() == 10
    assert set(labels.ravel().tolist()) <= set(far.tolist())


@pytest.mark.parametrize("storage", ["lmdb", "sqlite"])
def test_filtered_find_with_faiss_hnsw_returns_limit_results(tmp_path, storage):
    """'a filtered search still returns limit results': 1100 of 10000 Documents pass the
    filter; ``find(..., filter=...)`` through a faiss HNSW32 index returns 10 (the walk
    alone returned 0 or 1)."""
    x, far, q = _far_from_query()
    allowed = set(far.tolist())
    docs = [Document(id=f"d{i}", tags={"far": i in allowed}, embedding=x[i]) for i in range(len(x))]
    cfg = _config(storage, tmp_path, index="faiss", index_params={"factory": "HNSW32"},
                  metric="euclidean")
    with DocumentArray(docs, storage=storage, config=cfg) as da:
        flt = {"tags__far": {"$eq": True}}
        want = [d.id for d in da.find(q, limit=10, metric="euclidean", filter=flt, exact=True)]
        got = [d.id for d in da.find(q, limit=10, metric="euclidean", filter=flt)]
        assert len(want) == 10
        assert len(got) == 10


# -- 2. IVF-PQ without refine: the score a user sees is the PQ approximation ----------------

@pytest.mark.parametrize("metric", ["cosine", "euclidean", "inner_product"])
def test_ivfpq_scores_are_the_exact_metric_value(tmp_path, metric):
    """'the score a user sees is the same number whichever backend found it': with
    an IVF-PQ index (refine left at its default 1) the scores are the exact metric values
    that 'exact', 'hnsw' and faiss 'Flat' report, not the product-quantizer estimates
    (off by ~0.1 in cosine, several units in inner_product)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1000, 8)).astype(np.float32)
    q = rng.standard_normal(8).astype(np.float32)
    cfg = _config("lmdb", tmp_path, index="faiss", index_params={"factory": "IVF4,PQ2x4"},
                  metric=metric)
    with DocumentArray([Document(id=f"d{i}", embedding=x[i]) for i in range(len(x))],
                       storage="lmdb", config=cfg) as da:
        found = da.find(q, limit=10, metric=metric)
        assert len(found) == 10
        for m in found:
            v = x[int(m.id[1:])]
            if metric == "cosine":
                want = 1.0 - float(q @ v) / (np.linalg.norm(q) * np.linalg.norm(v))
            elif metric == "euclidean":
                want = float(np.linalg.norm(q - v))
            else:
                want = float(q @ v)
            assert m.scores[metric].value == pytest.approx(want, rel=1e-4, abs=1e-5), m.id


# -- 3. a rejected embeddings assignment still changes the array ---------------------------

@pytest.mark.parametrize("storage", ["lmdb", "sqlite"])
@pytest.mark.parametrize("bad", ["nan", "dim"])
def test_rejected_embedding_assignment_leaves_store_usable(tmp_path, storage, bad):
    """'NaN in vectors [or a wrong dimension]: a clear shoal.errors exception; the index and
    the store unchanged'. ``da[:, 'embedding'] = bad`` raises BadInputError, and the
    Documents it touched get their vectors back (they kept NaN / 17-d ones, and every later
    ``sync()`` / ``close()`` raised the same error again)."""
    dim = 16
    x = np.random.default_rng(0).standard_normal((50, dim)).astype(np.float32)
    cfg = _config(storage, tmp_path, index="hnsw", n_dim=dim)
    da = DocumentArray([Document(id=f"d{i}", embedding=x[i]) for i in range(50)],
                       storage=storage, config=cfg)
    try:
        rejected = (np.full((50, dim), np.nan, np.float32) if bad == "nan"
                    else np.ones((50, dim + 1), np.float32))
        with pytest.raises(BadInputError):
            da[:, "embedding"] = rejected
        np.testing.assert_array_equal(da[0].embedding, x[0])
        assert da.find(x[3], limit=1)[0].id == "d3"
        da.close()  # raised BadInputError / DimensionMismatchError
    finally:
        with contextlib.suppress(Exception):
            da._store.close()
    with DocumentArray(storage=storage, config=cfg) as again:
        np.testing.assert_array_equal(again[0].embedding, x[0])


# -- 4. exact search (no ANN index) racing a vacuum / clear ---------------------------------

@pytest.mark.parametrize("storage", ["lmdb", "sqlite"])
@pytest.mark.parametrize("write", ["vacuum", "clear"])
def test_exact_find_concurrent_with_vacuum_or_clear_does_not_fail(tmp_path, monkeypatch,
                                                                  storage, write):
    """'a search concurrent with [writes] is safe'. Without an ANN index, find holds the
    store lock from planning the search (column object captured) to scanning the column:
    a vacuum / clear by another thread waits (in a gap it deleted the column file, and the
    search failed with a bare FileNotFoundError)."""
    from shoal.docstore import vectors

    x = np.random.default_rng(0).standard_normal((100, 8)).astype(np.float32)
    cfg = _config(storage, tmp_path, index="exact")
    da = DocumentArray([Document(id=f"d{i}", embedding=x[i]) for i in range(100)],
                       storage=storage, config=cfg)
    del da[0:10]
    assert da.find(x[50], limit=1)[0].id == "d50"
    real, writer = vectors.gc_paused, []

    @contextlib.contextmanager
    def another_thread_writes_now():
        if not writer:  # once: another thread writes; a correct lock makes it wait
            def write_now():
                if write == "vacuum":
                    da.vacuum()
                else:
                    da.clear()
            t = threading.Thread(target=write_now, daemon=True)
            writer.append(t)
            t.start()
            t.join(0.5)
        with real():
            yield

    monkeypatch.setattr(vectors, "gc_paused", another_thread_writes_now)
    try:
        found = da.find(x[50], limit=3)
        if write == "vacuum":
            assert [d.id for d in found][0] == "d50"
    finally:
        monkeypatch.setattr(vectors, "gc_paused", real)
        for t in writer:
            t.join(10)
        da.close()


# -- 5. an index newer than the store (store restored from a backup) -----------------------

def test_index_newer_than_the_store_is_rebuilt_not_trusted(tmp_path):
    """'never silent wrong results': restore the store's files from a backup while the index
    directory beside it is newer (it applied writes the restored store never saw). The index
    is rebuilt, not trusted (trusted, find missed a Document the store holds - d7, score 0
    for its own vector - and later finds failed with CorruptStoreError)."""
    x = np.random.default_rng(0).standard_normal((600, 8)).astype(np.float32)
    cfg = _config("lmdb", tmp_path, index="hnsw")
    store_dir, backup = tmp_path / "l", tmp_path / "backup"
    with DocumentArray([Document(id=f"d{i}", embedding=x[i]) for i in range(500)],
                       storage="lmdb", config=cfg) as da:
        da.find(x[0], limit=1)
    backup.mkdir()
    for f in glob.glob(str(store_dir / "*")):
        if os.path.isfile(f):
            shutil.copy(f, backup)
    with DocumentArray(storage="lmdb", config=cfg) as da:  # the index moves on
        del da["d7"]
        da.extend([Document(id=f"d{i}", embedding=x[i]) for i in range(500, 600)])
        da.find(x[0], limit=1)
    for f in glob.glob(str(backup / "*")):  # the store goes back
        shutil.copy(f, store_dir)
    with DocumentArray(storage="lmdb", config=cfg) as da:
        assert len(da) == 500 and "d7" in da
        assert da.find(x[7], limit=1)[0].id == "d7"
        assert len(da.find(x[0], limit=600)) == 500


# -- 6. search parameters the store's index does not take; rebuild_index positionally ------

@pytest.mark.parametrize("storage", ["lmdb", "sqlite"])
def test_unknown_search_parameter_is_a_clear_error(tmp_path, storage):
    x = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    cfg = _config(storage, tmp_path, index="hnsw")
    with DocumentArray([Document(id=f"d{i}", embedding=x[i]) for i in range(50)],
                       storage=storage, config=cfg) as da:
        with pytest.raises(BadInputError, match="nprobe.*'hnsw'.*ef"):
            da.find(x[3], limit=2, nprobe=4)
        assert da.find(x[3], limit=2, ef=32)[0].id == "d3"
        assert da.find(x[3], limit=2, exact=True)[0].id == "d3"
        assert len(da) == 50


def test_rebuild_index_takes_the_index_positionally(tmp_path):
    x = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    cfg = _config("lmdb", tmp_path, index="hnsw")
    with DocumentArray([Document(id=f"d{i}", embedding=x[i]) for i in range(50)],
                       storage="lmdb", config=cfg) as da:
        da.rebuild_index("faiss", {"factory": "Flat"})
        assert da.find(x[3], limit=1, nprobe=1)[0].id == "d3"  # faiss takes nprobe now
    with DocumentArray(storage="lmdb", config={"path": cfg["path"]}) as da:
        assert da._store._choice.kind == "faiss"


# -- 7. processes sharing one store: an open reads one whole save, never two mixed --------

@pytest.mark.parametrize("storage", ["lmdb", "sqlite"])
def test_opening_a_store_waits_for_a_save_in_progress_elsewhere(tmp_path, storage, monkeypatch):
    """Another process saving the index holds its directory's lock (an flock; a second
    open file description conflicts the same way). A store opened meanwhile waits, then
    loads that save as it is, without rebuilding: reading the index files of one save and
    the state of another would have cost a rebuild."""
    import fcntl

    from shoal.docstore.indexing import IndexSync
    from shoal.indexes.persist import LOCK_NAME

    x = np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32)
    cfg = _config(storage, tmp_path, index="hnsw")
    with DocumentArray([Document(id=f"d{i}", embedding=x[i]) for i in range(300)],
                       storage=storage, config=cfg) as da:
        da.find(x[0], limit=1)
        index_dir = da._store._index.dir
    rebuilds = []
    monkeypatch.setattr(IndexSync, "rebuild", lambda self, strict=False: rebuilds.append(1))
    fd = os.open(os.path.join(index_dir, LOCK_NAME), os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    box: dict = {}

    def open_and_find():
        with DocumentArray(storage=storage, config=cfg) as again:
            box["top"] = again.find(x[9], limit=1)[0].id

    t = threading.Thread(target=open_and_find, daemon=True)
    t.start()
    try:
        t.join(0.5)
        assert t.is_alive(), "the store was opened while another process held the index lock"
    finally:
        os.close(fd)
    t.join(20)
    assert box.get("top") == "d9" and not rebuilds


@pytest.mark.parametrize("storage", ["lmdb", "sqlite"])
def test_index_params_without_an_index_is_a_clear_error(tmp_path, storage):
    """``index_params`` alone used to be dropped silently: a store with no ANN index."""
    from shoal.errors import InvalidConfigError

    with pytest.raises(InvalidConfigError, match="without an index.*'index': 'hnsw'"):
        DocumentArray(storage=storage, config=_config(storage, tmp_path, index_params={"M": 8}))
    x = np.random.default_rng(0).standard_normal((20, 8)).astype(np.float32)
    with DocumentArray([Document(id=f"d{i}", embedding=x[i]) for i in range(20)],
                       storage=storage, config=_config(storage, tmp_path, index="hnsw")):
        pass
    with DocumentArray(storage=storage, config=_config(storage, tmp_path,
                                                       index_params={"M": 8})) as da:
        assert da._store._choice.kind == "hnsw" and da._store._choice.params == {"M": 8}


# -- 8. a repeated filter on an unchanged store is not evaluated again ----------------------

def _count_filter_evaluations(storage, monkeypatch):
    """A list that grows by one each time the store evaluates a filter over its Documents
    (LMDB: a scan of the records; sqlite: a WHERE query)."""
    from shoal.docstore.lmdb_store import LmdbStore
    from shoal.docstore.sqlite import SqliteStore

    cls, name = (LmdbStore, "_scan") if storage == "lmdb" else (SqliteStore, "_where")
    runs, original = [], getattr(cls, name)
    monkeypatch.setattr(cls, name, lambda self, *a: runs.append(1) or original(self, *a))
    return runs


@pytest.mark.parametrize("storage", ["lmdb", "sqlite"])
def test_repeated_filter_reuses_its_rows_until_any_write(tmp_path, monkeypatch, storage):
    x = np.random.default_rng(0).standard_normal((60, 8)).astype(np.float32)
    cfg = _config(storage, tmp_path, index="hnsw")
    da = DocumentArray([Document(id=f"d{i}", tags={"g": i % 3}, embedding=x[i]) for i in range(60)],
                       storage=storage, config=cfg)
    scans = _count_filter_evaluations(storage, monkeypatch)
    flt = {"tags__g": {"$eq": 1}}
    first = [m.id for m in da.find(x[4], limit=5, filter=flt)]
    assert [m.id for m in da.find(x[4], limit=5, filter=flt)] == first
    assert [d.id for d in da.find(filter=flt)] == [f"d{i}" for i in range(1, 60, 3)]
    assert len(scans) == 1  # one evaluation for three filtered calls
    q = np.random.default_rng(1).standard_normal(8).astype(np.float32)
    da.extend([Document(id="new", tags={"g": 1}, embedding=q)])  # any write: evaluated again
    assert da.find(q, limit=1, filter=flt)[0].id == "new" and len(scans) == 2
    other = DocumentArray(storage=storage, config=cfg)  # a write through another handle
    del other["new"]
    assert "new" not in [m.id for m in da.find(q, limit=5, filter=flt)] and len(scans) == 3
    other["d0"] = Document(id="d0", tags={"g": 1}, embedding=x[0])  # another handle's replace
    assert [d.id for d in da.find(filter=flt)][0] == "d0" and len(scans) == 4
    other.close()
    d = da["d1"]  # a change made in place on a fetched Document, written back by sync
    d.tags = {"g": 2}
    da.sync()
    assert "d1" not in [d.id for d in da.find(filter=flt)]
    with pytest.raises(RuntimeError):  # a write rolled back: the rows are as before it
        with da._store.atomic():
            da.extend([Document(id="gone", tags={"g": 1}, embedding=q)])
            raise RuntimeError
    assert "gone" not in [d.id for d in da.find(filter=flt)]
    assert da.find(q, limit=1, filter=flt)[0].id != "gone"
    da.close()
    plain = DocumentArray([Document(id=f"p{i}", tags={"g": i % 3}) for i in range(9)],
                          storage=storage, config=_config(storage, tmp_path / "plain"))
    with plain._store.atomic():  # inside a write transaction: its own writes are seen
        assert len(plain.find(filter=flt)) == 3
        plain.extend([Document(id="tx", tags={"g": 1})])
        assert [d.id for d in plain.find(filter=flt)][-1] == "tx"
    assert len(plain.find(filter=flt)) == 4
    plain.close()


# -- an index over another store's vectors (found by a robustness probe) ------------------

def _two_sets(n=100, dim=8):
    rng = np.random.default_rng(7)
    return (rng.standard_normal((n, dim)).astype(np.float32),
            rng.standard_normal((n, dim)).astype(np.float32))


def _remove_store_files(storage, cfg):
    """What a user deleting the store to start over removes (the index dir stays)."""
    if storage == "lmdb":
        for name in ("data.mdb", "lock.mdb"):
            os.remove(os.path.join(cfg["path"], name))
    else:
        for path in glob.glob(cfg["connection"] + "*"):
            if os.path.isfile(path) and not path.endswith(".vec"):
                os.remove(path)


@pytest.mark.parametrize("storage", ["lmdb", "sqlite"])
@pytest.mark.parametrize("index", ["hnsw", "faiss"])
def test_a_store_created_anew_does_not_reuse_the_old_index(tmp_path, storage, index):
    """The store deleted and created again at the same path, with other vectors, reaches
    the same counters as the index left beside it: the index is rebuilt (was: the old
    graph answered - an exact match missing, scores of other vectors)."""
    x, y = _two_sets()
    cfg = _config(storage, tmp_path, index=index)
    with DocumentArray([Document(id=f"x{i}", embedding=x[i]) for i in range(len(x))],
                       storage=storage, config=cfg) as da:
        da.find(x[0], limit=3)
        da.close()
    _remove_store_files(storage, cfg)
    with DocumentArray([Document(id=f"y{i}", embedding=y[i]) for i in range(len(y))],
                       storage=storage, config=cfg) as da:
        da.close()
    da = DocumentArray(storage=storage, config=cfg)
    for i in (7, 42, 99):
        top = da.find(y[i], limit=1)[0]
        assert top.id == f"y{i}" and top.scores["cosine"].value == pytest.approx(0.0, abs=1e-5)
    da.close()


def test_two_stores_sharing_an_index_path_answer_from_their_own_vectors(tmp_path):
    x, y = _two_sets()
    shared = str(tmp_path / "idx")
    stores = []
    for name, data in (("a", x), ("b", y)):
        cfg = {"connection": str(tmp_path / f"{name}.db"), "index": "hnsw", "index_path": shared}
        da = DocumentArray([Document(id=f"{name}{i}", embedding=data[i]) for i in range(len(data))],
                           storage="sqlite", config=cfg)
        da.close()
        stores.append((name, data, cfg))
    for name, data, cfg in stores:
        da = DocumentArray(storage="sqlite", config=cfg)
        assert [da.find(data[i], limit=1)[0].id for i in (3, 50)] == [f"{name}3", f"{name}50"]
        da.close()


@pytest.mark.parametrize("storage", ["lmdb", "sqlite"])
def test_an_embedding_that_is_not_numbers_is_refused_and_the_store_kept(tmp_path, storage):
    """Was: stored (column row missing), then every find said 'have no embedding'."""
    x, _ = _two_sets(10)
    da = DocumentArray([Document(id=f"d{i}", embedding=x[i]) for i in range(10)], storage=storage,
                       config=_config(storage, tmp_path, index="hnsw"))
    for bad in (np.array(["a"] * 8), np.ones(8, dtype=complex), np.array([object()] * 8)):
        with pytest.raises(BadInputError, match="array of real numbers"):
            da.extend([Document(id="ok", embedding=x[0]), Document(id="bad", embedding=bad)])
    assert len(da) == 10 and da.find(x[4], limit=1)[0].id == "d4"
    da.close()


@pytest.mark.parametrize("storage", ["memory", "lmdb", "sqlite"])
def test_a_huge_limit_returns_every_document(tmp_path, storage):
    """Was: a raw MemoryError (a (1, 10**12) result padded) - one request could take a
    served store's memory."""
    x, _ = _two_sets(20)
    docs = [Document(id=f"d{i}", embedding=x[i]) for i in range(20)]
    da = DocumentArray(docs) if storage == "memory" else DocumentArray(
        docs, storage=storage, config=_config(storage, tmp_path, index="hnsw"))
    assert len(da.find(x[0], limit=10**12)) == 20
    assert len(da.find(docs[0], limit=2**63, exclude_self=True)) == 19
    q = DocumentArray([Document(embedding=x[0])])
    q.match(da, limit=10**12)
    assert len(q[0].matches) == 20


@pytest.mark.parametrize("index", ["exact", "hnsw"])
def test_a_column_damaged_on_disk_is_a_corrupt_store_error(tmp_path, index):
    """A vector column overwritten with NaN in place (same size): exact search found
    nothing and said nothing; an index rebuild blamed the user's vectors."""
    from shoal.errors import CorruptStoreError

    x, _ = _two_sets(50)
    cfg = _config("lmdb", tmp_path, index=index)
    da = DocumentArray([Document(id=f"d{i}", embedding=x[i]) for i in range(50)],
                       storage="lmdb", config=cfg)
    da.close()
    (vec,) = glob.glob(os.path.join(cfg["path"], "*.vec"))
    size = os.path.getsize(vec)
    with open(vec, "r+b") as f:
        f.write(np.full(size // 4, np.nan, dtype=np.float32).tobytes())
    with pytest.raises(CorruptStoreError, match="damaged"):
        da = DocumentArray(storage="lmdb", config=cfg)
        da.find(x[0], limit=3)


@pytest.mark.parametrize("storage", ["lmdb", "sqlite"])
def test_search_keywords_are_checked_however_the_search_runs(tmp_path, storage):
    """A store without an index (exact) takes any index's keywords, and refuses others;
    an hnsw store refuses faiss' keywords even inside a write transaction (exact there).
    Was: silently dropped whenever the search ran exact."""
    x, _ = _two_sets(30)
    docs = [Document(id=f"d{i}", embedding=x[i]) for i in range(30)]
    plain = DocumentArray(docs, storage=storage, config=_config(storage, tmp_path / "p"))
    assert plain.find(x[1], limit=1, ef=32, nprobe=4)[0].id == "d1"
    with pytest.raises(BadInputError, match=r"unknown search parameter\(s\) \['bogus'\]"):
        plain.find(x[1], limit=1, bogus=1)
    indexed = DocumentArray(docs, storage=storage,
                            config=_config(storage, tmp_path / "i", index="hnsw"))
    with indexed._store.atomic():
        with pytest.raises(BadInputError, match="'hnsw' index"):
            indexed.find(x[1], limit=1, nprobe=4)
        assert indexed.find(x[1], limit=1, ef=16)[0].id == "d1"
    plain.close()
    indexed.close()


@pytest.mark.parametrize("storage", ["lmdb", "sqlite"])
def test_config_values_are_checked_before_anything_is_created(tmp_path, storage):
    from shoal.errors import InvalidConfigError

    for bad, match in (({"n_dim": True}, "n_dim"), ({"list_like": "yes"}, "list_like"),
                       ({"block_size": True}, "block_size"),
                       ({"index_params": {"M": 8}}, "without an index for a new store")):
        with pytest.raises(InvalidConfigError, match=match):
            DocumentArray(storage=storage, config=_config(storage, tmp_path / "new", **bad))
        assert not (tmp_path / "new").exists() or not os.listdir(tmp_path / "new")
    cfg = _config(storage, tmp_path / "s")
    DocumentArray([Document(embedding=np.ones(8))], storage=storage, config=cfg).close()
    with pytest.raises(InvalidConfigError, match="n_dim=16 but the store .* holds 8-d"):
        DocumentArray(storage=storage, config={**cfg, "n_dim": 16})
    DocumentArray(storage=storage, config={**cfg, "n_dim": 8}).close()
