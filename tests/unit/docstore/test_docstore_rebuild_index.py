"""``da.rebuild_index(index=..., index_params=..., metric=...)``: switch the ANN index of a
disk store in place (hnsw -> faiss -> exact), recorded in the store so a reopen keeps it;
bad names / parameters / failed training leave the old index answering."""
from __future__ import annotations

import os

import numpy as np
import pytest

from shoal.document.array import DocumentArray
from shoal.document.document import Document
from shoal.errors import (BadInputError, IndexNotTrainedError, InvalidConfigError,
                          UnknownBackendError)

pytest.importorskip("hnswlib")
DIM = 16
N = 1500


def docs(n, start=0):
    rng = np.random.default_rng(start)
    return [Document(id=f"d{i}", tags={"i": i}, embedding=rng.random(DIM, dtype=np.float32))
            for i in range(start, start + n)]


QUERIES = np.random.default_rng(99).random((20, DIM), dtype=np.float32)


def _recall(da, k=10, flt=None):
    hits = 0
    for q in QUERIES:
        got = {d.id for d in da.find(q, limit=k, filter=flt)}
        want = {d.id for d in da.find(q, limit=k, filter=flt, exact=True)}
        hits += len(got & want)
    return hits / (k * len(QUERIES))


def _index_dir(cfg):
    if cfg.get("index_path"):
        return os.path.join(os.path.abspath(cfg["index_path"]), f"{cfg['table_name']}.index")
    if "connection" in cfg:
        return f"{os.path.abspath(cfg['connection'])}.{cfg.get('table_name', 'docs')}.index"
    return os.path.join(os.path.abspath(cfg["path"]), f"{cfg.get('name', 'docs')}.index")


def _kind(da):
    """(recorded kind, backend of the live index or None)."""
    st = da._store
    if st._index is not None:
        st._index.catch_up()  # built lazily: on the first search after the first vectors
    live = st._index.index if st._index is not None else None
    return st._choice.kind, (type(live).backend if live is not None else None)


@pytest.fixture
def open_da(disk, make_config):
    def make(data=None, **extra):
        cfg = make_config(disk.storage, **extra)
        da = DocumentArray(data, storage=disk.storage, config=cfg)
        disk.opened.append(da)
        disk.configs[id(da)] = cfg
        return da, cfg

    return make


def _reopen(disk, cfg, **changes):
    cfg = {**cfg, **changes}
    cfg = {k: v for k, v in cfg.items() if v is not None}
    da = DocumentArray(storage=disk.storage, config=cfg)
    disk.opened.append(da)
    return da


def _ids(da):
    return [d.id for d in da]


def test_switch_hnsw_faiss_exact_keeps_results_and_survives_reopen(disk, open_da):
    pytest.importorskip("faiss")
    da, cfg = open_da(docs(N), index="hnsw", index_params={"M": 16, "ef": 64}, metric="cosine")
    before = _ids(da)
    assert _kind(da) == ("hnsw", "hnsw")
    assert _recall(da) >= 0.9

    da.rebuild_index(index="faiss", index_params={"factory": "IVF16,Flat", "nprobe": 8},
                     show_progress=False)
    assert _kind(da) == ("faiss", "faiss")
    assert da._store._index.index.is_trained and len(da._store._index.index) == N
    assert _recall(da) >= 0.85
    flt = {"tags__i": {"$lt": 400}}
    res = da.find(QUERIES[0], limit=10, filter=flt)
    assert len(res) == 10 and all(d.tags["i"] < 400 for d in res)
    assert _ids(da) == before  # no Document lost or moved

    da.close()
    plain = {k: v for k, v in cfg.items() if k not in ("index", "index_params", "metric")}
    da = _reopen(disk, plain)  # no index in the config: the recorded one is used
    assert _kind(da) == ("faiss", "faiss")
    assert da._store._choice.params == {"factory": "IVF16,Flat", "nprobe": 8}
    assert _recall(da) >= 0.85
    da.extend(docs(20, start=N))  # the switched index follows writes
    hit = da.find(da[f"d{N + 7}"].embedding, limit=1)[0]
    assert hit.id == f"d{N + 7}"

    da.rebuild_index(index="exact")
    assert _kind(da) == (None, None)
    assert not os.path.exists(_index_dir(cfg))
    for q in QUERIES[:5]:
        assert [d.id for d in da.find(q, limit=10)] == [d.id for d in da.find(q, limit=10, exact=True)]
    da.close()
    da = _reopen(disk, plain)
    assert _kind(da) == (None, None)
    assert len(da) == N + 20
    assert _ids(da)[:N] == before


def test_rebuild_without_arguments_keeps_type_and_params(disk, open_da):
    da, _ = open_da(docs(300), index="hnsw", index_params={"M": 8})
    old = da._store._index
    da.rebuild_index(show_progress=False)
    assert da._store._index is not old
    assert da._store._index.index.params["M"] == 8
    assert _recall(da) >= 0.9


def test_params_change_within_a_type_and_metric(disk, open_da):
    da, cfg = open_da(docs(400), index="hnsw", index_params={"M": 16})
    da.rebuild_index(index_params={"M": 8, "ef": 32}, show_progress=False)
    assert da._store._index.index.params["M"] == 8
    da.rebuild_index(metric="euclidean", show_progress=False)
    assert da._store._index.metric == "euclidean"
    assert da._store._choice.params == {"M": 8, "ef": 32}  # kept: same type
    q = QUERIES[0]
    got = [d.id for d in da.find(q, limit=5, metric="euclidean")]
    assert got == [d.id for d in da.find(q, limit=5, metric="euclidean", exact=True)]
    da.close()
    da = _reopen(disk, cfg, index=None, index_params=None, metric=None)
    assert da._store._index.metric == "euclidean"
    assert da._store._index.index.params["M"] == 8


def test_bad_names_and_params_leave_the_old_index(disk, open_da):
    da, cfg = open_da(docs(N), index="hnsw", index_params={"M": 16, "ef": 64})
    old = da._store._index
    bad = [
        (UnknownBackendError, {"index": "annoy"}),
        (InvalidConfigError, {"index": 42}),
        (InvalidConfigError, {"index_params": {"no_such_option": 1}}),
        (InvalidConfigError, {"index_params": "M=8"}),
        (InvalidConfigError, {"metric": "manhattan"}),
    ]
    if _has_faiss():
        bad += [(InvalidConfigError, {"index": "faiss", "index_params": {"factory": "Bogus9"}}),
                (IndexNotTrainedError, {"index": "faiss:IVF4096,Flat"})]  # 1500 < 4096 lists
    for err, kw in bad:
        with pytest.raises(err):
            da.rebuild_index(show_progress=False, **kw)
        assert da._store._index is old, kw
        assert _kind(da) == ("hnsw", "hnsw")
    assert _recall(da) >= 0.9
    assert not os.path.exists(_index_dir(cfg) + ".new")
    da.close()
    plain = {k: v for k, v in cfg.items() if k not in ("index", "index_params", "metric")}
    da = _reopen(disk, plain)
    assert _kind(da) == ("hnsw", "hnsw")
    assert _recall(da) >= 0.9


def _has_faiss():
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def test_unknown_backend_is_an_invalid_config(disk, open_da):
    with pytest.raises(UnknownBackendError, match="annoy"):
        open_da(docs(5), index="annoy")
    with pytest.raises(InvalidConfigError, match="metric"):
        open_da(docs(5), index="hnsw", metric="manhattan")


def test_reopen_with_other_params_in_the_config_rebuilds(disk, open_da):
    da, cfg = open_da(docs(500), index="hnsw", index_params={"M": 16})
    da.close()
    da = _reopen(disk, cfg, index_params={"M": 8})
    assert da._store._index.index.params["M"] == 8
    assert _recall(da) >= 0.9
    da.close()
    # the config's choice was recorded: a reopen without index config keeps M=8
    plain = {k: v for k, v in cfg.items() if k not in ("index", "index_params", "metric")}
    da = _reopen(disk, plain)
    assert da._store._index.index.params["M"] == 8
    da.close()
    # naming the type only keeps the recorded params of that type
    da = _reopen(disk, plain, index="hnsw")
    assert da._store._index.index.params["M"] == 8


def test_config_exact_means_no_ann_index(disk, open_da):
    da, cfg = open_da(docs(200), index="hnsw")
    da.close()
    da = _reopen(disk, cfg, index="exact")
    assert _kind(da) == (None, None)
    q = QUERIES[0]
    assert [d.id for d in da.find(q, limit=5)] == [d.id for d in da.find(q, limit=5, exact=True)]


def test_store_without_index(disk, open_da):
    da, cfg = open_da(docs(300))
    assert _kind(da) == (None, None)
    with pytest.raises(InvalidConfigError, match="index='hnsw'"):
        da.rebuild_index()
    da.rebuild_index(index="hnsw", index_params={"M": 8}, show_progress=False)
    assert _kind(da) == ("hnsw", "hnsw")
    assert _recall(da) >= 0.9
    da.close()
    da = _reopen(disk, cfg)
    assert _kind(da) == ("hnsw", "hnsw")


def test_switch_on_an_empty_store_builds_on_first_vectors(disk, open_da):
    da, cfg = open_da(None)
    da.rebuild_index(index="hnsw", show_progress=False)
    assert da._store._index is not None and da._store._index.index is None
    da.extend(docs(200))
    d = da["d42"]
    assert da.find(d.embedding, limit=1)[0].id == "d42"
    assert da._store._index.index is not None


def test_ivf_too_small_to_train_falls_back_to_exact(disk, open_da, monkeypatch):
    pytest.importorskip("faiss")
    from shoal.indexes import FaissIndex

    da, _ = open_da(docs(10), index="faiss", index_params={"factory": "IVF64,Flat", "nprobe": 32})
    trained = []
    train = FaissIndex.train
    monkeypatch.setattr(FaissIndex, "train", lambda self, x: trained.append(len(x)) or train(self, x))
    q = QUERIES[0]
    assert [d.id for d in da.find(q, limit=3)] == [d.id for d in da.find(q, limit=3, exact=True)]
    da.find(q, limit=3)
    assert len(trained) <= 1  # not tried again on every search while too few vectors
    da.extend(docs(3000, start=10))  # now enough vectors: the index trains on the next search
    assert _recall(da) >= 0.8
    assert da._store._index.index is not None


def test_ivf_trains_once_the_store_holds_the_vectors_it_asks_for(disk, open_da, monkeypatch):
    """IVF16 asks for 40 vectors per list (faiss warns below 39): with fewer the store
    searches exactly instead of training lists it would keep, poor, as the store grows;
    an explicit rebuild_index trains on what there is."""
    pytest.importorskip("faiss")
    from shoal.indexes import FaissIndex

    trained = []
    train = FaissIndex.train
    monkeypatch.setattr(FaissIndex, "train", lambda self, x: trained.append(len(x)) or train(self, x))
    da, _ = open_da(docs(300), index="faiss", index_params={"factory": "IVF16,Flat", "nprobe": 16})
    q = QUERIES[0]
    exact = [d.id for d in da.find(q, limit=5, exact=True)]
    assert [d.id for d in da.find(q, limit=5)] == exact
    da.extend(docs(300, start=300))
    da.find(q, limit=5)
    assert trained == [] and da._store._index.index is None  # 600 < 640
    da.extend(docs(100, start=600))
    hits = da.find(QUERIES, limit=10)
    assert trained == [700] and len(da._store._index.index) == 700
    assert np.mean([len({d.id for d in h} & {d.id for d in e}) / 10 for h, e in
                    zip(hits, da.find(QUERIES, limit=10, exact=True))]) >= 0.9

    small, _ = open_da(docs(100), index="hnsw")
    small.rebuild_index(index="faiss", index_params={"factory": "IVF16,Flat"},
                        show_progress=False)
    assert trained[-1] == 100 and len(small._store._index.index) == 100


def test_not_inside_atomic(disk, open_da):
    da, _ = open_da(docs(50), index="hnsw")
    with da._store.atomic():
        with pytest.raises(BadInputError, match="atomic"):
            da.rebuild_index(show_progress=False)
    assert _recall(da) >= 0.9


def test_progress_bar_is_shown(disk, open_da, capsys):
    pytest.importorskip("tqdm")
    da, _ = open_da(docs(300), index="hnsw")
    da.rebuild_index(show_progress=True)
    assert "index hnsw" in capsys.readouterr().err


def test_crash_between_recording_and_swapping_rebuilds_on_open(disk, open_da):
    import shutil

    da, cfg = open_da(docs(400), index="hnsw", index_params={"M": 16})
    assert _recall(da) >= 0.9  # builds the index (lazily, on the first search)
    da.close()
    saved = _index_dir(cfg) + ".copy"
    shutil.copytree(_index_dir(cfg), saved)
    da = _reopen(disk, cfg, index=None, index_params=None)
    da.rebuild_index(index_params={"M": 8}, show_progress=False)
    da.close()
    shutil.rmtree(_index_dir(cfg))
    shutil.copytree(saved, _index_dir(cfg))  # the M=8 choice is recorded, the M=16 files remain
    da = _reopen(disk, cfg, index=None, index_params=None)
    assert da._store._index.index.params["M"] == 8
    assert _recall(da) >= 0.9
