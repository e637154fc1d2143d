"""Foundation numbers, measured side by side with the raw library in one run.

1. ``da.match`` (cosine and euclidean, limit 10) vs bare faiss IndexFlatIP / IndexFlatL2
   on the same float32 arrays (target: >= 0.8x faiss throughput).
2. Building a DocumentArray of N Documents vs a plain list of them (target <= 1.5x).
3. ``to_bytes`` / ``from_bytes`` of Documents with a 128-d embedding and a short text
   (target >= 200 MB/s each way).

Run: ``python benchmarks/bench_core.py`` (the issue's sizes: 20k x 200k x 128 and 1M docs)
or ``--queries 2000 --docs 50000 --build 200000 --codec 20000`` for a quick look.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import best_of, markdown_table, write_results  # noqa: E402

from shoal import Document, DocumentArray  # noqa: E402


def clustered(n: int, dim: int, seed: int, centers: int = 100) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centers, dim)).astype(np.float32) * 4
    return (c[rng.integers(0, centers, n)] + rng.standard_normal((n, dim)).astype(np.float32))


def bench_match(n_queries: int, n_docs: int, dim: int, batch_size: int) -> list[dict]:
    import faiss

    data, queries = clustered(n_docs, dim, 0), clustered(n_queries, dim, 1)
    index_da = DocumentArray([Document(id=str(i)) for i in range(n_docs)])
    index_da.embeddings = data
    query_da = DocumentArray([Document() for _ in range(n_queries)])
    query_da.embeddings = queries
    rows = []
    for metric, cls in (("cosine", faiss.IndexFlatIP), ("euclidean", faiss.IndexFlatL2)):
        def bare(metric=metric, cls=cls):
            xb, xq = data, queries
            if metric == "cosine":
                xb, xq = data.copy(), queries.copy()
                faiss.normalize_L2(xb)
                faiss.normalize_L2(xq)
            idx = cls(dim)
            idx.add(xb)
            for start in range(0, n_queries, batch_size):
                idx.search(xq[start:start + batch_size], 10)

        def ours(metric=metric):
            query_da.match(index_da, metric=metric, limit=10, batch_size=batch_size)

        t_bare, t_ours = best_of(bare, 1), best_of(ours, 1)
        rows.append({"case": f"match {metric} {n_queries}x{n_docs}x{dim} k=10",
                     "bare": f"faiss {cls.__name__}", "bare_s": t_bare, "shoal_s": t_ours,
                     "shoal/bare throughput": t_bare / t_ours, "target": ">= 0.8"})
    return rows


def bench_build(n: int) -> list[dict]:
    texts = [f"doc {i}" for i in range(n)]

    def plain():
        return [Document(text=t) for t in texts]

    def ours():
        return DocumentArray(Document(text=t) for t in texts)

    t_plain, t_ours = best_of(plain, 3), best_of(ours, 3)
    prebuilt = plain()
    t_list = best_of(lambda: list(prebuilt), 3)
    t_wrap = best_of(lambda: DocumentArray(prebuilt), 3)
    return [
        {"case": f"build {n:,} Documents (construction included)", "bare": "list",
         "bare_s": t_plain, "shoal_s": t_ours, "shoal/bare cost": t_ours / t_plain,
         "target": "<= 1.5"},
        {"case": f"wrap {n:,} prebuilt Documents", "bare": "list(docs)", "bare_s": t_list,
         "shoal_s": t_wrap, "shoal/bare cost": t_wrap / t_list, "target": "(info)"},
    ]


def bench_codec(n: int, dim: int) -> list[dict]:
    rng = np.random.default_rng(0)
    emb = rng.random((n, dim), dtype=np.float32)
    da = DocumentArray([Document(text=f"short text number {i}", embedding=emb[i]) for i in range(n)])
    data = da.to_bytes()
    mb = len(data) / 1e6
    t_enc = best_of(da.to_bytes, 3)
    t_dec = best_of(lambda: DocumentArray.from_bytes(data), 3)
    raw = emb.tobytes()
    t_raw = best_of(lambda: np.frombuffer(raw, dtype=np.float32).copy(), 3)
    return [
        {"case": f"to_bytes {n:,} docs ({mb:.1f} MB)", "bare": "memcpy of the vectors",
         "bare_s": t_raw, "shoal_s": t_enc, "MB/s": mb / t_enc, "target": ">= 200 MB/s"},
        {"case": f"from_bytes {n:,} docs ({mb:.1f} MB)", "bare": "memcpy of the vectors",
         "bare_s": t_raw, "shoal_s": t_dec, "MB/s": mb / t_dec, "target": ">= 200 MB/s"},
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=20_000)
    ap.add_argument("--docs", type=int, default=200_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=4096, help="queries scored per block")
    ap.add_argument("--build", type=int, default=1_000_000, help="Documents for the build test")
    ap.add_argument("--codec", type=int, default=100_000, help="Documents for the codec test")
    args = ap.parse_args()
    started = time.time()
    rows = bench_build(args.build) + bench_codec(args.codec, args.dim)
    rows += bench_match(args.queries, args.docs, args.dim, args.batch_size)
    cols = ["case", "bare", "bare_s", "shoal_s", "shoal/bare throughput", "shoal/bare cost",
            "MB/s", "target"]
    table = markdown_table(rows, cols)
    print(table)
    path = write_results("bench_core", rows, table, vars(args))
    print(f"\n{time.time() - started:.0f} s; results in {path}")


if __name__ == "__main__":
    main()
