"""LabelMap, the keyed readers-writer lock and crash-safe saves."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from shoal.errors import CorruptStoreError, StoreNotWritableError
from shoal.indexes.labels import LabelMap
from shoal.indexes.persist import LOCK_NAME, load_bundle, npy_writer, save_bundle
from shoal.indexes.rwlock import ANY, RWLock


def test_label_map():
    m = LabelMap()
    m.set(np.array([5, 1, 9]), np.array([0, 1, 2]))
    m.set(np.array([20, 30]), np.array([3, 4]))       # append fast path
    m.set(np.array([7, 1]), np.array([5, 6]))         # insert + overwrite
    assert m.get(np.array([1, 5, 7, 9, 20, 30, 4, 100])).tolist() == [6, 0, 5, 2, 3, 4, -1, -1]
    assert len(m) == 6
    assert m.delete(np.array([5, 4])).tolist() == [0, -1]
    assert len(m) == 5 and m.get(np.array([5])).tolist() == [-1]
    m.set(np.array([5]), np.array([8]))               # revive a tombstone
    assert len(m) == 6 and m.items()[0].tolist() == [1, 5, 7, 9, 20, 30]
    big = LabelMap.from_arrays(np.arange(5000), np.arange(5000))
    big.delete(np.arange(4000))                        # triggers compaction
    assert len(big) == 1000 and big.get(np.array([4500, 10])).tolist() == [4500, -1]


def test_label_map_from_arrays_ascending_and_not():
    labels, values = np.array([2, 5, 9, 40]), np.array([3, 0, 1, 2])
    kept = LabelMap.from_arrays(labels, values)                # ascending: taken as is, copied
    labels[0] = 99
    assert kept.get(np.array([2, 5, 9, 40, 7])).tolist() == [3, 0, 1, 2, -1]
    adopted = LabelMap.from_arrays(np.arange(3), np.array([7, 8, 9]), copy=False)
    adopted.set(np.array([10]), np.array([1]))                 # grows past the adopted arrays
    assert adopted.get(np.array([0, 2, 10])).tolist() == [7, 9, 1] and len(adopted) == 4
    mixed = LabelMap.from_arrays(np.array([9, 2, 5]), np.array([0, 1, 2]))  # sorted on the way in
    assert mixed.items()[0].tolist() == [2, 5, 9] and mixed.get(np.array([9])).tolist() == [0]
    assert len(LabelMap.from_arrays(np.empty(0, np.int64), np.empty(0, np.int64))) == 0


def test_rwlock_readers_share_writers_exclude():
    lock = RWLock()
    inside = [0]
    guard = threading.Lock()
    all_in = threading.Barrier(5, timeout=10)   # 4 readers + this thread
    seen_by_writer: list[int] = []

    def reader(key):
        with lock.read(key):
            with guard:
                inside[0] += 1
            all_in.wait()                          # all 4 hold the read lock at once
            time.sleep(0.01)
            with guard:
                inside[0] -= 1

    def writer():
        with lock.write():
            seen_by_writer.append(inside[0])

    readers = [threading.Thread(target=reader, args=(k,)) for k in (1, 1, ANY, 1)]
    for t in readers:
        t.start()
    all_in.wait()
    w = threading.Thread(target=writer)
    w.start()
    for t in [*readers, w]:
        t.join()
    assert seen_by_writer == [0]               # the writer ran alone, after the readers


def test_rwlock_keys_do_not_mix():
    lock = RWLock()
    active: list[int] = []
    mixed = []

    def reader(key):
        for _ in range(5):
            with lock.read(key):
                active.append(key)
                if len(set(active)) > 1:
                    mixed.append(tuple(active))
                time.sleep(0.002)
                active.remove(key)

    threads = [threading.Thread(target=reader, args=(k,)) for k in (1, 2, 1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not mixed


def test_save_bundle_is_atomic_on_writer_failure(tmp_path):
    save_bundle(tmp_path, {"backend": "x", "count": 1}, {"a": (".npy", npy_writer(np.arange(3)))})
    meta, files = load_bundle(tmp_path)

    def boom(path):
        path.write_bytes(b"partial")
        raise OSError("disk full")

    with pytest.raises(StoreNotWritableError):
        save_bundle(tmp_path, {"backend": "x", "count": 2}, {"a": (".npy", boom)})
    meta2, files2 = load_bundle(tmp_path)     # the old index is intact
    assert meta2["count"] == 1 and files2 == files
    assert not list(tmp_path.glob("*.tmp"))
    (tmp_path / "meta.json").unlink()
    with pytest.raises(CorruptStoreError):
        load_bundle(tmp_path)


def test_save_bundle_removes_files_a_crash_or_a_corrupt_meta_left(tmp_path):
    writers = {"a": (".npy", npy_writer(np.arange(3)))}
    save_bundle(tmp_path, {"backend": "x", "count": 1}, writers)
    crashed = tmp_path / "a-0123456789ab.npy"   # renamed in, then killed before the meta swap
    crashed.write_bytes(b"x" * 100)
    save_bundle(tmp_path, {"backend": "x", "count": 2}, writers)
    assert not crashed.exists()
    (tmp_path / "meta.json").write_text("{not json")  # corrupt: its files are not named
    save_bundle(tmp_path, {"backend": "x", "count": 3}, writers)
    meta, files = load_bundle(tmp_path)
    assert meta["count"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["meta.json", LOCK_NAME, files["a"].name])
    mine = tmp_path / "a-notageneration.npy"      # not a save's name: a user's file, kept
    mine.write_bytes(b"y")
    save_bundle(tmp_path, {"backend": "x", "count": 4}, writers)
    assert mine.exists()


def test_save_bundle_waits_for_a_save_of_another_process(tmp_path):
    """Another process's save holds the directory's lock (flock: a second open file
    description conflicts like another process would); this save waits for it, so neither
    removes the files of the other as orphans."""
    import fcntl
    import os
    writers = {"a": (".npy", npy_writer(np.arange(3)))}
    save_bundle(tmp_path, {"backend": "x", "count": 1}, writers)
    fd = os.open(tmp_path / LOCK_NAME, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    in_progress = tmp_path / "a-fedcba987654.npy"  # the other save's file, not yet in meta
    in_progress.write_bytes(b"z")
    done = threading.Event()

    def save():
        save_bundle(tmp_path, {"backend": "x", "count": 2}, writers)
        done.set()

    t = threading.Thread(target=save, daemon=True)
    t.start()
    try:
        assert not done.wait(0.5), "the save did not wait for the lock"
        assert in_progress.exists()
    finally:
        os.close(fd)
    t.join(20)
    assert done.is_set() and load_bundle(tmp_path)[0]["count"] == 2


def test_save_bundle_where_flock_is_not_supported(tmp_path, monkeypatch):
    import errno
    import fcntl

    def no_flock(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    save_bundle(tmp_path, {"backend": "x", "count": 1}, {"a": (".npy", npy_writer(np.arange(3)))})
    assert load_bundle(tmp_path)[0]["count"] == 1


def test_import_is_light():
    """Importing shoal.indexes must not import hnswlib or faiss (only building an index does)."""
    import subprocess
    import sys
    code = ("import sys, shoal.indexes; "
            "print(','.join(m for m in ('faiss', 'hnswlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
