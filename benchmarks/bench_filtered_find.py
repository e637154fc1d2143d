"""Filtered vector search on an LMDB and a sqlite store: shoal ``da.find(q, filter=...)``
vs the bare libraries doing the same by hand, one query at a time (a service answering
requests).

For N Documents with a ``tags.g`` category (``--groups`` of them) and a 128-d embedding:

- bare lmdb: one LMDB read transaction scanning every record (JSON tags, as a store
  written with ``lmdb`` + ``json`` would hold them), the labels of those in the category,
  then hnswlib ``knn_query(filter=...)``; top-10 labels;
- bare sqlite3: ``SELECT label FROM docs WHERE json_extract(tags, '$.g') = ?`` over a
  table of JSON tags, then the same hnswlib filtered query;
- shoal, first time a filter is asked: ``da.find(q, limit=10, filter={'tags__g': ...})``
  returning Documents with scores (evaluates the filter over every Document, as the bare
  code does);
- shoal, the same filter again on the unchanged store: the rows that passed are kept for
  the store's snapshot (``shoal/docstore/filter_cache.py``; LMDB: the read transaction id;
  sqlite: ``PRAGMA data_version`` + the connection's own changes), so the filter is not
  evaluated again.

    python benchmarks/bench_filtered_find.py --n 100000
"""
from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table, write_results  # noqa: E402


def _timings(q: np.ndarray, groups: int, bare_find: Callable[[np.ndarray, int], Any],
             shoal_find: Callable[[np.ndarray, dict], Any]) -> tuple[float, float, float]:
    """Median ms of the bare find, shoal's first find of a filter and the same again,
    query by query (query i asks category i % groups), run in turn."""
    def timed(fn: Callable[..., Any], *a: Any) -> float:
        t = time.perf_counter()
        fn(*a)
        return (time.perf_counter() - t) * 1e3

    bare_ms, first_ms, again_ms = [], [], []
    for i, v in enumerate(q):
        g = i % groups
        flt = {"tags__g": {"$eq": g}}
        bare_ms.append(timed(bare_find, v, g))
        first_ms.append(timed(shoal_find, v, flt))
        again_ms.append(timed(shoal_find, v, flt))
    return tuple(statistics.median(m) for m in (bare_ms, first_ms, again_ms))  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="Documents (default 100,000)")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--groups", type=int, default=100, help="tag values (a filter keeps 1/groups)")
    ap.add_argument("--queries", type=int, default=50)
    args = ap.parse_args(argv)

    import hnswlib
    import lmdb

    from shoal import Document, DocumentArray

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.n, args.dim)).astype(np.float32)
    q = rng.standard_normal((args.queries, args.dim)).astype(np.float32)
    groups = np.arange(args.n) % args.groups
    root = tempfile.mkdtemp(prefix="shoal-bench-filter-")

    bare = hnswlib.Index(space="cosine", dim=args.dim)
    bare.init_index(max_elements=args.n, M=16, ef_construction=100)
    bare.add_items(x, np.arange(args.n))
    bare.set_ef(64)

    env = lmdb.open(f"{root}/bare", map_size=1 << 34)
    with env.begin(write=True) as txn:
        for i in range(args.n):
            txn.put(i.to_bytes(8, "big"), json.dumps({"id": str(i), "tags": {"g": int(groups[i])}}).encode())

    def bare_lmdb(v: np.ndarray, g: int) -> np.ndarray:
        allowed = set()
        with env.begin() as txn:
            for k, rec in txn.cursor():
                if json.loads(rec)["tags"]["g"] == g:
                    allowed.add(int.from_bytes(k, "big"))
        return bare.knn_query(v, k=10, filter=allowed.__contains__)[0]

    con = sqlite3.connect(f"{root}/bare.db")
    con.execute("CREATE TABLE docs (id TEXT PRIMARY KEY, label INTEGER, tags TEXT)")
    con.executemany("INSERT INTO docs VALUES (?, ?, ?)",
                    ((str(i), i, json.dumps({"g": int(groups[i])})) for i in range(args.n)))
    con.commit()

    def bare_sqlite(v: np.ndarray, g: int) -> np.ndarray:
        allowed = {r[0] for r in con.execute(
            "SELECT label FROM docs WHERE json_extract(tags, '$.g') = ?", (g,))}
        return bare.knn_query(v, k=10, filter=allowed.__contains__)[0]

    rows = []
    for storage, bare_find, where in (("lmdb", bare_lmdb, "lmdb scan + json"),
                                      ("sqlite", bare_sqlite, "sqlite3 json_extract query")):
        cfg = {"path": f"{root}/shoal"} if storage == "lmdb" else {"connection": f"{root}/shoal.db"}
        da = DocumentArray(storage=storage, config={
            **cfg, "n_dim": args.dim, "index": "hnsw",
            "index_params": {"M": 16, "ef_construction": 100}})
        da.extend(Document(id=str(i), tags={"g": int(groups[i])}, embedding=x[i]) for i in range(args.n))
        da.find(q[0], limit=1)  # builds the index
        b, f, a = _timings(q, args.groups, bare_find,
                           lambda v, flt, da=da: da.find(v, limit=10, filter=flt, ef=64))
        da.close()
        rows += [{"system": f"bare {where} + hnswlib filter (labels)", "median_ms": b, "vs_bare": 1.0},
                 {"system": f"shoal {storage} da.find, filter asked the first time (Documents)",
                  "median_ms": f, "vs_bare": b / f},
                 {"system": f"shoal {storage} da.find, same filter again, store unchanged (Documents)",
                  "median_ms": a, "vs_bare": b / a}]
    con.close()
    env.close()
    shutil.rmtree(root, ignore_errors=True)
    table = markdown_table(rows, ["system", "median_ms", "vs_bare"])
    print(table)
    params = {"n": args.n, "dim": args.dim, "groups": args.groups, "queries": args.queries,
              "M": 16, "ef_construction": 100, "ef": 64}
    print("wrote", write_results("bench_filtered_find", rows, table, params))
    return 0


if __name__ == "__main__":
    sys.exit(main())
