"""Exact (brute-force) search: shoal's ``'exact'`` index and its search over a store's
memory-mapped vector column vs bare faiss ``IndexFlatIP`` and bare numpy, same vectors.

On the clustered set of ``bench_indexes.py`` (200k x 128 by default, 1,000 held-out
queries, cosine), one run measures:

- a batch of all queries, top-10: bare faiss ``IndexFlatIP`` over L2-normalized vectors
  (queries normalized inside the timing, as shoal does), bare numpy (``q @ x.T`` in blocks
  + ``argpartition``), shoal ``create_index('exact', ...).search`` (vectors in RAM) and
  shoal ``search_column`` streaming the store's vector column file in 65,536-row blocks
  read with ``pread`` (what ``da.find`` runs without an ANN index, before Documents are
  read; memory bounded by one block);
- single-query latency (median µs) of bare faiss ``search`` and shoal ``search``;
- that every system returns the same top-10 ids (recall@10 1.0 against each other).

Prints a Markdown table with each system's ratio to bare faiss and writes
``results/bench_exact.{json,md}``.

    python benchmarks/bench_exact.py            # ~1 minute on 2 cores
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import best_of, markdown_table, write_results  # noqa: E402
from bench_indexes import make_data, recall_at  # noqa: E402

K = 10


def numpy_topk(q: np.ndarray, xn: np.ndarray, k: int, block: int = 65536) -> np.ndarray:
    """Bare numpy cosine top-k: normalize the queries, one BLAS product per block of rows,
    ``argpartition`` per block and a merge of the block winners."""
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    best_s = np.full((q.shape[0], 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((q.shape[0], 0), dtype=np.int64)
    for start in range(0, xn.shape[0], block):
        s = qn @ xn[start:start + block].T
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        best_s = np.concatenate([best_s, np.take_along_axis(s, part, axis=1)], axis=1)
        best_i = np.concatenate([best_i, part + start], axis=1)
    order = np.argsort(-best_s, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(best_i, order, axis=1)


def median_us(fn: Callable[[np.ndarray], Any], items: list[np.ndarray]) -> float:
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        for v in items:
            fn(v)
        runs.append((time.perf_counter() - t) / len(items) * 1e6)
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=1000)
    args = ap.parse_args(argv)

    import faiss

    from shoal.docstore.column import VectorColumn, search_column
    from shoal.indexes import create_index

    x, q = make_data(args.n, args.dim, args.queries)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    flat = faiss.IndexFlatIP(args.dim)
    flat.add(xn)

    def bare_faiss(queries: np.ndarray) -> np.ndarray:
        qn = np.array(queries, dtype=np.float32)
        faiss.normalize_L2(qn)
        return flat.search(qn, K)[1]

    ours = create_index("exact", args.dim, "cosine")
    ours.add(np.arange(args.n), x)
    with tempfile.TemporaryDirectory() as tmp:
        col = VectorColumn(str(Path(tmp) / "docs.0.vec"), args.dim, 0)
        col.write(0, x)
        col.flush()
        col.set_rows(args.n)
        systems = [
            ("faiss IndexFlatIP (bare)", bare_faiss),
            ("numpy BLAS + argpartition (bare)", lambda qs: numpy_topk(qs, xn, K)),
            ("shoal 'exact' index (vectors in RAM)", lambda qs: ours.search(qs, K)[1]),
            ("shoal search_column (the store's column file, 65,536-row blocks)",
             lambda qs: search_column(col, qs, K, "cosine")[1]),
        ]
        truth = bare_faiss(q)
        rows = []
        for name, fn in systems:
            fn(q[:10])  # warm (pages of the column, BLAS threads)
            t = best_of(lambda fn=fn: fn(q), repeat=3)
            rows.append({"system": name, "qps": len(q) / t,
                         "recall@10_vs_faiss": recall_at(fn(q), truth)})
        base = rows[0]["qps"]
        for r in rows:
            r["qps_ratio"] = r["qps"] / base
        col.close()
    one = [np.ascontiguousarray(q[i:i + 1]) for i in range(200)]
    lat = [{"system": "faiss IndexFlatIP search (bare)", "median_us": median_us(bare_faiss, one)},
           {"system": "shoal 'exact' search", "median_us": median_us(lambda v: ours.search(v, K), one)}]
    lat[1]["overhead_us"] = lat[1]["median_us"] - lat[0]["median_us"]

    table = (f"## batch of {len(q):,} queries, top-{K}, cosine, {args.n:,} x {args.dim}\n\n"
             + markdown_table(rows, ["system", "qps", "qps_ratio", "recall@10_vs_faiss"])
             + "\n\n## single-query latency\n\n"
             + markdown_table(lat, ["system", "median_us", "overhead_us"]))
    print(table)
    params = {"n": args.n, "dim": args.dim, "queries": args.queries, "k": K, "metric": "cosine"}
    print("wrote", write_results("bench_exact", rows + lat, table, params))
    return 0


if __name__ == "__main__":
    sys.exit(main())
