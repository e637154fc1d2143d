"""PostgreSQL specifics: URL dispatch and errors (no server needed), then with a local
server (SHOAL_TEST_POSTGRES=1): exact tag round trip, writer lock timeout, rollback of
the vector column, block-streamed exact search, vacuum, hot columns, the index directory."""
from __future__ import annotations

import os

import numpy as np
import pytest

from shoal.docstore import pg_testing
from shoal.document.array import DocumentArray
from shoal.document.document import Document
from shoal.errors import InvalidConfigError, StoreError, StoreLockedError

psycopg = pytest.importorskip("psycopg")


def docs(n, start=0, dim=8):
    rng = np.random.default_rng(start)
    return [Document(id=f"d{i}", text=f"text {i}", tags={"i": i, "odd": bool(i % 2)},
                     embedding=rng.random(dim, dtype=np.float32)) for i in range(start, start + n)]


# --- no server needed ----------------------------------------------------------------------
def test_url_dispatch_and_bad_urls():
    from shoal.docstore.pg_conn import is_postgres_url, pg_url

    assert is_postgres_url("postgresql+psycopg://u@h/db") and is_postgres_url("postgres://h/db")
    assert not is_postgres_url("sqlite:///x.db") and not is_postgres_url("data.db")
    assert pg_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    with pytest.raises(InvalidConfigError, match="psycopg"):
        pg_url("postgresql+asyncpg://u@h/db")
    with pytest.raises(InvalidConfigError, match="database"):
        pg_url("postgresql+psycopg://u@h")
    with pytest.raises(InvalidConfigError, match="postgresql"):
        DocumentArray(storage="postgres", config={"connection": "data.db"})
    with pytest.raises(InvalidConfigError, match="connection"):
        DocumentArray(storage="postgres")


def test_a_table_name_past_postgres_identifier_length_is_a_config_error():
    """Was: SQLAlchemy's IdentifierError, not a ShoalError (checked before connecting)."""
    url = "postgresql+psycopg://u@127.0.0.1:1/db"
    with pytest.raises(InvalidConfigError, match="too long for PostgreSQL.*at most 56"):
        DocumentArray(storage="postgres", config={"connection": url, "table_name": "x" * 57})
    with pytest.raises(InvalidConfigError, match="at most 51"):
        DocumentArray(storage="postgres", config={"connection": url, "table_name": "x" * 52,
                                                  "columns": {"category": "str"}})


def test_unreachable_server_is_a_clear_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL") as info:
        DocumentArray(storage="sqlite", config={
            "connection": f"postgresql+psycopg://nobody:secret@127.0.0.1:{port}/x", "timeout": 2})
    assert "secret" not in str(info.value)


# --- with a local server ---------------------------------------------------------------------
@pytest.fixture
def pg(tmp_path):
    reason = pg_testing.unavailable()
    if reason:
        pytest.skip(reason)
    url = pg_testing.shared_server().url
    opened = []
    counter = iter(range(10_000))

    def make(data=None, **extra):
        cfg = {"connection": url, "table_name": f"p{os.getpid()}_{tmp_path.name[-12:]}_{next(counter)}",
               "index_path": str(tmp_path / "idx"), **extra}
        da = DocumentArray(data, storage="sqlite", config=cfg)
        opened.append(da)
        return da, cfg

    def reopen(cfg, **extra):
        da = DocumentArray(storage="postgres", config={**cfg, **extra})
        opened.append(da)
        return da

    make.reopen = reopen
    yield make
    for da in opened:
        try:
            da.close()
        except Exception:  # noqa: BLE001 - closed by the test
            pass


def test_store_kind_and_tags_round_trip_exactly(pg):
    tags = {"zeta": 1, "a": {"y": [1, 2.5, None], "b": "x"}, "big": 2 ** 60, "f": 0.1}
    da, cfg = pg([Document(id="x", tags=tags, text="hé", embedding=np.arange(4, dtype=np.float32))])
    assert type(da._store).__name__ == "PostgresStore"
    da.close()
    again = pg.reopen(cfg)
    d = again["x"]
    assert d.tags == tags and list(d.tags) == list(tags)  # key order kept (not JSONB's)
    assert d.text == "hé" and np.array_equal(d.embedding, np.arange(4, dtype=np.float32))
    assert [x.id for x in again.find({"tags__a__b": {"$eq": "x"}})] == ["x"]
    assert [x.id for x in again.find({"tags__big": {"$gt": 2 ** 59}})] == ["x"]


def test_second_writer_times_out_then_succeeds(pg):
    a, cfg = pg(docs(3))
    b = pg.reopen(cfg, timeout=0.3)
    with a._store.atomic():
        a.extend(docs(1, start=3))
        assert len(b) == 3  # readers see committed writes only, and are not blocked
        with pytest.raises(StoreLockedError, match="timeout"):
            b.extend(docs(1, start=4))
    assert len(b) == 4
    b.extend(docs(1, start=4))
    assert len(a) == 5 and a[4].id == "d4"


def test_rolled_back_batch_leaves_no_vectors(pg):
    da, _ = pg(docs(10))
    with pytest.raises(RuntimeError):
        with da._store.atomic():
            da.extend(docs(5, start=10))
            raise RuntimeError("undo")
    assert len(da) == 10 and da._store.stats()["vec_rows"] == 10
    rows = da._store.db.execute(f'SELECT count(*) FROM "{da._store.t}__vec"').fetchone()[0]
    assert rows == 10
    da.extend(docs(2, start=10))
    assert da.find(da["d11"].embedding, limit=1)[0].id == "d11"


def test_exact_search_streams_blocks(pg):
    data = docs(500)
    da, _ = pg(data, block_size=64)
    mem = DocumentArray(data)
    q = np.random.default_rng(5).random((4, 8), dtype=np.float32)
    for metric in ("cosine", "euclidean", "inner_product"):
        got = [[d.id for d in r] for r in da.find(q, limit=7, metric=metric)]
        want = [[d.id for d in r] for r in mem.find(q, limit=7, metric=metric)]
        assert got == want, metric
    flt = {"tags__odd": {"$eq": True}}
    got = [d.id for d in da.find(q[0], limit=5, filter=flt)]
    assert got == [d.id for d in mem.find(q[0], limit=5, filter=flt)]
    assert all(int(i[1:]) % 2 for i in got)


def test_vacuum_drops_old_vectors_and_keeps_search(pg):
    da, _ = pg(docs(50))
    del da[0:20]
    da["d30"] = Document(id="d30", embedding=np.full(8, 9, np.float32))
    da._store.vacuum()
    st = da._store
    assert st.stats()["n_dead"] == 0 and st.stats()["vec_rows"] == 30
    rows = st.db.execute(f'SELECT count(*) FROM "{st.t}__vec"').fetchone()[0]
    assert rows == 30
    assert da.find(np.full(8, 9, np.float32), limit=1, metric="euclidean")[0].id == "d30"
    assert da.find(da["d40"].embedding, limit=1)[0].id == "d40"


def test_hot_columns_filter_like_json(pg):
    da, cfg = pg(docs(40), columns={"i": "int"})
    flt = {"tags__i": {"$gte": 35}}
    assert [d.id for d in da.find(flt)] == [f"d{i}" for i in range(35, 40)]
    da.close()
    again = pg.reopen(cfg, columns={"i": "int", "odd": "bool"})  # declared later: backfilled
    assert len(again.find({"tags__odd": {"$eq": True}}, limit=100)) == 20


def test_index_saved_in_index_path_and_switched(pg):
    pytest.importorskip("hnswlib")
    da, cfg = pg(docs(600), index="hnsw", index_params={"M": 16})
    q = da["d77"].embedding
    assert da.find(q, limit=1)[0].id == "d77"
    da.sync()
    assert os.path.exists(os.path.join(cfg["index_path"], f"{cfg['table_name']}.index", "state.json"))
    da.rebuild_index(index="hnsw", index_params={"M": 8}, show_progress=False)
    da.close()
    plain = {k: v for k, v in cfg.items() if k not in ("index", "index_params")}
    again = pg.reopen(plain)
    assert again._store._index.index.params["M"] == 8
    assert again.find(q, limit=1)[0].id == "d77"


def test_default_index_dir_is_per_array(pg):
    from shoal.docstore.pg_conn import default_index_dir, pg_url

    url = pg_url(pg_testing.shared_server().url)
    assert default_index_dir(url, "a") != default_index_dir(url, "b")
    assert "secret" not in default_index_dir(pg_url("postgresql://u:secret@h/db"), "a")


def test_values_postgres_cannot_hold_are_bad_input(pg):
    from shoal.errors import BadInputError

    da, cfg = pg(docs(2))
    with pytest.raises(BadInputError, match="nothing of this batch"):
        da.extend([Document(id="n1", tags={"x": float("nan")}), Document(id="n2")])
    with pytest.raises(BadInputError):
        da.extend([Document(id="z", text="a\x00b")])
    assert len(da) == 2 and "n2" not in da
    da.extend(docs(1, start=2))
    assert len(da) == 3
    da[0].text = "bad\x00text"  # a tracked Document changed in place, written back by sync
    with pytest.raises(BadInputError, match="NUL"):
        da.sync()
    assert pg.reopen(cfg)["d0"].text == "text 0"
    da[0].text = "text 0"


def test_not_a_shoal_table_and_concurrent_creation(pg):
    import threading

    da, cfg = pg()
    st = da._store
    st.db.execute('CREATE TABLE IF NOT EXISTS "plain_table_x" (a int)')
    with pytest.raises(InvalidConfigError, match="not a shoal array"):
        DocumentArray(storage="postgres", config={**cfg, "table_name": "plain_table_x"})
    errors, made = [], []

    def create(i):
        try:
            made.append(DocumentArray(storage="postgres",
                                      config={**cfg, "table_name": f"{cfg['table_name']}_c{i % 2}"}))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for d in made:
        d.close()
    assert not errors and len(made) == 6
