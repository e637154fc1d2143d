"""storage='annlite': DocArray 0.21's AnnLite config and filters, on an LMDB store + hnsw."""
from __future__ import annotations

import os

import numpy as np
import pytest

from shoal import Document, DocumentArray
from shoal.errors import InvalidConfigError

pytest.importorskip("hnswlib")


def _docs(n=10, dim=3):
    rng = np.random.default_rng(0)
    return [Document(id=f"r{i}", embedding=rng.random(dim, dtype=np.float32),
                     tags={"price": i, "shop": "a" if i % 2 else "b"}) for i in range(n)]


def test_docarray_annlite_example_runs_as_written(tmp_path):
    """DocArray's AnnLite page: columns declared, the filter names the column bare."""
    n_dim, path = 3, str(tmp_path / "ws")
    data = _docs(40, n_dim)
    with DocumentArray(storage="annlite", config={
            "n_dim": n_dim, "columns": [("price", "float")], "data_path": path}) as da:
        da.extend(data)
        q = np.ones(n_dim, dtype=np.float32)
        results = da.find(q, filter={"price": {"$lte": 7}}, limit=4)
        assert len(results) == 4 and all(p <= 7 for p in results[:, "tags__price"])
        cheap = [d for d in data if d.tags["price"] <= 7]
        exact = DocumentArray(cheap).find(q, limit=4)
        assert results[:, "id"] == exact[:, "id"]  # the same Documents, in the same order
        assert [d.id for d in da.find(filter={"$or": [{"price": {"$gt": 37}},
                                                      {"tags__shop": "z"}]})] == ["r38", "r39"]
        assert da[:, "tags__price"][:3] == [0, 1, 2]
        store = da._store
        assert store._choice.kind == "hnsw"  # AnnLite's defaults
        assert store._choice.params == {"M": 16, "ef_construction": 200, "ef": 50}
    assert os.path.isdir(path)
    again = DocumentArray(storage="annlite", config={"n_dim": n_dim, "data_path": path})
    assert len(again) == 40 and again["r5"].tags["price"] == 5
    assert again.find(data[9].embedding, limit=1)[0].id == "r9"
    again.close()


def test_annlite_parameters_map_to_the_hnsw_index(tmp_path):
    cfg = {"n_dim": 4, "metric": "euclidean", "data_path": str(tmp_path / "p"),
           "ef_construction": 64, "ef_search": 32, "max_connection": 8,
           "columns": {"price": "int"}, "serialize_config": {"protocol": "protobuf"},
           "list_like": True, "root_id": True}
    with DocumentArray(_docs(20, 4), storage="annlite", config=cfg) as da:
        choice = da._store._choice
        assert (choice.kind, choice.metric) == ("hnsw", "euclidean")
        assert choice.params == {"M": 8, "ef_construction": 64, "ef": 32}
        hit = da.find(da["r3"].embedding, limit=1)[0]
        assert hit.id == "r3" and hit.scores["euclidean"].value == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("config, match", [
    ({}, "needs config\\['n_dim'\\]"),
    ({"n_dim": 3, "colour": "red"}, "valid keys"),
    ({"n_dim": 3, "n_components": 2}, "PCA"),
    ({"n_dim": 3, "columns": [("price", "decimal")]}, "columns"),
    ({"n_dim": 3, "columns": "price"}, "columns"),
    ({"n_dim": 3, "metric": "manhattan"}, "metric"),
    ({"n_dim": 3, "max_connection": 1}, "M must be"),
])
def test_bad_annlite_config_is_refused_before_anything_is_created(tmp_path, config, match):
    path = tmp_path / "never"
    with pytest.raises(InvalidConfigError, match=match):
        DocumentArray(storage="annlite", config={**config, "data_path": str(path)})
    assert not path.exists()


def test_a_data_path_written_by_annlite_itself_is_not_opened_as_an_empty_array(tmp_path):
    """AnnLite 0.5 keeps RocksDB cells and an offset2ids.db under data_path."""
    (tmp_path / "ws" / "cell_0").mkdir(parents=True)
    (tmp_path / "ws" / "offset2ids.db").write_bytes(b"")
    with pytest.raises(InvalidConfigError, match="written by DocArray"):
        DocumentArray(storage="annlite", config={"n_dim": 3, "data_path": str(tmp_path / "ws")})
    assert sorted(os.listdir(tmp_path / "ws")) == ["cell_0", "offset2ids.db"]
