"""The vector column on its own: append-only rows, reads, and blocked exact search."""
from __future__ import annotations

import os

import numpy as np
import pytest

from shoal.docstore.column import VectorColumn, search_column
from shoal.errors import CorruptStoreError, DimensionMismatchError
from shoal.document.distance import knn


def test_write_read_take_and_reopen(tmp_path):
    path = str(tmp_path / "c.vec")
    col = VectorColumn(path, None, 0)
    m = np.arange(40, dtype=np.float32).reshape(10, 4)
    col.write(0, m)
    col.flush()
    col.set_rows(10)
    assert col.dim == 4 and np.array_equal(col.matrix(), m)
    assert np.array_equal(col.read(2, 5), m[2:5])
    assert np.array_equal(col.take(np.array([7, 1])), m[[7, 1]])
    assert np.array_equal(col.row(3), m[3])
    col.release(0, 10)  # pages dropped from the map, data still readable
    assert np.array_equal(col.matrix()[9], m[9])
    with pytest.raises(DimensionMismatchError):
        col.write(10, np.zeros((1, 5), np.float32))
    col.close()
    again = VectorColumn(path, 4, 10)
    assert np.array_equal(again.take(np.arange(10)), m)
    again.close()
    with pytest.raises(CorruptStoreError):
        VectorColumn(path, 4, 11)


def test_append_past_committed_rows_cuts_leftovers(tmp_path):
    path = str(tmp_path / "c.vec")
    col = VectorColumn(path, 2, 0)
    col.write(0, np.ones((3, 2), np.float32))
    col.set_rows(2)  # the third row never committed
    col.write(2, np.full((1, 2), 7, np.float32))
    assert os.path.getsize(path) == 3 * 8
    col.set_rows(3)
    assert np.array_equal(col.matrix()[2], [7, 7])
    col.close()


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "inner_product"])
def test_search_column_matches_brute_force(tmp_path, metric):
    rng = np.random.default_rng(0)
    data = rng.random((1000, 8), dtype=np.float32)
    col = VectorColumn(str(tmp_path / "c.vec"), 8, 0)
    col.write(0, data)
    col.set_rows(1000)
    q = rng.random((3, 8), dtype=np.float32)
    s, lab = search_column(col, q, 5, metric, block_size=64)
    ws, wl = knn(q, data, 5, metric)
    assert np.array_equal(lab, wl) and np.allclose(s, ws, atol=1e-5)
    dead = np.arange(0, 1000, 2, dtype=np.int64)
    s, lab = search_column(col, q, 5, metric, dead=dead, block_size=64)
    odd = np.arange(1, 1000, 2)
    ws, wl = knn(q, data[odd], 5, metric)
    assert np.array_equal(lab, odd[wl])
    allowed = np.array([3, 10, 999], dtype=np.int64)
    s, lab = search_column(col, q, 5, metric, labels=allowed, block_size=2)
    assert set(lab[0][:3]) == {3, 10, 999} and (lab[:, 3:] == -1).all()
    col.close()


def test_take_on_a_big_column_reads_with_pread_not_the_map(tmp_path, monkeypatch):
    from shoal.docstore import column

    data = np.random.default_rng(0).random((1000, 8), dtype=np.float32)
    col = column.VectorColumn(str(tmp_path / "v.vec"), None, 0)
    col.write(0, data)
    col.flush()
    col.set_rows(1000)
    assert col.mappable
    monkeypatch.setattr(column, "MAP_BYTES", 1000 * 32 - 1)
    assert not col.mappable

    def mapped():
        raise AssertionError("read through the memory map")

    monkeypatch.setattr(col, "matrix", mapped)
    rng = np.random.default_rng(1)
    cases = [np.arange(1000), np.arange(100, 300), np.arange(0, 1000, 2)[::-1],  # dense runs
             np.sort(rng.choice(1000, 50, replace=False)), rng.integers(0, 1000, 40),  # scattered
             np.array([5, 6, 7, 900, 5, 901, 999, 0]), np.array([42]),  # a few: row by row
             rng.integers(0, 1000, 20)]
    for labels in cases:
        assert np.array_equal(col.take(labels), data[labels])
    assert np.array_equal(col.row(17), data[17])
    assert col.take(np.empty(0, np.int64)).shape == (0, 8)
    for bad in ([3, 1000], [-1, 4], list(range(40)) + [1000]):
        with pytest.raises(IndexError):
            col.take(np.array(bad))
    col.close()
