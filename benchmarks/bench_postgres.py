"""How much does shoal's PostgreSQL store cost over bare psycopg on the same server?

Starts a throwaway local server the way the tests do (``shoal.docstore.pg_testing``:
initdb into a temp dir, loopback only, fsync off, stopped afterwards) and, for N
Documents (short text, 3 tags, 128-d float32 embedding, as in bench_docstore.py),
compares in one run:

- ``extend`` in batches of 10k (one transaction each): ``DocumentArray(storage='postgres')
  .extend`` vs bare psycopg ``COPY`` and ``executemany`` of ``(id, doc_to_bytes(doc))``
  into ``(id TEXT PRIMARY KEY, doc BYTEA)``;
- get by id: random ``da[id]`` vs ``SELECT doc ... WHERE id = %s`` + ``doc_from_bytes``; and
  batched ``da[[ids]]`` (100 ids a call) vs ``WHERE id = ANY(%s)`` + decode, in the order asked;
- exact ``find`` (a batch of queries, top 10 Documents each) vs bare: read every vector of a
  ``(label, id, vec BYTEA)`` table, numpy cosine top-k, then ``WHERE id = ANY(%s)`` + decode
  of the Documents found (that table is loaded outside the timed part).

Prints a Markdown table and writes benchmarks/results/bench_docstore_postgres.{json,md}.

    python benchmarks/bench_postgres.py --n 100000
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from typing import Any, Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_docstore import (BATCH, DIM, RESULTS, batches, best, make_docs,  # noqa: E402
                            shoal_extend, shoal_get)

from shoal.docstore.pg_testing import LocalPostgres, find_bin  # noqa: E402
from shoal.document.array import DocumentArray  # noqa: E402
from shoal.document.codec import doc_from_bytes, doc_to_bytes  # noqa: E402
from shoal.document.document import Document  # noqa: E402

K = 10


def timed(fn: Callable[..., Any], *args: Any) -> float:
    """Seconds of one ``fn(*args)``."""
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


# --- bare psycopg --------------------------------------------------------------------------

def bare_table(conn: Any, name: str) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute(f"CREATE TABLE {name} (id TEXT PRIMARY KEY, doc BYTEA)")


def bare_copy(conn: Any, docs: list[Document]) -> float:
    bare_table(conn, "bare_copy")
    t0 = time.perf_counter()
    for b in batches(docs):
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy("COPY bare_copy (id, doc) FROM STDIN") as cp:
                for d in b:
                    cp.write_row((d.id, doc_to_bytes(d)))
    return time.perf_counter() - t0


def bare_executemany(conn: Any, docs: list[Document]) -> float:
    bare_table(conn, "bare_many")
    t0 = time.perf_counter()
    for b in batches(docs):
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany("INSERT INTO bare_many (id, doc) VALUES (%s, %s)",
                            [(d.id, doc_to_bytes(d)) for d in b])
    return time.perf_counter() - t0


def bare_get(conn: Any, ids: list[str]) -> float:
    cur = conn.cursor()
    t0 = time.perf_counter()
    for i in ids:
        doc_from_bytes(cur.execute("SELECT doc FROM bare_copy WHERE id = %s", (i,)).fetchone()[0])
    return time.perf_counter() - t0


def bare_get_batched(conn: Any, groups: list[list[str]]) -> float:
    cur = conn.cursor()
    t0 = time.perf_counter()
    for g in groups:
        found = dict(cur.execute("SELECT id, doc FROM bare_copy WHERE id = ANY(%s)", (g,)).fetchall())
        [doc_from_bytes(found[i]) for i in g]
    return time.perf_counter() - t0


def bare_vectors(conn: Any, docs: list[Document]) -> None:
    conn.execute("DROP TABLE IF EXISTS bare_vec")
    conn.execute("CREATE TABLE bare_vec (label BIGINT PRIMARY KEY, id TEXT, vec BYTEA)")
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy("COPY bare_vec (label, id, vec) FROM STDIN") as cp:
            for i, d in enumerate(docs):
                cp.write_row((i, d.id, np.asarray(d.embedding, np.float32).tobytes()))


def bare_find(conn: Any, q: np.ndarray, n: int, block: int = 65536) -> list[list[Document]]:
    """Exact cosine top-K over every stored vector (read in label blocks), then the Documents."""
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    best_s = np.full((len(q), 0), -np.inf, np.float32)
    best_ids = np.empty((len(q), 0), dtype=object)
    cur = conn.cursor()
    for start in range(0, n, block):
        rows = cur.execute("SELECT id, vec FROM bare_vec WHERE label >= %s AND label < %s ORDER BY label",
                           (start, start + block)).fetchall()
        m = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), DIM)
        s = qn @ (m / np.linalg.norm(m, axis=1, keepdims=True)).T
        top = np.argpartition(-s, K, axis=1)[:, :K]
        ids = np.array([r[0] for r in rows], dtype=object)
        best_s = np.concatenate([best_s, np.take_along_axis(s, top, 1)], axis=1)
        best_ids = np.concatenate([best_ids, ids[top]], axis=1)
    order = np.argsort(-best_s, axis=1)[:, :K]
    found = np.take_along_axis(best_ids, order, 1)
    scores = np.take_along_axis(best_s, order, 1)
    want = sorted(set(found.ravel().tolist()))
    docs = dict(cur.execute("SELECT id, doc FROM bare_copy WHERE id = ANY(%s)", (want,)).fetchall())
    out = []
    for row_ids, row_s in zip(found.tolist(), scores.tolist()):
        matches = []
        for i, s in zip(row_ids, row_s):
            d = doc_from_bytes(docs[i])
            d.scores["cosine"].value = 1 - s
            matches.append(d)
        out.append(matches)
    return out


# --- main ----------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--gets", type=int, default=5_000, help="random single gets by id")
    ap.add_argument("--batch-gets", type=int, default=100, help="batched gets of 100 ids each")
    ap.add_argument("--queries", type=int, default=100, help="queries in the find batch")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each get / find measurement (the best is kept; gets on a freshly "
                    "opened array each time)")
    args = ap.parse_args()
    for name in ("initdb", "pg_ctl"):
        if find_bin(name) is None:
            sys.exit(f"{name} not found: install Debian's postgresql package")
    import psycopg

    server = LocalPostgres(database="shoal_bench").start()
    try:
        url = server.url
        conn = psycopg.connect(f"postgresql://shoal@127.0.0.1:{server.port}/shoal_bench",
                               autocommit=True)
        version = conn.execute("SHOW server_version").fetchone()[0]
        docs = list(make_docs(args.n))
        rnd = random.Random(1)
        all_ids = [d.id for d in docs]
        ids = rnd.sample(all_ids, min(args.gets, args.n))
        groups = [rnd.sample(all_ids, 100) for _ in range(args.batch_gets)]
        q = np.random.default_rng(7).random((args.queries, DIM), dtype=np.float32)
        cfg = {"connection": url, "table_name": "docs", "track_fetched": 50_000}

        t_copy = bare_copy(conn, docs)
        t_many = bare_executemany(conn, docs)
        conn.execute("DROP TABLE bare_many")
        t_ext = shoal_extend("postgres", cfg, docs)
        conn.execute("VACUUM ANALYZE")
        t_bget = best(args.repeat, bare_get, conn, ids)
        t_get = best(args.repeat, shoal_get, "postgres", cfg, ids)
        t_bbatch = best(args.repeat, bare_get_batched, conn, groups)
        t_batch = best(args.repeat, shoal_get, "postgres", cfg, groups)

        bare_vectors(conn, docs)
        conn.execute("VACUUM ANALYZE bare_vec")
        del docs
        bare_res = bare_find(conn, q[:1], args.n)  # warm the server's buffers
        t_bfind = best(args.repeat, timed, bare_find, conn, q, args.n)
        da = DocumentArray(storage="postgres", config=cfg)
        res = da.find(q[:1], limit=K)
        assert [d.id for d in res[0]] == [d.id for d in bare_res[0]], "shoal and bare disagree"
        t_find = best(args.repeat, timed, da.find, q, K)
        da.close()
        conn.close()
    finally:
        server.stop()

    n, g, b = args.n, len(ids), 100 * args.batch_gets
    r = {
        "n": n, "server_version": version,
        "extend_docs_per_s": n / t_ext, "bare_copy_docs_per_s": n / t_copy,
        "bare_executemany_docs_per_s": n / t_many,
        "extend_vs_copy": t_copy / t_ext, "extend_vs_executemany": t_many / t_ext,
        "get_docs_per_s": g / t_get, "bare_get_docs_per_s": g / t_bget, "get_ratio": t_bget / t_get,
        "batched_get_docs_per_s": b / t_batch, "bare_batched_get_docs_per_s": b / t_bbatch,
        "batched_get_ratio": t_bbatch / t_batch,
        "find_queries": args.queries, "find_ms_per_query": 1000 * t_find / args.queries,
        "bare_find_ms_per_query": 1000 * t_bfind / args.queries, "find_ratio": t_bfind / t_find,
    }
    info = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "postgres": version, "psycopg": psycopg.__version__}
    lines = [
        f"N = {n:,} Documents (short text, 3 tags, {DIM}-d float32), batches of {BATCH:,}; "
        f"PostgreSQL {version} on loopback (fsync off), psycopg {psycopg.__version__}. "
        "Ratio = shoal rate / bare rate (>1: shoal faster).", "",
        "| operation | shoal | bare psycopg | ratio |", "|---|---|---|---|",
        f"| extend (docs/s) vs COPY | {r['extend_docs_per_s']:,.0f} | {r['bare_copy_docs_per_s']:,.0f} "
        f"| {r['extend_vs_copy']:.2f}x |",
        f"| extend (docs/s) vs executemany | {r['extend_docs_per_s']:,.0f} | "
        f"{r['bare_executemany_docs_per_s']:,.0f} | {r['extend_vs_executemany']:.2f}x |",
        f"| get by id, {g:,} random `da[id]` (docs/s) | {r['get_docs_per_s']:,.0f} | "
        f"{r['bare_get_docs_per_s']:,.0f} | {r['get_ratio']:.2f}x |",
        f"| batched get, {args.batch_gets} x 100 ids (docs/s) | {r['batched_get_docs_per_s']:,.0f} | "
        f"{r['bare_batched_get_docs_per_s']:,.0f} | {r['batched_get_ratio']:.2f}x |",
        f"| exact find, {args.queries} queries, top {K} Documents (ms/query) | "
        f"{r['find_ms_per_query']:.2f} | {r['bare_find_ms_per_query']:.2f} | {r['find_ratio']:.2f}x |",
    ]
    print("\n".join(lines))
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "bench_docstore_postgres.json"), "w") as f:
        json.dump({"info": info, "rows": [r]}, f, indent=2)
    with open(os.path.join(RESULTS, "bench_docstore_postgres.md"), "w") as f:
        f.write("# shoal PostgreSQL store vs bare psycopg\n\n" + "\n".join(lines) + "\n")
    print(f"\nwrote {os.path.join(RESULTS, 'bench_docstore_postgres.json')} and .md")


if __name__ == "__main__":
    main()
