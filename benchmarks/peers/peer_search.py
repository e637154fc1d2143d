"""Peer vector databases on shoal's benchmark vectors: Chroma and DocArray 0.21 + annlite.

Run by a *separate* interpreter holding the peers (never shoal's own environment)::

    python3 -m venv /tmp/peervenv
    /tmp/peervenv/bin/pip install chromadb "docarray<0.30" annlite numpy
    /tmp/peervenv/bin/python benchmarks/peers/peer_search.py --base B.npy --queries Q.npy \\
        --gt GT.npy --M 16 --ef-construction 200 --efs 16,64,256 --peers chroma,annlite

``bench_indexes.py --peer-python /tmp/peervenv/bin/python`` writes the .npy files and runs
this. Each peer indexes the base vectors with HNSW (cosine, the same M / ef_construction),
then answers all queries in one batch returning the top-k *documents with scores* (what
``da.find`` returns in shoal), best of 3 runs per ``ef``. Prints one JSON line
``{"rows": [...], "meta": {...}}`` on stdout; progress goes to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any, Callable

import numpy as np


def log(*a: Any) -> None:
    print(*a, file=sys.stderr, flush=True)


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def recall_at(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    f, t = found[:, :k], truth[:, :k]
    return float((f[:, :, None] == t[:, None, :]).any(axis=2).sum()) / t.size


def ids_matrix(lists: list[list[Any]], k: int) -> np.ndarray:
    return np.array([[int(i) for i in ids][:k] + [-1] * (k - len(ids)) for ids in lists])


# -- Chroma --------------------------------------------------------------------------------
def run_chroma(x: np.ndarray, q: np.ndarray, gt: np.ndarray, texts: list[str], k: int, M: int,
               efc: int, efs: list[int], repeat: int) -> tuple[list[dict], dict]:
    import chromadb

    rows, meta = [], {"chromadb": chromadb.__version__}
    ids = [str(i) for i in range(len(x))]
    # chromadb 1.5 ignores a later modify(configuration={"hnsw": {"ef_search": ...}}) on a
    # loaded index (recall does not move), so each ef gets its own collection.
    for ef in efs:
        with tempfile.TemporaryDirectory() as tmp:
            client = chromadb.PersistentClient(path=tmp)
            col = client.create_collection("bench", configuration={"hnsw": {
                "space": "cosine", "ef_construction": efc, "max_neighbors": M,
                "ef_search": ef}})
            try:
                batch = min(int(client.get_max_batch_size()), 10_000)
            except Exception:
                batch = 5000
            t0 = time.perf_counter()
            for s in range(0, len(x), batch):
                col.add(ids=ids[s:s + batch], embeddings=x[s:s + batch],
                        documents=texts[s:s + batch])
            meta.setdefault("chroma_build_s", time.perf_counter() - t0)
            log(f"chroma built {len(x):,} in {time.perf_counter() - t0:.1f}s (ef_search={ef})")

            def search(col: Any = col) -> Any:
                return col.query(query_embeddings=q, n_results=k,
                                 include=["documents", "distances"])

            search()  # warm
            t, res = best_of(search, repeat)
            found = ids_matrix(res["ids"], k)
            rows.append({"system": "Chroma (HNSW, documents)", "param": f"ef={ef}", "ef": ef,
                         "recall@10": recall_at(found, gt, k), "qps": len(q) / t})
            log(rows[-1])
    return rows, meta


# -- DocArray 0.21 + annlite -------------------------------------------------------------
def run_annlite(x: np.ndarray, q: np.ndarray, gt: np.ndarray, texts: list[str], k: int, M: int,
                efc: int, efs: list[int], repeat: int) -> tuple[list[dict], dict]:
    import sqlite3

    import docarray
    from docarray import Document, DocumentArray

    # annlite 0.5 binds numpy integers (HNSW offsets) as sqlite parameters; under numpy 2
    # they no longer bind as ints and every lookup returns None. Teach sqlite3 to bind them.
    for t in (np.int64, np.uint64, np.int32, np.uint32):
        sqlite3.register_adapter(t, int)

    rows, meta = [], {"docarray": docarray.__version__}
    try:
        import annlite
        meta["annlite"] = getattr(annlite, "__version__", "?")
    except Exception:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "annlite")

        def open_da(ef: int) -> Any:
            return DocumentArray(storage="annlite", config={
                "n_dim": x.shape[1], "metric": "cosine", "data_path": path,
                "ef_construction": efc, "ef_search": ef, "max_connection": M})

        docs = [Document(id=str(i), text=texts[i], embedding=x[i]) for i in range(len(x))]
        t0 = time.perf_counter()
        da = open_da(efs[0])
        with da:
            for s in range(0, len(docs), 10_000):
                da.extend(docs[s:s + 10_000])
        meta["annlite_build_s"] = time.perf_counter() - t0
        log(f"docarray+annlite built {len(x):,} in {meta['annlite_build_s']:.1f}s")
        del docs
        for ef in efs:
            for index in da._annlite._vec_indexes:  # one HNSW per cell (n_cells=1 here)
                index.ef_search = ef
            da.find(q[:10], limit=k)  # warm

            def search(da: Any = da) -> Any:
                return da.find(q, limit=k)

            t, res = best_of(search, repeat)
            found = ids_matrix([r[:, "id"] for r in res], k)
            rows.append({"system": "DocArray 0.21 + annlite (documents)", "param": f"ef={ef}",
                         "ef": ef, "recall@10": recall_at(found, gt, k), "qps": len(q) / t})
            log(rows[-1])
    return rows, meta


PEERS = {"chroma": run_chroma, "annlite": run_annlite}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--gt", required=True, help="exact top-k row ids per query (.npy)")
    ap.add_argument("--texts", help="JSON list of texts for the base rows (else placeholders)")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--efs", default="16,64,256")
    ap.add_argument("--peers", default="chroma,annlite")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    x = np.ascontiguousarray(np.load(args.base), dtype=np.float32)
    q = np.ascontiguousarray(np.load(args.queries), dtype=np.float32)
    gt = np.load(args.gt)
    texts = (json.loads(open(args.texts).read())[:len(x)] if args.texts
             else [f"document number {i}" for i in range(len(x))])
    efs = [int(e) for e in args.efs.split(",")]
    rows: list[dict] = []
    meta: dict[str, Any] = {"python": sys.version.split()[0]}
    for name in [p.strip() for p in args.peers.split(",") if p.strip()]:
        try:
            r, m = PEERS[name](x, q, gt, texts, args.k, args.M, args.ef_construction, efs,
                               args.repeat)
            rows += r
            meta.update(m)
        except Exception as exc:  # a peer that does not install / run: report, go on
            log(f"{name} failed: {type(exc).__name__}: {exc}")
            meta[f"{name}_error"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"rows": rows, "meta": meta}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
