"""Disk stores under real processes: kill -9 during extend, one writer + readers, two writers."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from shoal.document.array import DocumentArray
from shoal.document.document import Document
from shoal.errors import StoreError, StoreLockedError

pytestmark = pytest.mark.timeout(120)
BATCH = 300


def _config(storage: str, tmp_path, **extra) -> dict:
    if storage == "sqlite":
        return {"connection": str(tmp_path / "store.db"), "table_name": "docs", **extra}
    return {"path": str(tmp_path / "lmdb"), "name": "docs", "map_size": 1 << 20, **extra}


def _spawn(body: str, *args: str) -> subprocess.Popen:
    code = textwrap.dedent("""
        import json, sys, time
        import numpy as np
        from shoal.document.array import DocumentArray
        from shoal.document.document import Document
        def batch(b, n):
            return [Document(id=f"b{b}-{i}", text=f"batch {b} doc {i}", tags={"b": b},
                             embedding=np.full(8, b, dtype=np.float32)) for i in range(n)]
    """) + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=os.getcwd())


WRITER = """
    storage, cfg = sys.argv[1], json.loads(sys.argv[2])
    da = DocumentArray(storage=storage, config=cfg)
    start = len(da) // BATCH
    for b in range(start, start + 100000):
        da.extend(batch(b, BATCH))
        print(b, flush=True)
""".replace("BATCH", str(BATCH))


@pytest.mark.parametrize("storage", ["sqlite", "lmdb"])
@pytest.mark.parametrize("kill_after", [1, 4, 9])
def test_kill_9_during_extend_loses_no_returned_batch(storage, kill_after, tmp_path):
    cfg = _config(storage, tmp_path)
    reported: list[int] = []
    for round_ in range(2):  # kill twice, so the second run also starts from a crashed store
        proc = _spawn(WRITER, storage, json.dumps(cfg))
        while True:
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"writer died: {proc.stderr.read()}")
            reported.append(int(line))
            if len(reported) >= kill_after * (round_ + 1):
                break
        time.sleep(0.003 * kill_after)  # land somewhere inside a later extend
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    with DocumentArray(storage=storage, config=cfg) as da:
        n = len(da)
        assert n % BATCH == 0, "a batch was half written"
        batches = sorted({int(d.id.split("-")[0][1:]) for d in da})
        assert set(reported) <= set(batches)
        assert batches == list(range(len(batches)))
        for b in (reported[0], reported[-1]):
            got = da[[f"b{b}-{i}" for i in range(BATCH)]]
            assert got.texts[-1] == f"batch {b} doc {BATCH - 1}"
        emb = da.embeddings
        assert emb.shape == (n, 8)
        assert np.array_equal(emb[:, 0], np.repeat(np.arange(n // BATCH), BATCH))
        res = da.find(np.full(8, reported[-1], np.float32), limit=3, metric="euclidean")
        assert all(d.tags["b"] == reported[-1] for d in res)


READER = """
    storage, cfg, target = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    da = DocumentArray(storage=storage, config=cfg)
    seen = []
    print("ready", len(da), flush=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        n = len(da)
        if n % BATCH:
            print("PARTIAL", n, flush=True); sys.exit(1)
        if n and da[n - 1].text != f"batch {n // BATCH - 1} doc {BATCH - 1}":
            print("BAD", n, da[n - 1].text, flush=True); sys.exit(1)
        if not seen or seen[-1] != n:
            seen.append(n)
        if n >= target:
            break
        time.sleep(0.01)
    print(json.dumps(seen), flush=True)
""".replace("BATCH", str(BATCH))


@pytest.mark.parametrize("storage", ["sqlite", "lmdb"])
def test_one_writer_and_readers_see_commits_without_reopening(storage, tmp_path):
    cfg = _config(storage, tmp_path)
    DocumentArray(storage=storage, config=cfg).close()  # create it
    target = 12 * BATCH
    readers = [_spawn(READER, storage, json.dumps(cfg), str(target)) for _ in range(3)]
    for r in readers:  # every reader has the store open and has seen it empty
        assert r.stdout.readline().split() == ["ready", "0"], r.stderr.read()
    with DocumentArray(storage=storage, config=cfg) as da:
        from shoal.document.document import Document
        for b in range(12):
            da.extend([Document(id=f"b{b}-{i}", text=f"batch {b} doc {i}",
                                embedding=np.full(8, b, dtype=np.float32)) for i in range(BATCH)])
            time.sleep(0.1)  # readers poll every 10 ms: each commit is seen on its own
    for r in readers:
        out, err = r.communicate(timeout=90)
        assert r.returncode == 0, out + err
        seen = json.loads(out.strip().splitlines()[-1])
        assert seen[-1] == target and len(seen) > 2  # saw intermediate commits


HOLDER = """
    storage, cfg = sys.argv[1], json.loads(sys.argv[2])
    da = DocumentArray(storage=storage, config=cfg)
    with da._store.atomic():
        da.extend(batch(0, 10))
        print("locked", flush=True)
        time.sleep(3)
    print("released", flush=True)
"""


@pytest.mark.parametrize("storage", ["sqlite", "lmdb"])
def test_second_writer_times_out_with_a_clear_error_then_succeeds(storage, tmp_path):
    cfg = _config(storage, tmp_path)
    # opened before the other writer starts (an LMDB handle's first open needs the writer lock)
    da = DocumentArray(storage=storage, config={**cfg, "timeout": 0.3})
    holder = _spawn(HOLDER, storage, json.dumps(cfg))
    assert holder.stdout.readline().strip() == "locked", holder.stderr.read()
    from shoal.document.document import Document
    assert len(da) == 0  # readers are not blocked by the writer
    with pytest.raises(StoreLockedError, match="timeout"):
        da.extend([Document(id="second")])
    assert holder.stdout.readline().strip() == "released"
    holder.wait(timeout=30)
    da.extend([Document(id="second")])
    assert len(da) == 11 and "second" in da
    da.close()
    holder.stdout.close()
    holder.stderr.close()


TWO_WRITERS = """
    storage, cfg, who, start = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    da = DocumentArray(storage=storage, config=cfg)
    time.sleep(max(0.0, start - time.time()))  # both writers start together
    for b in range(who * 100, who * 100 + 8):
        da.extend(batch(b, BATCH))
    da.close()
    print("done", flush=True)
""".replace("BATCH", str(BATCH))


@pytest.mark.parametrize("storage", ["sqlite", "lmdb"])
def test_two_concurrent_writers_both_commit_safely(storage, tmp_path):
    cfg = _config(storage, tmp_path)
    DocumentArray(storage=storage, config=cfg).close()
    start = str(time.time() + 2.0)
    procs = [_spawn(TWO_WRITERS, storage, json.dumps(cfg), str(w), start) for w in (1, 2)]
    for p in procs:
        out, err = p.communicate(timeout=90)
        assert p.returncode == 0 and "done" in out, err
    with DocumentArray(storage=storage, config=cfg) as da:
        assert len(da) == 16 * BATCH
        ids = [d.id for d in da]
        assert len(set(ids)) == len(ids)
        assert [da.index(i) for i in ids[::997]] == list(range(0, len(ids), 997))
        emb = da.embeddings
        assert np.array_equal(emb[:, 0], [int(i.split("-")[0][1:]) for i in ids])


def test_lmdb_vacuum_is_refused_while_another_process_has_the_store_open(tmp_path):
    """vacuum() replaces data.mdb: under another process' open environment it would lose
    the store (was: every Document gone at the next open). It is refused, with nothing
    changed, and runs once the other process has closed."""
    cfg = _config("lmdb", tmp_path)
    da = DocumentArray(storage="lmdb", config=cfg)
    da.extend(Document(id=f"d{i}", text=f"doc {i}") for i in range(10))
    del da["d0"]
    other = _spawn("""
        da = DocumentArray(storage="lmdb", config=json.loads(sys.argv[1]))
        print(len(da), flush=True)
        time.sleep(60)  # holds the store open until killed
    """, json.dumps(cfg))
    try:
        assert other.stdout.readline().strip() == "9"
        with pytest.raises(StoreError, match="another process has the LMDB store"):
            da.vacuum()
        assert len(da) == 9 and da[0].id == "d1"
    finally:
        other.kill()
        other.wait()
    da.vacuum()
    da.close()
    again = DocumentArray(storage="lmdb", config=cfg)
    assert len(again) == 9 and again[:, "id"] == [f"d{i}" for i in range(1, 10)]
    again.close()


def _forked_writer(cfg: dict, i: int) -> None:
    da = DocumentArray(storage="lmdb", config=cfg)
    da.extend(Document(id=f"c{i}-{j}") for j in range(10))
    da.close()


def test_forked_children_open_an_lmdb_store_the_parent_keeps_open(tmp_path):
    """multiprocessing's 'fork' with the parent's array open (as `with da:` leaves it):
    was 'already open in this process' in every child, and their writes lost."""
    import multiprocessing

    cfg = _config("lmdb", tmp_path)
    da = DocumentArray(storage="lmdb", config=cfg)
    with da:
        da.append(Document(id="a"))
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_forked_writer, args=(cfg, i)) for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert len(da) == 31
    da.append(Document(id="z"))  # the parent's handle is untouched by the children
    da.close()
    again = DocumentArray(storage="lmdb", config=cfg)
    assert len(again) == 32
    again.close()
