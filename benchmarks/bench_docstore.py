"""How much does shoal's store layer cost over the bare library it runs on?

For N Documents (short text, 3 tags, 128-d float32 embedding) serialized with shoal's own
codec, compare in one run:

- ``extend`` rate: ``DocumentArray(storage=sqlite|lmdb).extend`` vs bare
  ``sqlite3.executemany`` / LMDB ``putmulti`` of ``doc_to_bytes(doc)`` in the same batches
  (one transaction per batch, same durability settings);
- random ``da[id]`` reads of 10k ids vs the bare get + ``doc_from_bytes``;
- batched gets ``da[[100 ids]]`` (100 calls) vs the bare ``IN (...)`` / one-transaction gets
  + ``doc_from_bytes``, in the order asked;
- exact ``find`` over the vector column (no baseline: reported for scale);
- optionally DocArray 0.21's sqlite storage in another interpreter (``--docarray-python``,
  e.g. a venv made with ``python3 -m venv /tmp/davenv && /tmp/davenv/bin/pip install
  'docarray<0.30'``);
- ``--big N``: N Documents streamed into a store and searched exactly, with peak RSS.

Every get measurement (shoal, bare, DocArray) is the best of ``--repeat`` runs, each on a
freshly opened array, so a load spike of a shared machine does not decide a ratio.
PostgreSQL has its own script, bench_postgres.py.

Prints a Markdown table and writes JSON to benchmarks/results/bench_docstore.json.

    python benchmarks/bench_docstore.py --n 200000
    python benchmarks/bench_docstore.py --n 20000 --docarray-python /tmp/davenv/bin/python
    python benchmarks/bench_docstore.py --big 5000000 --storage lmdb
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from typing import Any, Iterator

import lmdb
import numpy as np

from shoal.document.array import DocumentArray
from shoal.document.codec import doc_from_bytes, doc_to_bytes
from shoal.document.document import Document

BATCH = 10_000
DIM = 128
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def make_docs(n: int, start: int = 0, seed: int = 0) -> Iterator[Document]:
    rng = np.random.default_rng(seed + start)
    colors = ("red", "green", "blue", "black")
    for s in range(start, start + n, BATCH):
        m = min(BATCH, start + n - s)
        emb = rng.random((m, DIM), dtype=np.float32)
        for j in range(m):
            i = s + j
            yield Document(id=f"doc-{i:09d}", text=f"short text number {i}",
                           tags={"price": i % 1000, "color": colors[i % 4], "in_stock": i % 3 == 0},
                           embedding=emb[j])


def best(repeat: int, fn: Any, *args: Any) -> float:
    """The shortest of ``repeat`` runs of ``fn(*args) -> seconds``: a load spike of the
    machine during one run does not decide the result."""
    return min(fn(*args) for _ in range(max(1, repeat)))


def batches(docs: list[Document]) -> Iterator[list[Document]]:
    for s in range(0, len(docs), BATCH):
        yield docs[s:s + BATCH]


# --- bare baselines -------------------------------------------------------------------------

def bare_sqlite_extend(path: str, docs: list[Document]) -> float:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE docs (id TEXT PRIMARY KEY, doc BLOB)")
    t0 = time.perf_counter()
    for b in batches(docs):
        con.execute("BEGIN IMMEDIATE")
        con.executemany("INSERT INTO docs VALUES (?, ?)", [(d.id, doc_to_bytes(d)) for d in b])
        con.execute("COMMIT")
    dt = time.perf_counter() - t0
    con.close()
    return dt


def bare_sqlite_get(path: str, ids: list[str]) -> float:
    con = sqlite3.connect(path, isolation_level=None)
    t0 = time.perf_counter()
    for i in ids:
        doc_from_bytes(con.execute("SELECT doc FROM docs WHERE id=?", (i,)).fetchone()[0])
    dt = time.perf_counter() - t0
    con.close()
    return dt


def bare_sqlite_get_batched(path: str, groups: list[list[str]]) -> float:
    con = sqlite3.connect(path, isolation_level=None)
    t0 = time.perf_counter()
    for g in groups:
        found = dict(con.execute(f"SELECT id, doc FROM docs WHERE id IN ({','.join('?' * len(g))})", g))
        [doc_from_bytes(found[i]) for i in g]
    dt = time.perf_counter() - t0
    con.close()
    return dt


def bare_lmdb_extend(path: str, docs: list[Document]) -> float:
    env = lmdb.open(path, map_size=1 << 36, max_dbs=4)
    db = env.open_db(b"docs")
    t0 = time.perf_counter()
    for b in batches(docs):
        with env.begin(write=True, db=db) as txn:
            txn.cursor().putmulti([(d.id.encode(), doc_to_bytes(d)) for d in b])
    dt = time.perf_counter() - t0
    env.close()
    return dt


def bare_lmdb_get(path: str, ids: list[str]) -> float:
    env = lmdb.open(path, map_size=1 << 36, max_dbs=4)
    db = env.open_db(b"docs")
    t0 = time.perf_counter()
    with env.begin(db=db) as txn:
        for i in ids:
            doc_from_bytes(txn.get(i.encode()))
    dt = time.perf_counter() - t0
    env.close()
    return dt


def bare_lmdb_get_batched(path: str, groups: list[list[str]]) -> float:
    env = lmdb.open(path, map_size=1 << 36, max_dbs=4)
    db = env.open_db(b"docs")
    t0 = time.perf_counter()
    for g in groups:
        with env.begin(db=db) as txn:
            [doc_from_bytes(txn.get(i.encode())) for i in g]
    dt = time.perf_counter() - t0
    env.close()
    return dt


# --- shoal ----------------------------------------------------------------------------------

def shoal_config(storage: str, root: str) -> dict[str, Any]:
    if storage == "sqlite":
        return {"connection": os.path.join(root, "shoal.db"), "table_name": "docs"}
    return {"path": os.path.join(root, "shoal-lmdb"), "name": "docs", "map_size": 1 << 30}


def shoal_extend(storage: str, cfg: dict, docs: list[Document]) -> float:
    da = DocumentArray(storage=storage, config=cfg)
    t0 = time.perf_counter()
    da.extend(docs, batch_size=BATCH)
    dt = time.perf_counter() - t0
    da.close()
    return dt


def shoal_get(storage: str, cfg: dict, keys: list) -> float:
    """Seconds for ``da[k]`` of every key (an id, or a list of ids: a batched get) on a
    freshly opened array."""
    da = DocumentArray(storage=storage, config=cfg)
    t0 = time.perf_counter()
    for k in keys:
        da[k]
    dt = time.perf_counter() - t0
    da.close()
    return dt


def shoal_find(storage: str, cfg: dict, n_queries: int = 10) -> float:
    da = DocumentArray(storage=storage, config=cfg)
    q = np.random.default_rng(7).random((n_queries, DIM), dtype=np.float32)
    da.find(q[:1], limit=10)  # warm the page cache
    t0 = time.perf_counter()
    da.find(q, limit=10)
    dt = time.perf_counter() - t0
    da.close()
    return dt / n_queries


# --- DocArray 0.21 in another interpreter ------------------------------------------------------

_DOCARRAY = r"""
import json, sys, time, random
import numpy as np
from docarray import Document, DocumentArray
n, path = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
colors = ("red", "green", "blue", "black")
docs = [Document(id=f"doc-{i:09d}", text=f"short text number {i}",
                 tags={"price": i % 1000, "color": colors[i % 4], "in_stock": i % 3 == 0},
                 embedding=rng.random(128, dtype=np.float32)) for i in range(n)]
da = DocumentArray(storage="sqlite", config={"connection": path, "table_name": "docs"})
t0 = time.perf_counter()
with da:
    for s in range(0, n, 10000):
        da.extend(docs[s:s + 10000])
ext = time.perf_counter() - t0
gets, repeat = int(sys.argv[3]), int(sys.argv[4])
ids = random.Random(1).sample([d.id for d in docs], min(gets, n))
rnd = random.Random(2)
groups = [rnd.sample([d.id for d in docs], min(100, n)) for _ in range(100)]

def timed(keys):
    da = DocumentArray(storage="sqlite", config={"connection": path, "table_name": "docs"})
    t0 = time.perf_counter()
    for k in keys:
        da[k]
    return time.perf_counter() - t0

get = min(timed(ids) for _ in range(repeat))
batched = min(timed(groups) for _ in range(repeat))
print(json.dumps({"extend_s": ext, "get_s": get, "n_get": len(ids), "batched_get_s": batched,
                  "n_batched_get": sum(len(g) for g in groups)}))
"""


def run_docarray(python: str, n: int, root: str, gets: int, repeat: int) -> dict[str, Any] | None:
    out = subprocess.run([python, "-c", _DOCARRAY, str(n), os.path.join(root, "docarray.db"),
                          str(gets), str(repeat)],
                         capture_output=True, text=True)
    if out.returncode:
        print(f"DocArray run failed: {out.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- bigger than RAM ---------------------------------------------------------------------------

def run_big(n: int, storage: str, root: str, block_size: int) -> dict[str, Any]:
    cfg = {**shoal_config(storage, root), "block_size": block_size, "track_fetched": 0}
    da = DocumentArray(storage=storage, config=cfg)
    t0 = time.perf_counter()
    for s in range(0, n, 100_000):
        da.extend(make_docs(min(100_000, n - s), start=s), batch_size=BATCH)
    ext = time.perf_counter() - t0
    rss_extend = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    q = np.random.default_rng(3).random((4, DIM), dtype=np.float32)
    t0 = time.perf_counter()
    res = da.find(q, limit=10)
    search = time.perf_counter() - t0
    assert all(len(r) == 10 for r in res)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    da.close()
    size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(root) for f in fs)
    return {"n": n, "storage": storage, "extend_s": ext, "extend_docs_per_s": n / ext,
            "search_4_queries_s": search, "peak_rss_mb_after_extend": rss_extend,
            "peak_rss_mb": rss, "disk_bytes": size, "block_size": block_size}


# --- main --------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--gets", type=int, default=10_000)
    ap.add_argument("--storage", choices=["sqlite", "lmdb", "both"], default="both")
    ap.add_argument("--docarray-python", default=None)
    ap.add_argument("--repeat", type=int, default=3,
                    help="get runs per system, each on a freshly opened array (the best is kept)")
    ap.add_argument("--big", type=int, default=0, help="stream N docs into one store, search, report RSS")
    ap.add_argument("--block-size", type=int, default=65536)
    ap.add_argument("--dir", default=None, help="where to put the stores (default: a temp dir)")
    args = ap.parse_args()
    os.makedirs(RESULTS, exist_ok=True)
    root = tempfile.mkdtemp(prefix="bench-docstore-", dir=args.dir)
    info = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "sqlite": sqlite3.sqlite_version, "lmdb": lmdb.version()}
    try:
        if args.big:
            storage = "lmdb" if args.storage == "lmdb" else "sqlite"
            r = run_big(args.big, storage, root, args.block_size)
            print("| mode | N | extend docs/s | 4 exact queries (s) | peak RSS (MB) | disk (GB) |")
            print("|---|---|---|---|---|---|")
            print(f"| big {storage} | {r['n']:,} | {r['extend_docs_per_s']:,.0f} | "
                  f"{r['search_4_queries_s']:.2f} | {r['peak_rss_mb']:,.0f} | {r['disk_bytes'] / 1e9:.2f} |")
            _write(f"bench_docstore_big_{storage}.json", {"info": info, "big": r})
            return
        docs = list(make_docs(args.n))
        ids = random.Random(1).sample([d.id for d in docs], min(args.gets, args.n))
        rnd = random.Random(2)
        groups = [rnd.sample([d.id for d in docs], min(100, args.n)) for _ in range(100)]
        n_batched = sum(len(g) for g in groups)
        rows = []
        storages = ["sqlite", "lmdb"] if args.storage == "both" else [args.storage]
        for storage in storages:
            sub = os.path.join(root, storage)
            os.makedirs(sub)
            bare_path = os.path.join(sub, "bare.db" if storage == "sqlite" else "bare-lmdb")
            cfg = shoal_config(storage, sub)
            if storage == "sqlite":
                bare_ext = bare_sqlite_extend(bare_path, docs)
                bare_get = best(args.repeat, bare_sqlite_get, bare_path, ids)
                bare_batched = best(args.repeat, bare_sqlite_get_batched, bare_path, groups)
            else:
                bare_ext = bare_lmdb_extend(bare_path, docs)
                bare_get = best(args.repeat, bare_lmdb_get, bare_path, ids)
                bare_batched = best(args.repeat, bare_lmdb_get_batched, bare_path, groups)
            ext = shoal_extend(storage, cfg, docs)
            get = best(args.repeat, shoal_get, storage, cfg, ids)
            batched = best(args.repeat, shoal_get, storage, cfg, groups)
            find = shoal_find(storage, cfg)
            rows.append({"storage": storage, "n": args.n,
                         "extend_docs_per_s": args.n / ext, "bare_extend_docs_per_s": args.n / bare_ext,
                         "extend_ratio": bare_ext / ext,
                         "get_docs_per_s": len(ids) / get, "bare_get_docs_per_s": len(ids) / bare_get,
                         "get_ratio": bare_get / get,
                         "batched_get_docs_per_s": n_batched / batched,
                         "bare_batched_get_docs_per_s": n_batched / bare_batched,
                         "batched_get_ratio": bare_batched / batched,
                         "exact_find_ms_per_query": find * 1000})
        da_res = run_docarray(args.docarray_python, args.n, root, args.gets,
                                args.repeat) if args.docarray_python else None
        print(f"N = {args.n:,} Documents (short text, 3 tags, {DIM}-d float32), batches of {BATCH:,}, "
              f"{len(ids):,} random gets by id, {len(groups)} batched gets of {len(groups[0])} ids\n")
        print("| storage | extend docs/s | bare docs/s | ratio (>=0.7) | get docs/s | bare get docs/s "
              "| ratio (>=0.7) | batched get docs/s | bare batched docs/s | ratio | exact find ms/query |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['storage']} | {r['extend_docs_per_s']:,.0f} | {r['bare_extend_docs_per_s']:,.0f} | "
                  f"{r['extend_ratio']:.2f}x | {r['get_docs_per_s']:,.0f} | {r['bare_get_docs_per_s']:,.0f} | "
                  f"{r['get_ratio']:.2f}x | {r['batched_get_docs_per_s']:,.0f} | "
                  f"{r['bare_batched_get_docs_per_s']:,.0f} | {r['batched_get_ratio']:.2f}x | "
                  f"{r['exact_find_ms_per_query']:.1f} |")
        out: dict[str, Any] = {"info": info, "rows": rows}
        if da_res:
            da_ext = args.n / da_res["extend_s"]
            da_get = da_res["n_get"] / da_res["get_s"]
            da_batched = da_res["n_batched_get"] / da_res["batched_get_s"]
            out["docarray"] = {**da_res, "extend_docs_per_s": da_ext, "get_docs_per_s": da_get,
                               "batched_get_docs_per_s": da_batched}
            print(f"\nDocArray 0.21 sqlite storage: extend {da_ext:,.0f} docs/s, get {da_get:,.0f} docs/s, "
                  f"batched get {da_batched:,.0f} docs/s")
            print("\n| shoal storage | extend vs DocArray (>=10x) | get by id vs DocArray (>=2x) "
                  "| batched get vs DocArray |")
            print("|---|---|---|---|")
            for r in rows:
                r["extend_vs_docarray"] = r["extend_docs_per_s"] / da_ext
                r["get_vs_docarray"] = r["get_docs_per_s"] / da_get
                r["batched_get_vs_docarray"] = r["batched_get_docs_per_s"] / da_batched
                print(f"| {r['storage']} | {r['extend_vs_docarray']:.1f}x | {r['get_vs_docarray']:.2f}x "
                      f"| {r['batched_get_vs_docarray']:.2f}x |")
        _write("bench_docstore.json", out)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _write(name: str, data: dict[str, Any]) -> None:
    path = os.path.join(RESULTS, name)
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
