"""Durability and bad input of the disk stores: versions, corruption, vacuum, config, atomicity."""
from __future__ import annotations

import glob
import json
import os
import sqlite3

import lmdb
import numpy as np
import pytest

from shoal.document.array import DocumentArray
from shoal.document.document import Document
from shoal.errors import (BadInputError, CorruptStoreError, InvalidConfigError,
                          StoreClosedError, StoreNotWritableError, StoreVersionError,
                          UnknownBackendError)


def docs(n, start=0):
    return [Document(id=f"d{i}", text=f"text {i}", tags={"i": i},
                     embedding=np.full(4, i, dtype=np.float32)) for i in range(start, start + n)]


def _files(cfg):
    if "connection" in cfg and "://" in cfg["connection"]:
        return []  # PostgreSQL: no files of ours
    if "connection" in cfg:
        return glob.glob(cfg["connection"] + "*")
    return glob.glob(os.path.join(cfg["path"], "*"))


def _files_only(disk):
    if disk.storage == "postgres":
        pytest.skip("about the store's own files; PostgreSQL keeps its data in the server")


def _bump_version(storage, cfg):
    if storage == "postgres":
        import psycopg

        url = cfg["connection"].replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("UPDATE shoal_arrays SET version=99 WHERE name=%s", (cfg["table_name"],))
        return
    if storage == "sqlite":
        con = sqlite3.connect(cfg["connection"])
        con.execute("UPDATE shoal_arrays SET version=99 WHERE name=?", (cfg["table_name"],))
        con.commit()
        con.close()
        return
    env = lmdb.open(cfg["path"], max_dbs=256)
    meta = env.open_db(b"shoal:meta")
    with env.begin(write=True, db=meta) as txn:
        m = json.loads(txn.get(cfg["name"].encode()))
        m["version"] = 99
        txn.put(cfg["name"].encode(), json.dumps(m).encode())
    env.close()


def test_unknown_format_version_is_refused(disk):
    da = disk(docs(3))
    cfg = disk.config(da)
    da.close()
    _bump_version(disk.storage, cfg)
    with pytest.raises(StoreVersionError, match="newer shoal"):
        DocumentArray(storage=disk.storage, config=cfg)


def test_corrupted_file_is_reported(disk):
    _files_only(disk)
    da = disk(docs(3))
    cfg = disk.config(da)
    da.close()
    target = cfg["connection"] if disk.storage == "sqlite" else os.path.join(cfg["path"], "data.mdb")
    for f in glob.glob(target + "-*"):
        os.remove(f)
    with open(target, "r+b") as f:
        f.write(b"garbage!" * 512)
    with pytest.raises(CorruptStoreError):
        DocumentArray(storage=disk.storage, config=cfg)


def test_truncated_vector_column_is_reported(disk):
    _files_only(disk)
    da = disk(docs(10))
    cfg = disk.config(da)
    da.close()
    (vec,) = [f for f in _files(cfg) if f.endswith(".vec")]
    os.truncate(vec, 16)
    with pytest.raises(CorruptStoreError, match="vector column"):
        DocumentArray(storage=disk.storage, config=cfg)


def test_uncommitted_column_rows_are_ignored_then_dropped(disk):
    _files_only(disk)
    da = disk(docs(10))
    cfg = disk.config(da)
    da.close()
    (vec,) = [f for f in _files(cfg) if f.endswith(".vec")]
    size = os.path.getsize(vec)
    with open(vec, "ab") as f:
        f.write(b"\x01" * 40)  # half-written rows of a batch that never committed
    again = DocumentArray(storage=disk.storage, config=cfg)
    assert len(again) == 10 and again.embeddings.shape == (10, 4)  # ignored by readers
    again.extend(docs(2, start=10))  # cut by the next writer
    assert os.path.getsize(vec) == size + 2 * 16
    assert np.array_equal(again.embeddings[-2:], np.full((2, 4), [[10], [11]]))
    again.close()


def test_vacuum_removes_deleted_text_and_vectors(disk):
    secret = "SECRET-" + "x" * 64
    da = disk(docs(50) + [Document(id="s", text=secret, embedding=np.full(4, 7e7, np.float32))])
    del da["s"]
    da.sync()
    da._store.vacuum()
    cfg = disk.config(da)
    da.close()
    marker = np.full(4, 7e7, np.float32).tobytes()
    for f in _files(cfg):
        if os.path.isfile(f):
            data = open(f, "rb").read()
            assert secret.encode() not in data, f
            assert marker not in data, f
    again = DocumentArray(storage=disk.storage, config=cfg)
    assert len(again) == 50 and again[49].id == "d49"
    assert again.find(np.full(4, 3, np.float32), limit=1, metric="euclidean")[0].id == "d3"
    again.close()


def test_unknown_config_key_names_the_valid_ones(disk, make_config):
    with pytest.raises(InvalidConfigError, match="valid keys"):
        DocumentArray(storage=disk.storage, config=make_config(disk.storage, colour="red"))
    with pytest.raises(InvalidConfigError, match="on_duplicate"):
        DocumentArray(storage=disk.storage, config=make_config(disk.storage, on_duplicate="maybe"))
    with pytest.raises(UnknownBackendError):
        DocumentArray(storage="nosuchstore")


@pytest.mark.parametrize("extra, error, match", [
    ({"index": "nope"}, UnknownBackendError, "unknown index"),
    ({"index": "hnsw", "metric": "manhattan"}, InvalidConfigError, "metric"),
    ({"index": "hnsw", "index_params": {"M": -1}}, InvalidConfigError, "M must be"),
    ({"index": "hnsw", "index_params": {"bogus": 3}}, InvalidConfigError, "it takes M"),
    ({"index": "faiss:IVFxx"}, InvalidConfigError, "could not parse"),
    ({"index": "faiss", "index_params": {"factory": "IVF4,Flat", "nprobe": 0}},
     InvalidConfigError, "nprobe"),
])
def test_bad_index_config_fails_at_open_and_creates_nothing(disk, make_config, extra, error,
                                                            match):
    """Without n_dim too: the error comes before a long extend, and no store is left."""
    _files_only(disk)
    cfg = make_config(disk.storage, **extra)
    with pytest.raises(error, match=match):
        DocumentArray(storage=disk.storage, config=cfg)
    assert _files(cfg) == []
    assert not os.path.exists(cfg.get("path", cfg.get("connection")))


def test_index_config_that_depends_on_the_dimension_waits_for_the_vectors(disk, make_config):
    """PQ3 cannot be probed at 64 dimensions: without n_dim the store opens and the
    first vectors decide (96 = 32 x 3 fits; 100 would not)."""
    pytest.importorskip("faiss")
    da = DocumentArray(storage=disk.storage, config=make_config(disk.storage, index="faiss:PQ3x4"))
    da.extend(Document(embedding=np.random.default_rng(i).random(96, dtype=np.float32))
              for i in range(300))
    assert len(da.find(np.ones(96, dtype=np.float32), limit=3)) == 3
    da.close()
    with pytest.raises(InvalidConfigError, match="multiple"):
        DocumentArray(storage=disk.storage, config=make_config(disk.storage, index="faiss:PQ3x4",
                                                               n_dim=100))


def test_docarray_sqlite_config_opens_as_written(tmp_path):
    """DocArray 0.21's SqliteConfig keys are taken: serialize_config / conn_config /
    root_id have no effect, synchronous sets the pragma, table_name=None is 'docs'."""
    cfg = {"connection": str(tmp_path / "da.db"), "table_name": None, "list_like": True,
           "serialize_config": {"protocol": "protobuf", "compress": None},
           "conn_config": {"check_same_thread": False}, "journal_mode": "WAL",
           "synchronous": "FULL", "root_id": True}
    with DocumentArray(docs(3), storage="sqlite", config=cfg) as da:
        assert da._store.t == "docs"
        assert da._store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with DocumentArray(storage="sqlite", config=cfg) as da:
        assert [d.id for d in da] == ["d0", "d1", "d2"]
    for bad, match in (({"synchronous": "sometimes"}, "synchronous"),
                       ({"conn_config": 3}, "conn_config must be a dict")):
        with pytest.raises(InvalidConfigError, match=match):
            DocumentArray(storage="sqlite", config={**cfg, **bad})


def test_unwritable_path(disk, tmp_path):
    _files_only(disk)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cfg = ({"connection": str(blocker / "sub" / "x.db")} if disk.storage == "sqlite"
           else {"path": str(blocker / "sub")})
    with pytest.raises(StoreNotWritableError):
        DocumentArray(storage=disk.storage, config=cfg)


def test_atomic_block_is_all_or_nothing_and_nests(disk):
    da = disk(docs(2))
    store = da._store
    with pytest.raises(RuntimeError):
        with store.atomic():
            da.extend(docs(3, start=2))
            raise RuntimeError("boom")
    assert len(da) == 2 and "d2" not in da
    with store.atomic():
        da.extend(docs(1, start=2))
        with pytest.raises(RuntimeError):
            with store.atomic():
                da.extend(docs(1, start=3))
                raise RuntimeError("inner")
        da.extend(docs(1, start=4))
    assert [d.id for d in da] == ["d0", "d1", "d2", "d4"]
    assert np.array_equal(da.embeddings[:, 0], [0, 1, 2, 4])


def test_find_inside_atomic_sees_the_blocks_writes_and_a_rollback_leaves_the_index_clean(disk):
    """Inside atomic() searches are exact over the column, which shows the block's own
    rows; the ANN index takes only committed rows (a rollback's labels are reused)."""
    rng = np.random.default_rng(0)
    x = rng.random((40, 4), dtype=np.float32)
    da = disk([Document(id=f"v{i}", embedding=x[i], tags={"g": i % 2}) for i in range(20)],
              index="hnsw")
    assert da.find(x[0], limit=1)[0].id == "v0"  # the index is built
    store = da._store
    with pytest.raises(KeyError):
        with store.atomic():
            da.extend(Document(id=f"v{i}", embedding=x[i], tags={"g": i % 2}) for i in range(20, 25))
            assert da.find(x[22], limit=1)[0].id == "v22"
            assert da.find(x[23], limit=1, filter={"tags__g": 1})[0].id == "v23"
            assert np.allclose(da["v24"].embedding, x[24]) and da.embeddings.shape == (25, 4)
            del da["v0"]
            assert da.find(x[0], limit=1)[0].id != "v0"
            with pytest.raises(RuntimeError):
                with store.atomic():
                    da.extend([Document(id="inner", embedding=x[30])])
                    assert da.find(x[30], limit=1)[0].id == "inner"
                    raise RuntimeError
            assert da.find(x[30], limit=1)[0].id != "inner" and len(da) == 24
            raise KeyError("roll back")
    assert len(da) == 20 and "v22" not in da and da.embeddings.shape == (20, 4)
    assert da.find(x[22], limit=1)[0].id != "v22" and da.find(x[0], limit=1)[0].id == "v0"
    with store.atomic():  # the labels the rollback freed are written again, other vectors
        da.extend(Document(id=f"w{i}", embedding=x[i]) for i in range(25, 30))
        assert da.find(x[27], limit=1)[0].id == "w27"
    assert da.find(x[27], limit=1)[0].id == "w27" and len(da) == 25
    again = disk.reopen(da)
    found = again.find(again.embeddings, limit=1)
    assert [r[0].id for r in found] == again[:, "id"]


def test_two_handles_see_each_others_commits(disk):
    da = disk(docs(3))
    other = DocumentArray(storage=disk.storage, config=disk.config(da))
    assert len(other) == 3
    da.extend(docs(2, start=3))
    da[0] = Document(id="new0", text="fresh")
    assert len(other) == 5 and other[0].text == "fresh"
    assert np.array_equal(other[1:].embeddings[:, 0], [1, 2, 3, 4])
    other.close()


def test_several_arrays_in_one_database(disk, make_config):
    cfg = make_config(disk.storage)
    names = ("name", "x1", "x2") if disk.storage == "lmdb" else ("table_name", f"{cfg['table_name']}x1",
                                                                  f"{cfg['table_name']}x2")
    a = DocumentArray(docs(3), storage=disk.storage, config={**cfg, names[0]: names[1]})
    b = DocumentArray(docs(5), storage=disk.storage, config={**cfg, names[0]: names[2]})
    assert len(a) == 3 and len(b) == 5
    a.close()
    b.close()
    a = DocumentArray(storage=disk.storage, config={**cfg, names[0]: names[1]})
    assert [d.id for d in a] == ["d0", "d1", "d2"]
    a.close()


def test_key_value_mode_without_order(disk):
    da = disk(docs(5), list_like=False)
    assert len(da) == 5 and da["d3"].text == "text 3"
    del da["d1"]
    assert [d.id for d in da] == ["d0", "d2", "d3", "d4"]
    assert da.index("d3") == 2 and da[2].id == "d3"
    assert [d.id for d in da.find(filter={"tags__i": {"$gt": 2}})] == ["d3", "d4"]
    assert da.find(np.full(4, 4, np.float32), limit=1, metric="euclidean")[0].id == "d4"


def test_stats_count_sequence_numbers(disk):
    da = disk(docs(3))
    s0 = da._store.stats()
    da.extend(docs(2, start=3))
    del da[0]
    s1 = da._store.stats()
    assert s1["seq"] == s0["seq"] + 2 and s1["count"] == 4 and s1["n_dead"] == 1


def test_declared_dimension_is_enforced(disk):
    from shoal.errors import DimensionMismatchError

    da = disk(n_dim=4)
    with pytest.raises(DimensionMismatchError, match="4-d"):
        da.extend([Document(id="x", embedding=np.zeros(3, np.float32))])
    assert len(da) == 0
    da.extend(docs(2))
    with pytest.raises(DimensionMismatchError):
        da.embed(lambda batch: np.ones((len(batch), 2)))
    assert da.embeddings.shape == (2, 4)


def test_overwrite_replaces_vectors_for_search(disk):
    da = disk(docs(5), on_duplicate="overwrite")
    da.extend([Document(id="d2", text="moved", embedding=np.full(4, 100, np.float32))])
    assert [d.id for d in da] == ["d0", "d1", "d2", "d3", "d4"]
    hit = da.find(np.full(4, 100, np.float32), limit=1, metric="euclidean")[0]
    assert hit.id == "d2" and hit.text == "moved"
    assert da._store.stats()["n_dead"] == 1


def test_sync_skips_documents_deleted_meanwhile(disk):
    da = disk(docs(3))
    other = DocumentArray(storage=disk.storage, config=disk.config(da))
    d = da["d1"]
    d.text = "changed here"
    del other["d1"]
    other.close()
    da.sync()
    assert "d1" not in da and len(da) == 2


def test_rolled_back_clear_keeps_the_vectors(disk):
    da = disk(docs(5))
    with da._store.atomic():
        with pytest.raises(RuntimeError):
            with da._store.atomic():
                da.clear()
                raise RuntimeError("undo")
    assert len(da) == 5
    assert np.array_equal(da.embeddings[:, 0], [0, 1, 2, 3, 4])
    assert da.find(np.full(4, 3, np.float32), limit=1, metric="euclidean")[0].id == "d3"


def test_sqlite_url_and_in_process_lock_timeout(tmp_path):
    from shoal.errors import StoreLockedError

    url = f"sqlite:///{tmp_path / 'u.db'}"
    a = DocumentArray(docs(2), storage="sqlite", config={"connection": url, "table_name": "t"})
    b = DocumentArray(storage="sqlite", config={"connection": str(tmp_path / "u.db"),
                                                "table_name": "t", "timeout": 0.2})
    with a._store.atomic():
        a.extend(docs(1, start=2))
        assert len(b) == 2  # readers see only committed writes and are not blocked
        with pytest.raises(StoreLockedError, match="timeout"):
            b.extend(docs(1, start=3))
    assert len(b) == 3
    a.close()
    b.close()


def test_lmdb_nested_write_to_a_sibling_array_is_a_clear_error(tmp_path):
    from shoal.errors import StoreError

    a = DocumentArray(storage="lmdb", config={"path": str(tmp_path), "name": "a"})
    b = DocumentArray(storage="lmdb", config={"path": str(tmp_path), "name": "b"})
    with a._store.atomic():
        a.extend(docs(1))
        with pytest.raises(StoreError, match="after that block"):
            b.extend(docs(1))
    b.extend(docs(1))
    assert len(a) == 1 and len(b) == 1
    a.close()
    b.close()


def test_a_closed_array_says_so(disk):
    da = disk(docs(3))
    da.close()
    assert "closed" in repr(da)
    for use in (lambda: len(da), lambda: da[0], lambda: list(da), lambda: "d1" in da,
                lambda: da.extend(docs(1, start=5)), lambda: da[:, "text"],
                lambda: da.find(np.ones(4, np.float32), limit=1),
                lambda: da.find({"text": {"$eq": "text 1"}}),
                lambda: da._store.atomic().__enter__()):
        with pytest.raises(StoreClosedError, match="closed; open it again"):
            use()
    da.close()  # closing again is a no-op, as for a file
    again = DocumentArray(storage=disk.storage, config=disk.config(da))
    assert len(again) == 3
    again.close()


def test_close_releases_the_store_when_its_sync_fails(disk):
    da = disk(docs(3))
    fetched = da[1]
    fetched.embedding = np.full(4, np.nan, np.float32)  # changed in place: written by sync
    with pytest.raises(BadInputError, match="NaN"):
        da.close()
    with pytest.raises(StoreClosedError):  # released, as a file is when its flush fails
        len(da)
    again = DocumentArray(storage=disk.storage, config=disk.config(da))
    assert again[1].embedding.tolist() == [1.0] * 4  # the bad change was not written
    again.extend(docs(1, start=3))
    assert len(again) == 4
    again.close()


def test_an_index_that_cannot_be_saved_is_logged_not_raised(disk, monkeypatch, caplog):
    """The store is the truth and the index a cache: a full disk or a read-only index
    directory must not fail sync / close (or a search's checkpoint); the next open
    catches the index up from the store."""
    from shoal.indexes import HnswIndex

    def full_disk(self, path):
        raise StoreNotWritableError(f"cannot write index to {path}: No space left on device")

    x = np.random.default_rng(0).standard_normal((35, 4)).astype(np.float32)
    mine = [Document(id=f"v{i}", embedding=x[i]) for i in range(35)]
    da = disk(mine[:30], index="hnsw")
    assert da.find(x[7], limit=1)[0].id == "v7"
    monkeypatch.setattr(HnswIndex, "save", full_disk)
    da.extend(mine[30:])
    assert da.find(x[33], limit=1)[0].id == "v33"  # the index caught up, in memory
    with caplog.at_level("WARNING", logger="shoal.docstore"):
        da.sync()
        da.close()
    assert "not saved" in caplog.text and "No space left" in caplog.text
    monkeypatch.undo()
    again = DocumentArray(storage=disk.storage, config=disk.config(da))
    assert again.find(x[33], limit=1)[0].id == "v33"
    again.close()
