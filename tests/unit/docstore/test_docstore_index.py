"""An ANN index wired to a disk store: built from the column, caught up by sequence
numbers after writes (also writes made while it was not open), rebuilt when damaged."""
from __future__ import annotations

import glob
import json
import os
import shutil

import numpy as np
import pytest

from shoal.document.array import DocumentArray
from shoal.document.document import Document
from shoal.errors import DimensionMismatchError

pytest.importorskip("hnswlib")
DIM = 16


def docs(n, start=0):
    rng = np.random.default_rng(start)
    return [Document(id=f"d{i}", tags={"i": i}, embedding=rng.random(DIM, dtype=np.float32))
            for i in range(start, start + n)]


def _exact_ids(da, q, k, flt=None):
    return [d.id for d in da.find(q, limit=k, filter=flt, exact=True)]


def _recall(da, queries, k=10, flt=None):
    hits = 0
    for q in queries:
        got = {d.id for d in da.find(q, limit=k, filter=flt)}
        hits += len(got & set(_exact_ids(da, q, k, flt)))
    return hits / (k * len(queries))


@pytest.fixture
def indexed(disk, make_config):
    def make(data=None, **extra):
        cfg = make_config(disk.storage, index="hnsw", index_params={"M": 16, "ef": 64},
                          metric="cosine", **extra)
        da = DocumentArray(data, storage=disk.storage, config=cfg)
        disk.opened.append(da)
        disk.configs[id(da)] = cfg
        return da, cfg
    return make


def _index_dir(cfg):
    if cfg.get("index_path"):
        return os.path.join(os.path.abspath(cfg["index_path"]), f"{cfg['table_name']}.index")
    if "connection" in cfg:
        return f"{os.path.abspath(cfg['connection'])}.{cfg.get('table_name', 'docs')}.index"
    return os.path.join(os.path.abspath(cfg["path"]), f"{cfg.get('name', 'docs')}.index")


def test_index_answers_and_matches_exact_search(disk, indexed):
    da, cfg = indexed(docs(1500))
    queries = np.random.default_rng(9).random((20, DIM), dtype=np.float32)
    assert _recall(da, queries) >= 0.9
    flt = {"tags__i": {"$lt": 300}}
    res = da.find(queries[0], limit=10, filter=flt)
    assert len(res) == 10 and all(d.tags["i"] < 300 for d in res)
    assert _recall(da, queries[:5], flt=flt) >= 0.9
    da.close()
    assert os.path.exists(os.path.join(_index_dir(cfg), "state.json"))


def test_batch_find_through_the_index_equals_one_query_at_a_time(disk, indexed):
    da, _ = indexed(docs(800))
    queries = np.random.default_rng(4).random((300, DIM), dtype=np.float32)  # several chunks
    batch = da.find(queries, limit=5, ef=200)
    for q, got in zip(queries[::7], batch[::7]):  # every range of the shared pipeline
        one = da.find(q, limit=5, ef=200)
        assert [d.id for d in got] == [d.id for d in one]
        assert np.allclose([d.scores["cosine"].value for d in got],
                           [d.scores["cosine"].value for d in one], atol=1e-6)
    with pytest.raises(DimensionMismatchError):
        da.find(np.ones((300, DIM + 1), np.float32), limit=5)
    assert len(da) == 800


def test_index_catches_up_with_writes_made_without_it(disk, indexed):
    da, cfg = indexed(docs(500))
    da.close()
    plain = {k: v for k, v in cfg.items() if k not in ("index", "index_params", "metric")}
    with DocumentArray(storage=disk.storage, config={**plain, "index": "none"}) as other:
        other.extend(docs(300, start=500))
        del other[0:100]
        other["d700"] = Document(id="d700", tags={"i": 700}, embedding=np.full(DIM, 5, np.float32))
    da = DocumentArray(storage=disk.storage, config=cfg)
    disk.opened.append(da)
    assert da.find(np.full(DIM, 5, np.float32), limit=1)[0].id == "d700"
    q = np.random.default_rng(3).random((10, DIM), dtype=np.float32)
    for r in da.find(q, limit=10):
        assert all(int(d.id[1:]) >= 100 for d in r)
    assert _recall(da, q) >= 0.9
    da.extend(docs(50, start=2000))  # and writes through the indexed handle itself
    hit = da.find(da["d2010"].embedding, limit=1)[0]
    assert hit.id == "d2010"


def test_damaged_index_is_rebuilt_from_the_store(disk, indexed):
    da, cfg = indexed(docs(400))
    da.close()
    for f in glob.glob(os.path.join(_index_dir(cfg), "*")):
        if not f.endswith("state.json"):
            with open(f, "wb") as fh:
                fh.write(b"broken")
    da = DocumentArray(storage=disk.storage, config=cfg)
    disk.opened.append(da)
    d = da["d123"]
    assert da.find(d.embedding, limit=1)[0].id == "d123"


def test_vacuum_and_clear_rebuild_the_index(disk, indexed):
    da, cfg = indexed(docs(300))
    del da[0:150]
    da._store.vacuum()
    d = da["d200"]
    assert da.find(d.embedding, limit=1)[0].id == "d200"
    assert len(da.find(d.embedding, limit=500)) == 150
    da.clear()
    da.extend(docs(10, start=1000))
    assert da.find(da["d1005"].embedding, limit=1)[0].id == "d1005"
    shutil.rmtree(_index_dir(cfg), ignore_errors=True)
    da._store.rebuild_index()
    assert da.find(da["d1003"].embedding, limit=1)[0].id == "d1003"


def test_other_metric_falls_back_to_exact(disk, indexed):
    da, _ = indexed(docs(200))
    q = np.random.default_rng(1).random(DIM, dtype=np.float32)
    got = [d.id for d in da.find(q, limit=5, metric="euclidean")]
    data = docs(200)
    m = np.stack([d.embedding for d in data])
    want = [data[i].id for i in np.argsort(np.linalg.norm(m - q, axis=1))[:5]]
    assert got == want


@pytest.mark.parametrize("metric", ["euclidean", "inner_product"])
def test_find_and_match_default_to_the_stores_metric_and_use_its_index(disk, make_config,
                                                                       monkeypatch, metric):
    from shoal.indexes.hnsw import HnswIndex

    searched = []
    real = HnswIndex.search
    monkeypatch.setattr(HnswIndex, "search",
                        lambda self, *a, **kw: searched.append(self.metric) or real(self, *a, **kw))
    cfg = make_config(disk.storage, index="hnsw", metric=metric)
    da = DocumentArray(docs(300), storage=disk.storage, config=cfg)
    disk.opened.append(da)
    q = docs(1, start=7)[0]
    res = da.find(q.embedding, limit=5)
    assert searched == [metric] and list(res[0].scores) == [metric]
    assert [d.id for d in res] == [d.id for d in da.find(q.embedding, limit=5, metric=metric, exact=True)]
    queries = DocumentArray([q])
    queries.match(da, limit=3)
    assert searched == [metric, metric] and list(queries[0].matches[0].scores) == [metric]
    da.close()
    again = DocumentArray(storage=disk.storage, config={k: v for k, v in cfg.items() if k != "metric"})
    disk.opened.append(again)
    assert list(again.find(q.embedding, limit=1)[0].scores) == [metric]  # the recorded metric
    assert list(again.find(q.embedding, limit=1, metric="cosine")[0].scores) == ["cosine"]
    assert searched == [metric] * 3  # cosine was asked: exact over the column


def test_a_growing_index_is_checkpointed_so_a_crash_replays_only_the_tail(disk, indexed,
                                                                           monkeypatch):
    from shoal.docstore import indexing

    monkeypatch.setattr(indexing, "CHECKPOINT_ROWS", 500)
    da, cfg = indexed(docs(600))
    q = docs(1, start=5)[0].embedding

    def saved_rows():
        with open(os.path.join(_index_dir(cfg), "state.json")) as f:
            return json.load(f)["vec_rows"]

    da.find(q, limit=3)  # built from the column, saved
    assert saved_rows() == 600
    da.extend(docs(400, start=600))
    da.find(q, limit=3)  # 400 added: under 500, not saved
    assert saved_rows() == 600
    da.extend(docs(200, start=1000))
    da.find(q, limit=3)  # 600 added since the save, >= 500 and >= a quarter of 600
    assert saved_rows() == 1200
    da.extend(docs(100, start=1200))
    da.find(q, limit=3)
    assert saved_rows() == 1200

    added = []  # what a handle opened now (the store as a crash would leave it) re-adds
    real_add = indexing.IndexSync._add
    monkeypatch.setattr(indexing.IndexSync, "_add",
                        lambda self, labels, *a, **kw: added.append(labels.size) or real_add(self, labels, *a, **kw))
    other = DocumentArray(storage=disk.storage, config=cfg)
    disk.opened.append(other)
    got = other.find(docs(100, start=1200)[50].embedding, limit=1)
    assert added == [100] and got[0].id == "d1250"


def test_index_build_and_refine_read_a_big_column_without_mapping_it(disk, make_config,
                                                                     monkeypatch):
    """Past column.MAP_BYTES the training sample, the rows added and the refine candidates
    are read with pread, so an index over a column bigger than RAM does not pull the file
    into the process' resident set (here every column counts as big)."""
    pytest.importorskip("faiss")
    from shoal.docstore import column

    monkeypatch.setattr(column, "MAP_BYTES", 0)
    cfg = make_config(disk.storage, index="faiss", metric="cosine",
                      index_params={"factory": "IVF16,Flat", "nprobe": 16, "refine": 4})
    da = DocumentArray(docs(1200), storage=disk.storage, config=cfg)
    disk.opened.append(da)

    def mapped():
        raise AssertionError("the column was read through its memory map")

    monkeypatch.setattr(da._store.column, "matrix", mapped)
    assert len(da._store._index.ready()) == 1200  # trained and filled from the column
    d = da["d777"]
    hit = da.find(d.embedding, limit=1)[0]  # candidates re-ranked with exact vectors
    assert hit.id == "d777" and abs(hit.scores["cosine"].value) < 1e-5
    assert _recall(da, np.random.default_rng(5).random((5, DIM), dtype=np.float32)) >= 0.9


def test_training_sample_follows_the_ivf_lists_within_a_memory_cap():
    from shoal.docstore.indexing import _TRAIN_SAMPLE, training_sample_size
    from shoal.indexes import create_index

    pytest.importorskip("faiss")
    big = create_index("faiss", 128, "cosine", factory="IVF4096,PQ32")
    assert big.training_rows == 40 * 4096
    assert training_sample_size(big, 128) == 40 * 4096  # faiss warns below 39 per list
    assert training_sample_size(big, 8192) == (512 << 20) // (4 * 8192)  # capped in bytes
    small = create_index("faiss", 16, "cosine", factory="IVF16,Flat")
    assert training_sample_size(small, 16) == _TRAIN_SAMPLE
    # what a store waits for before it trains: 40 per centroid faiss learns
    rows = {f: create_index("faiss", 32, "cosine", factory=f).training_rows
            for f in ("IVF16,Flat", "IVF16,PQ4", "PQ4x4", "OPQ4,IVF512,PQ4", "SQ8")}
    assert rows == {"IVF16,Flat": 640, "IVF16,PQ4": 40 * 256, "PQ4x4": 40 * 16,
                    "OPQ4,IVF512,PQ4": 40 * 512, "SQ8": 10_000}
    assert training_sample_size(create_index("hnsw", 16, "cosine"), 16) == _TRAIN_SAMPLE
