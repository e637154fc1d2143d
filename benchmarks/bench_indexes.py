"""How much do shoal's vector indexes cost over the raw libraries, and what recall do they give?

One run measures, on Gaussian-mixture clustered vectors (not uniform noise) with exact
ground truth from BLAS (faiss.knn):

1. shoal ``'hnsw'`` vs bare hnswlib, same graph parameters: batch QPS and recall@10 at
   several ``ef`` values, and the QPS ratio;
2. single-query latency: shoal ``search`` vs bare ``knn_query``, overhead in µs;
3. shoal ``'faiss'`` IVF-PQ (+ exact ``refine`` through a ``vector_source``) vs bare faiss
   (IndexIVFPQ, and IndexRefineFlat for refine): recall@10 and QPS (shoal's scores are the
   exact metric values even without refine: its top-k are re-scored from the vectors,
   bare faiss reports PQ estimates);
4. filtered search (``allowed`` = 10% / 0.5% of labels) vs bare hnswlib's filter (``--full``).

5. ``DocumentArray(storage='lmdb', index='hnsw').find`` through the store vs bare hnswlib:
   a batch of all queries, single queries, and single queries from 1 and 2 threads, and
   from 1 and 2 processes with a store handle each;
6. with ``--peer-python PATH`` (a separate venv with chromadb, ``docarray<0.30`` + annlite):
   ``peers/peer_search.py`` on the same vectors, and shoal ``da.find`` / peer QPS ratios.

Writes ``results/bench_indexes.{json,md,png}`` (recall@10 vs QPS, log QPS axis, the
ann-benchmarks picture). ``--full`` runs 1-5 on 1M vectors with more points, then the
streamed bigger-than-RAM run of ``big_ivfpq.py`` (10M x 128 into an LMDB store with a faiss
IVF-PQ + refine index, bare faiss beside it, peak RSS per phase) and writes
``results/bench_indexes_full.{json,md,png}`` (``--big-n 0`` / ``--skip-tables`` rerun one
part and keep the other as last written). ``--real`` runs 1, 2, 3, 5 (and 6) on MiniLM
embeddings of real text instead (``real_embeddings.py``: stdlib docstrings + Debian package
descriptions, 1,000 held-out queries, cached in ``benchmarks/data/``) and writes
``results/bench_indexes_real.{json,md,png}``.

    python benchmarks/bench_indexes.py --n 100000            # a few minutes on 2 cores
    python benchmarks/bench_indexes.py --full                 # 1M tables + 10M streamed, ~1.5 h
    python benchmarks/bench_indexes.py --full --skip-tables --big-args --keep
    python benchmarks/bench_indexes.py --real --peer-python /tmp/peervenv/bin/python
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, best_of, best_of_pair, markdown_table, write_results  # noqa: E402

from shoal.indexes import FaissIndex, HnswIndex  # noqa: E402
from shoal.document.distance import knn, normalize_rows  # noqa: E402

K = 10
METRIC = "cosine"


# -- data ----------------------------------------------------------------------------------
class Mixture:
    """A Gaussian mixture shaped like real embeddings (see :func:`make_data`).

    Clusters have uneven sizes; each spreads mostly along its own random ``rank``-dim
    subspace (embeddings have a low intrinsic dimension) plus a little isotropic noise.
    The mixture is fixed by ``rng``; :meth:`draw` samples it with any generator, so a
    streamed run draws block ``b`` with its own seeded generator (:meth:`block`).
    """

    def __init__(self, dim: int, clusters: int = 256, rank: int = 16,
                 rng: np.random.Generator | int = 0) -> None:
        rng = np.random.default_rng(rng)
        self.dim, self.clusters, self.rank = dim, clusters, rank
        self.centers = rng.normal(0.0, 1.0, (clusters, dim)).astype(np.float32)
        self.bases = rng.normal(0.0, 1.0 / np.sqrt(rank), (clusters, rank, dim)).astype(np.float32)
        self.weights = rng.dirichlet(np.full(clusters, 0.7))
        self.spread = rng.uniform(0.4, 1.0, clusters).astype(np.float32)

    def draw(self, rng: np.random.Generator, m: int) -> np.ndarray:
        which = rng.choice(self.clusters, m, p=self.weights)
        out = rng.normal(0.0, 0.05, (m, self.dim)).astype(np.float32)
        for c in np.unique(which):
            rows = np.flatnonzero(which == c)
            z = rng.normal(0.0, 1.0, (rows.size, self.rank)).astype(np.float32)
            out[rows] += self.centers[c] + self.spread[c] * (z @ self.bases[c])
        return np.ascontiguousarray(out)

    def block(self, b: int, m: int, seed: int = 0) -> np.ndarray:
        """Rows of block ``b`` (``m`` of them) of a streamed set: the same for the same seed."""
        return self.draw(np.random.default_rng([seed, 1, b]), m)

    def queries(self, m: int, seed: int = 0) -> np.ndarray:
        """Held-out queries of a streamed set (a generator no block uses)."""
        return self.draw(np.random.default_rng([seed, 2]), m)


def make_data(n: int, dim: int, n_queries: int, clusters: int = 256, rank: int = 16,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` vectors and ``n_queries`` queries from the same :class:`Mixture`, in RAM."""
    rng = np.random.default_rng(seed)
    mix = Mixture(dim, clusters, rank, rng)
    return mix.draw(rng, n), mix.draw(rng, n_queries)


def ground_truth(x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k row ids (BLAS brute force through shoal.document.distance.knn)."""
    return knn(q, x, k, METRIC, block_size=65536)[1]


def recall_at(found: np.ndarray, truth: np.ndarray, k: int = K) -> float:
    f, t = found[:, :k], truth[:, :k]
    hits = (f[:, :, None] == t[:, None, :]).any(axis=2).sum()
    return float(hits) / t.size


def qps(fn: Callable[[], Any], n_queries: int, repeat: int = 3) -> float:
    return n_queries / best_of(fn, repeat)


def paired_qps(bare: Callable[[], Any], ours: Callable[[], Any], n_queries: int,
               repeat: int = 5) -> tuple[float, float]:
    """Queries per second of ``bare`` and ``ours``, timed in turn (see best_of_pair)."""
    t_bare, t_ours = best_of_pair(bare, ours, repeat)
    return n_queries / t_bare, n_queries / t_ours


# -- 1 + 2: hnsw ---------------------------------------------------------------------------
def build_hnsw(x: np.ndarray, M: int, efc: int) -> tuple[Any, HnswIndex, dict[str, float]]:
    import hnswlib

    labels = np.arange(x.shape[0], dtype=np.int64)
    t0 = time.perf_counter()
    bare = hnswlib.Index(space="cosine", dim=x.shape[1])
    bare.init_index(max_elements=x.shape[0], M=M, ef_construction=efc, random_seed=100)
    bare.add_items(x, labels)
    t1 = time.perf_counter()
    ours = HnswIndex(x.shape[1], METRIC, M=M, ef_construction=efc, capacity=1024)
    for start in range(0, x.shape[0], 50_000):  # as a store would feed it, growing as it goes
        ours.add(labels[start:start + 50_000], x[start:start + 50_000])
    t2 = time.perf_counter()
    return bare, ours, {"bare_build_s": t1 - t0, "shoal_build_s": t2 - t1}


def bench_hnsw(bare: Any, ours: HnswIndex, q: np.ndarray, gt: np.ndarray,
               efs: list[int]) -> list[dict[str, Any]]:
    rows = []
    for ef in efs:
        bare.set_ef(ef)
        b_qps, s_qps = paired_qps(lambda: bare.knn_query(q, k=K),
                                  lambda ef=ef: ours.search(q, K, ef=ef), len(q))
        b_lab = bare.knn_query(q, k=K)[0].astype(np.int64)
        s_scores, s_lab = ours.search(q, K, ef=ef)
        rows.append({"system": "hnswlib (bare)", "param": f"ef={ef}", "ef": ef,
                     "recall@10": recall_at(b_lab, gt), "qps": b_qps})
        rows.append({"system": "shoal hnsw", "param": f"ef={ef}", "ef": ef,
                     "recall@10": recall_at(s_lab, gt), "qps": s_qps,
                     "qps_ratio": s_qps / b_qps})
    return rows


def interleaved_us(bare: Callable[[np.ndarray], Any], ours: Callable[[np.ndarray], Any],
                   items: list[np.ndarray], runs: int = 5) -> tuple[float, float]:
    """Median µs per item of ``bare(v)`` and ``ours(v)`` over ``items``, run after run in
    turn so that both see the same noise."""
    b_runs, s_runs = [], []
    for _ in range(runs):
        for fn, out in ((bare, b_runs), (ours, s_runs)):
            t = time.perf_counter()
            for v in items:
                fn(v)
            out.append((time.perf_counter() - t) / len(items) * 1e6)
    return statistics.median(b_runs), statistics.median(s_runs)


def bench_latency(bare: Any, ours: HnswIndex, q: np.ndarray, efs: list[int],
                  n: int = 300) -> list[dict[str, Any]]:
    """Median per-query µs of one-row searches, bare and shoal interleaved to share noise."""
    one = [np.ascontiguousarray(q[i:i + 1]) for i in range(min(n, len(q)))]
    rows = []
    for ef in efs:
        bare.set_ef(ef)
        ours.search(one[0], K, ef=ef)
        b, s = interleaved_us(lambda v: bare.knn_query(v, k=K),
                              lambda v, ef=ef: ours.search(v, K, ef=ef), one)
        rows.append({"ef": ef, "bare_us": b, "shoal_us": s, "overhead_us": s - b,
                     "target": "<= 50 us"})
    return rows


def bench_filtered(bare: Any, ours: HnswIndex, q: np.ndarray, x: np.ndarray,
                   fractions: list[float], source: str, ef: int = 64) -> list[dict[str, Any]]:
    """``allowed`` pre-filtering: shoal (filter or exact fallback) vs hnswlib's filter."""
    rng = np.random.default_rng(1)
    qs = q[:200]
    rows = []
    for frac in fractions:
        allowed = np.sort(rng.choice(x.shape[0], max(1, int(frac * x.shape[0])), replace=False))
        gt = allowed[knn(qs, x[allowed], K, METRIC)[1]]
        allow_set = frozenset(allowed.tolist())
        bare.set_ef(ef)

        def run_bare(allow_set: frozenset[int] = allow_set) -> np.ndarray:
            return bare.knn_query(qs, k=K, num_threads=1, filter=allow_set.__contains__)[0]

        try:
            b_lab = run_bare().astype(np.int64)
            b_qps, b_rec = qps(run_bare, len(qs), 1), recall_at(b_lab, gt)
        except RuntimeError:  # hnswlib cannot fill k results
            b_qps, b_rec = float("nan"), float("nan")
        s_qps = qps(lambda allowed=allowed: ours.search(qs, K, allowed=allowed, ef=ef), len(qs), 1)
        s_rec = recall_at(ours.search(qs, K, allowed=allowed, ef=ef)[1], gt)
        rows.append({"allowed": f"{frac:.1%} ({allowed.size:,})", "shoal exact vectors": source,
                     "bare_qps": b_qps,
                     "bare_recall@10": b_rec, "shoal_qps": s_qps, "shoal_recall@10": s_rec})
    return rows


# -- 3: faiss IVF-PQ -----------------------------------------------------------------------
def bench_ivfpq(x: np.ndarray, q: np.ndarray, gt: np.ndarray, nlist: int, m: int,
                nprobes: list[int], refines: list[int]) -> tuple[list[dict[str, Any]], dict[str, float]]:
    import faiss

    factory = f"IVF{nlist},PQ{m}"
    rng = np.random.default_rng(2)
    sample = x[rng.choice(x.shape[0], min(x.shape[0], max(30 * nlist, 20_000), 50_000), replace=False)]
    xn, qn, sn = normalize_rows(x), normalize_rows(q), normalize_rows(sample)
    labels = np.arange(x.shape[0], dtype=np.int64)

    t0 = time.perf_counter()
    bare = faiss.index_factory(x.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    bare.train(sn)
    bare.add(xn)
    refine_bare = faiss.IndexRefineFlat(bare, faiss.swig_ptr(xn))  # exact vectors beside
    t1 = time.perf_counter()
    # the store hands its vector column over as a label-indexed array (a memmap on disk)
    ours = FaissIndex(x.shape[1], METRIC, factory=factory, vector_source=x)
    ours.train(sample)
    ours.add(labels, x)
    t2 = time.perf_counter()
    ivf = faiss.extract_index_ivf(bare)
    rows = []
    for nprobe in nprobes:
        for r in refines:
            ivf.nprobe = nprobe
            if r == 1:
                def run_bare() -> np.ndarray:
                    return bare.search(qn, K)[1]
            else:
                params = faiss.IndexRefineSearchParameters(
                    k_factor=float(r), base_index_params=faiss.SearchParametersIVF(nprobe=nprobe))

                def run_bare(params: Any = params) -> np.ndarray:
                    return refine_bare.search(qn, K, params=params)[1]
            b_qps, s_qps = paired_qps(
                run_bare, lambda nprobe=nprobe, r=r: ours.search(q, K, nprobe=nprobe, refine=r),
                len(q))
            name = f"nprobe={nprobe}" + (f",refine={r}" if r > 1 else "")
            rows.append({"system": "faiss IVF-PQ (bare)" + (" + RefineFlat" if r > 1 else ""),
                         "param": name, "recall@10": recall_at(run_bare(), gt), "qps": b_qps})
            rows.append({"system": "shoal faiss IVF-PQ" + (" + refine" if r > 1 else ""),
                         "param": name, "recall@10": recall_at(
                             ours.search(q, K, nprobe=nprobe, refine=r)[1], gt),
                         "qps": s_qps, "qps_ratio": s_qps / b_qps})
    return rows, {"bare_build_s": t1 - t0, "shoal_build_s": t2 - t1, "factory": factory}


# -- 5: through DocumentArray.find --------------------------------------------------------
def bench_find_latency(bare: Any, da: Any, q: np.ndarray, efs: list[int],
                       n: int = 300) -> list[dict[str, Any]]:
    """Median per-query µs of single-query ``da.find`` (top-10 Documents with scores) vs
    bare ``knn_query`` (labels) at the same ef, interleaved run by run to share noise."""
    one = [np.ascontiguousarray(q[i:i + 1]) for i in range(min(n, len(q)))]
    rows = []
    for ef in efs:
        bare.set_ef(ef)
        for v in one:  # warm: pages of the records and vectors these queries find
            da.find(v[0], limit=K, ef=ef)
        b, s = interleaved_us(lambda v: bare.knn_query(v, k=K),
                              lambda v, ef=ef: da.find(v[0], limit=K, ef=ef), one, runs=7)
        rows.append({"ef": ef, "bare_knn_query_us": b, "da_find_us": s, "overhead_us": s - b})
    return rows


def bench_find_threads(bare: Any, da: Any, q: np.ndarray, ef: int,
                       threads: tuple[int, ...] = (1, 2)) -> list[dict[str, Any]]:
    """Single-query searches from several threads at once (a threaded server): queries
    per second with 1 and 2 threads, bare ``knn_query`` (GIL released) and ``da.find``
    on the same store. Shows that the store does not serialize concurrent searches."""
    import threading

    one = [np.ascontiguousarray(q[i:i + 1]) for i in range(len(q))]
    bare.set_ef(ef)

    def run(fn: Callable[[np.ndarray], Any], n_threads: int) -> float:
        parts = [one[i::n_threads] for i in range(n_threads)]

        def work(part: list[np.ndarray]) -> None:
            for v in part:
                fn(v)

        def all_threads() -> None:
            ts = [threading.Thread(target=work, args=(p,)) for p in parts]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        return qps(all_threads, len(one))

    rows = []
    for system, fn in (("hnswlib knn_query (bare)", lambda v: bare.knn_query(v, k=K)),
                       ("shoal da.find (lmdb + hnsw, Documents)",
                        lambda v: da.find(v[0], limit=K, ef=ef))):
        base = None
        for n_threads in threads:
            r = run(fn, n_threads)
            base = base or r
            rows.append({"system": system, "ef": ef, "threads": n_threads, "qps": r,
                         "speedup_vs_1_thread": r / base})
    return rows


def _find_worker(config: dict[str, Any], queries: np.ndarray, ef: int, barrier: Any,
                 out: Any) -> None:
    """One process of :func:`bench_find_processes`: its own handle on the store (the index
    loaded from where the parent saved it), warmed, then single-query finds."""
    from shoal import DocumentArray

    da = DocumentArray(storage="lmdb", config=config)
    for v in queries[:100]:
        da.find(v, limit=K, ef=ef)
    barrier.wait()
    t0 = time.perf_counter()
    for v in queries:
        da.find(v, limit=K, ef=ef)
    out.put((t0, time.perf_counter()))
    da.close()


def bench_find_processes(config: dict[str, Any], q: np.ndarray, ef: int,
                         procs: tuple[int, ...] = (1, 2)) -> list[dict[str, Any]]:
    """Single-query ``da.find`` from 1 and 2 processes at once, each with its own handle on
    the same LMDB store (how Flow replicas serve): queries per second over the span from
    the first start to the last end, best of 3. Threads of one process share the GIL,
    which the Python half of every find holds; processes do not."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # no fork of a process holding LMDB and worker threads
    rows, base = [], None
    for n in procs:
        best = 0.0
        for _ in range(3):
            barrier, out = ctx.Barrier(n), ctx.Queue()
            ps = [ctx.Process(target=_find_worker, args=(config, q[i::n], ef, barrier, out))
                  for i in range(n)]
            for p in ps:
                p.start()
            spans = [out.get(timeout=600) for _ in ps]
            for p in ps:
                p.join()
            best = max(best, len(q) / (max(e for _, e in spans) - min(s for s, _ in spans)))
        base = base or best
        rows.append({"system": "shoal da.find (lmdb + hnsw, Documents), one store handle per "
                     "process", "ef": ef, "threads": f"{n} process{'es' if n > 1 else ''}",
                     "qps": best, "speedup_vs_1_thread": best / base})
    return rows


def bench_through_find(x: np.ndarray, q: np.ndarray, gt: np.ndarray, M: int, efc: int,
                       efs: list[int], texts: list[str] | None = None,
                       ) -> tuple[list[dict[str, Any]], dict[str, float], dict[str, list]]:
    """``DocumentArray(storage='lmdb', index='hnsw').find`` vs bare hnswlib on the same vectors.

    Build: shoal's ``extend`` (store + vector column + index) vs bare ``lmdb`` puts of the same
    Documents serialized with shoal's codec in the same 10k batches plus bare hnswlib
    ``add_items`` (target <= 1.15x). Search: a batch of all queries returning the top-10
    Documents with scores, vs bare ``knn_query`` labels at the same ef (target >= 0.6x).
    Also single-query latency (:func:`bench_find_latency`) and searches from two threads at
    once (:func:`bench_find_threads`), returned as ``{"latency": rows, "threads": rows}``.
    """
    import tempfile

    import hnswlib
    import lmdb

    from shoal import Document, DocumentArray
    from shoal.document.codec import doc_to_bytes

    n, batch = x.shape[0], 10_000
    docs = [Document(id=str(i), text=texts[i] if texts else f"document number {i}", embedding=x[i])
            for i in range(n)]
    labels = np.arange(n, dtype=np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        env = lmdb.open(os.path.join(tmp, "bare"), map_size=16 << 30)
        for start in range(0, n, batch):
            with env.begin(write=True) as txn:
                for d in docs[start:start + batch]:
                    txn.put(d.id.encode(), doc_to_bytes(d))
        bare = hnswlib.Index(space="cosine", dim=x.shape[1])
        bare.init_index(max_elements=n, M=M, ef_construction=efc, random_seed=100)
        bare.add_items(x, labels)
        t_bare = time.perf_counter() - t0
        env.close()

        t0 = time.perf_counter()
        da = DocumentArray(storage="lmdb", config={
            "path": os.path.join(tmp, "shoal"), "name": "docs", "index": "hnsw",
            "metric": "cosine", "index_params": {"M": M, "ef_construction": efc}})
        da.extend(docs)
        da.find(q[:1], limit=1)  # the index catches up with the store on first use: count it
        t_shoal = time.perf_counter() - t0
        build = {"bare_lmdb_plus_hnswlib_s": t_bare, "shoal_extend_s": t_shoal,
                 "build_cost_ratio": t_shoal / t_bare}
        print(f"through-store build: {build}", flush=True)
        del docs
        rows = []
        for ef in efs:
            bare.set_ef(ef)
            b_qps, s_qps = paired_qps(
                lambda: bare.knn_query(q, k=K),
                lambda ef=ef: da.find(q, limit=K, metric="cosine", ef=ef), len(q))
            results = da.find(q, limit=K, metric="cosine", ef=ef)
            found = np.array([[int(i) for i in r[:, "id"]] + [-1] * (K - len(r)) for r in results])
            rows.append({"system": "shoal da.find (lmdb + hnsw, Documents)", "param": f"ef={ef}",
                         "ef": ef, "recall@10": recall_at(found, gt), "qps": s_qps,
                         "qps_ratio": s_qps / b_qps})
        extra = {"latency": bench_find_latency(bare, da, q, efs),
                 "threads": bench_find_threads(bare, da, q, 64)}
        da.sync()  # the index saved beside the store: the processes below load it
        extra["threads"] += bench_find_processes(
            {"path": os.path.join(tmp, "shoal"), "name": "docs"}, q, 64)
        da.close()
    return rows, build, extra


# -- 6: peers (Chroma, DocArray 0.21 + annlite) in their own interpreter -------------------
PEER_SCRIPT = Path(__file__).resolve().parent / "peers" / "peer_search.py"
DATA = Path(__file__).resolve().parent / "data"


def bench_peers(peer_python: str, x: np.ndarray, q: np.ndarray, gt: np.ndarray, M: int,
                efc: int, efs: list[int], tag: str, peers: str, texts: list[str] | None = None,
                timeout: float = 3600) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run ``peers/peer_search.py`` under ``peer_python`` (a venv holding chromadb /
    ``docarray<0.30`` + annlite, never shoal's) on the same vectors, saved as .npy.

    Returns curve rows (top-10 documents with scores, 1,000 queries in one batch) and the
    peers' build times. A peer that is missing or fails is reported, not fatal.
    """
    import json
    import subprocess

    DATA.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, arr in (("base", x), ("queries", q), ("gt", gt)):
        paths[name] = DATA / f"peer_{tag}_{name}.npy"
        np.save(paths[name], np.ascontiguousarray(arr))
    cmd = [peer_python, str(PEER_SCRIPT), "--base", str(paths["base"]),
           "--queries", str(paths["queries"]), "--gt", str(paths["gt"]), "--k", str(K),
           "--M", str(M), "--ef-construction", str(efc), "--efs", ",".join(map(str, efs)),
           "--peers", peers]
    if texts is not None:  # the same Document texts shoal's store holds
        (DATA / f"peer_{tag}_texts.json").write_text(json.dumps(texts))
        cmd += ["--texts", str(DATA / f"peer_{tag}_texts.json")]
    print("peers:", " ".join(cmd), flush=True)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"peers failed: {exc}", flush=True)
        return [], {"error": str(exc)}
    sys.stderr.write(proc.stderr[-4000:])
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        print(f"peers failed (rc {proc.returncode})", flush=True)
        return [], {"error": f"rc {proc.returncode}: {proc.stderr[-500:]}"}
    out = json.loads(lines[-1])
    return out["rows"], out["meta"]


def peer_ratios(find_rows: list[dict[str, Any]], peer_rows: list[dict[str, Any]],
                bare_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """shoal ``da.find`` QPS over each peer's at the same ``ef`` (both return Documents)."""
    shoal = {r["ef"]: r for r in find_rows}
    bare = {r["ef"]: r for r in bare_rows if r["system"] == "hnswlib (bare)"}
    out = []
    for p in peer_rows:
        s = shoal.get(p.get("ef"))
        if s is None:
            continue
        if p.get("ef") in bare:
            p["qps_ratio"] = p["qps"] / bare[p["ef"]]["qps"]
        out.append({"comparison": f"shoal da.find vs {p['system']}", "param": p["param"],
                    "shoal_recall@10": s["recall@10"], "shoal_qps": s["qps"],
                    "peer_recall@10": p["recall@10"], "peer_qps": p["qps"],
                    "ratio": s["qps"] / p["qps"]})
    return out


def ratios_table(ratio_rows: list[dict[str, Any]]) -> list[str]:
    if not ratio_rows:
        return []
    return ["## shoal da.find vs peers (top-10 Documents with scores, one batch of all queries)"
            "\n\n" + markdown_table(ratio_rows, ["comparison", "param", "shoal_recall@10",
                                                  "shoal_qps", "peer_recall@10", "peer_qps",
                                                  "ratio"])
            + "\n\n(expected: >= 2x Chroma, >= 20x DocArray+annlite)"]


def find_tables(extra: dict[str, list]) -> list[str]:
    """Markdown of :func:`bench_find_latency` and :func:`bench_find_threads`."""
    return [
        "## single-query da.find (top-10 Documents with scores) vs bare knn_query (labels)\n\n"
        + markdown_table(extra["latency"], ["ef", "bare_knn_query_us", "da_find_us", "overhead_us"]),
        "## single-query searches from 1 and 2 threads (or processes) at once (ef=64)\n\n"
        + markdown_table(extra["threads"], ["system", "threads", "qps", "speedup_vs_1_thread"]),
    ]


def find_rows_of(extra: dict[str, list]) -> list[dict[str, Any]]:
    return ([{"section": "find_latency", **r} for r in extra["latency"]]
            + [{"section": "find_threads", **r} for r in extra["threads"]])


# -- real embeddings -----------------------------------------------------------------------
def run_real(args: argparse.Namespace) -> int:
    """The hnsw / IVF-PQ / through-store comparison on MiniLM embeddings of real text."""
    import real_embeddings

    t_start = time.perf_counter()
    x, q, texts = real_embeddings.load(args.real_max, args.queries)
    gt = ground_truth(x, q, K)
    print(f"real data {x.shape}, queries {q.shape}, ground truth in "
          f"{time.perf_counter() - t_start:.1f}s", flush=True)
    efs = [16, 32, 64, 128, 256, 512] if args.full else [16, 32, 64, 128, 256]
    bare, ours, hnsw_build = build_hnsw(x, args.M, args.ef_construction)
    print(f"hnsw built: {hnsw_build}", flush=True)
    hnsw_rows = bench_hnsw(bare, ours, q, gt, efs)
    latency_rows = bench_latency(bare, ours, q, [16, 64, 256])
    del bare, ours
    print("hnsw done", flush=True)

    n, dim = x.shape
    nlist = int(2 ** round(np.log2(max(16.0, 4 * np.sqrt(n)))))
    m = next(s for s in (32, 16, 8) if dim % s == 0)  # 12-dim sub-vectors at 384-d
    ivf_rows, ivf_build = bench_ivfpq(x, q, gt, nlist, m, [4, 16, 64], [1, 10])
    print("ivf-pq done", flush=True)
    find_efs = [16, 64, 256]
    find_rows, find_build, find_extra = bench_through_find(
        x, q, gt, args.M, args.ef_construction, find_efs, texts=texts[:n])
    print("through-store done", flush=True)
    peer_rows, peer_meta = [], {}
    if args.peer_python:
        peer_rows, peer_meta = bench_peers(args.peer_python, x, q, gt, args.M,
                                           args.ef_construction, find_efs, "real", args.peers,
                                           texts=texts[:n])
    ratio_rows = peer_ratios(find_rows, peer_rows, hnsw_rows)

    params = {"data": f"MiniLM all-MiniLM-L6-v2 embeddings of stdlib docstrings + Debian "
                      f"package descriptions (benchmarks/real_embeddings.py --max {args.real_max})",
              "n": n, "dim": dim, "queries": len(q), "k": K, "metric": METRIC, "M": args.M,
              "ef_construction": args.ef_construction, "full": args.full,
              "cpus": os.cpu_count(), "hnsw_build": hnsw_build, "ivfpq_build": ivf_build,
              "through_store_build": find_build, "peers": peer_meta}
    curve = hnsw_rows + ivf_rows + find_rows + peer_rows
    curve_cols = ["system", "param", "recall@10", "qps", "qps_ratio"]
    table = "\n\n".join([
        f"Real embeddings: {n:,} x {dim} MiniLM vectors indexed, {len(q):,} held-out queries "
        "(texts never indexed), exact ground truth by BLAS. qps_ratio is against bare hnswlib "
        "(shoal / peers at the same ef) or bare faiss (IVF-PQ rows).",
        "## recall@10 vs QPS (batch of all queries)\n\n" + markdown_table(curve, curve_cols),
        *ratios_table(ratio_rows),
        "## single-query latency, shoal hnsw vs bare knn_query\n\n" + markdown_table(
            latency_rows, ["ef", "bare_us", "shoal_us", "overhead_us", "target"]),
        *find_tables(find_extra),
        f"builds: hnsw {hnsw_build}, IVF-PQ {ivf_build}, through the lmdb store {find_build} "
        "(target build_cost_ratio <= 1.15; da.find qps_ratio >= 0.6)",
        "![recall vs QPS](bench_indexes_real.png)",
    ])
    rows = ([{"section": "curve", **r} for r in curve]
            + [{"section": "peer_ratio", **r} for r in ratio_rows]
            + [{"section": "latency", **r} for r in latency_rows] + find_rows_of(find_extra))
    path = write_results("bench_indexes_real", rows, table, params)
    png = plot(curve, RESULTS / "bench_indexes_real.png",
               f"{n:,} x {dim} MiniLM (real text), {METRIC}, k={K}, {os.cpu_count()} cpus")
    print(table)
    print(f"\nwrote {path} and {png} in {time.perf_counter() - t_start:.0f}s")
    return 0


# -- output --------------------------------------------------------------------------------
def plot(rows: list[dict[str, Any]], path: Path, title: str) -> Path | None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot (pip install 'shoal[bench]')")
        return None
    fig, ax = plt.subplots(figsize=(8, 5.5))
    systems = list(dict.fromkeys(r["system"] for r in rows))
    styles = {s: ("--" if "bare" in s else "-") for s in systems}
    for system in systems:
        pts = sorted((r["recall@10"], r["qps"]) for r in rows if r["system"] == system)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], styles[system], marker="o", label=system)
    ax.set_yscale("log")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second (log)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def run_tables(args: argparse.Namespace, png_name: str) -> tuple[list[dict[str, Any]], str,
                                                                dict[str, Any]]:
    """Sections 1-6 on the in-RAM synthetic set: (rows, markdown, params)."""
    x, q = make_data(args.n, args.dim, args.queries)
    t0 = time.perf_counter()
    gt = ground_truth(x, q, K)
    print(f"data {x.shape}, queries {q.shape}, ground truth in {time.perf_counter() - t0:.1f}s",
          flush=True)

    efs = [16, 32, 64, 128, 256, 512] if args.full else [16, 32, 64, 128, 256]
    bare, ours, hnsw_build = build_hnsw(x, args.M, args.ef_construction)
    print(f"hnsw built: {hnsw_build}", flush=True)
    hnsw_rows = bench_hnsw(bare, ours, q, gt, efs)
    latency_rows = bench_latency(bare, ours, q, [16, 64, 256])
    filtered_rows = []
    if args.full:
        fractions = [0.1, 0.02, 0.005]
        filtered_rows = bench_filtered(bare, ours, q, x, fractions, "get_items")
        ours.vector_source = x  # what a store passes: its label-indexed vector column
        filtered_rows += bench_filtered(bare, ours, q, x, fractions, "vector_source=column")
    del bare, ours
    print("hnsw done", flush=True)

    nlist = int(2 ** round(np.log2(max(16.0, 4 * np.sqrt(args.n)))))
    m = next(s for s in (16, 8, 4, 2, 1) if args.dim % s == 0)
    nprobes = [4, 16, 64] if not args.full else [1, 4, 8, 16, 32, 64, 128]
    ivf_rows, ivf_build = bench_ivfpq(x, q, gt, nlist, m, nprobes, [1, 10])
    print("ivf-pq done", flush=True)
    find_rows, find_build, find_extra = bench_through_find(x, q, gt, args.M, args.ef_construction,
                                                           [16, 64, 256])
    print("through-store done", flush=True)
    peer_rows, peer_meta = [], {}
    if args.peer_python:
        peer_rows, peer_meta = bench_peers(args.peer_python, x, q, gt, args.M,
                                           args.ef_construction, [16, 64, 256],
                                           f"synthetic_{args.n}x{args.dim}", args.peers)
        find_rows += peer_rows
    ratio_rows = peer_ratios([r for r in find_rows if r["system"].startswith("shoal")],
                             peer_rows, hnsw_rows)

    params = {"n": args.n, "dim": args.dim, "queries": args.queries, "k": K, "metric": METRIC,
              "M": args.M, "ef_construction": args.ef_construction, "full": args.full,
              "cpus": os.cpu_count(), "hnsw_build": hnsw_build, "ivfpq_build": ivf_build,
              "through_store_build": find_build, **({"peers": peer_meta} if peer_meta else {})}
    curve = hnsw_rows + ivf_rows + find_rows
    curve_cols = ["system", "param", "recall@10", "qps", "qps_ratio"]
    table = "\n\n".join([
        "## recall@10 vs QPS (batch of all queries)\n\n" + markdown_table(curve, curve_cols),
        *ratios_table(ratio_rows),
        "## single-query latency, shoal hnsw vs bare knn_query\n\n" + markdown_table(
            latency_rows, ["ef", "bare_us", "shoal_us", "overhead_us", "target"]),
        *find_tables(find_extra),
        *(["## filtered search (allowed=..., 200 queries in one call), ef=64\n\n" + markdown_table(
            filtered_rows, ["allowed", "shoal exact vectors", "bare_qps", "bare_recall@10",
                            "shoal_qps", "shoal_recall@10"])] if filtered_rows else []),
        f"builds: hnsw {hnsw_build}, IVF-PQ {ivf_build}, through the lmdb store {find_build} "
        "(target build_cost_ratio <= 1.15; da.find qps_ratio >= 0.6)",
        f"![recall vs QPS]({png_name})",
    ])
    rows = ([{"section": "curve", **r} for r in curve]
            + [{"section": "peer_ratio", **r} for r in ratio_rows]
            + [{"section": "latency", **r} for r in latency_rows] + find_rows_of(find_extra)
            + [{"section": "filtered", **r} for r in filtered_rows])
    plot(curve, RESULTS / png_name,
         f"{args.n:,} x {args.dim} clustered, {METRIC}, k={K}, {os.cpu_count()} cpus")
    return rows, table, params


def run_big(args: argparse.Namespace, png_name: str) -> tuple[list[dict[str, Any]], str,
                                                             dict[str, Any]]:
    """The streamed bigger-than-RAM IVF-PQ run (``big_ivfpq.py``, a process per phase)."""
    import big_ivfpq

    big = big_ivfpq.parser().parse_args(["--n", str(args.big_n), "--dim", str(args.dim),
                                         "--queries", str(args.queries), *args.big_args])
    big.work = big.work or str(big_ivfpq.DATA / f"big_{big.n}")
    os.makedirs(big.work, exist_ok=True)
    out = big_ivfpq.run_all(big)
    rows, table, params = big_ivfpq.report(big, out, png_name)
    if not big.keep:
        import shutil
        shutil.rmtree(big.work, ignore_errors=True)
    return rows, table, params


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=None,
                    help="indexed vectors (default 200,000; 1,000,000 with --full)")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--full", action="store_true",
                    help="1M vectors, more ef / nprobe points, filtered search, and the streamed "
                         "--big-n run; writes results/bench_indexes_full.*")
    ap.add_argument("--big-n", type=int, default=10_000_000,
                    help="--full: vectors of the streamed bigger-than-RAM IVF-PQ run "
                         "(big_ivfpq.py); 0 skips it and keeps the section last written")
    ap.add_argument("--big-args", nargs=argparse.REMAINDER, default=[],
                    help="--full: the rest of the command line goes to big_ivfpq.py "
                         "(--factory, --nprobes, --refines, --keep ...)")
    ap.add_argument("--skip-tables", action="store_true",
                    help="--full: run only the streamed run, keep the tables last written")
    ap.add_argument("--real", action="store_true",
                    help="MiniLM embeddings of real text (real_embeddings.py) instead of the "
                         "synthetic set; writes results/bench_indexes_real.*")
    ap.add_argument("--real-max", type=int, default=30_000,
                    help="texts embedded for --real (base + queries; cached in benchmarks/data)")
    ap.add_argument("--peer-python", metavar="PATH",
                    help="an interpreter with chromadb / docarray<0.30 + annlite installed: "
                         "run peers/peer_search.py with it on the same vectors")
    ap.add_argument("--peers", default="chroma,annlite", help="which peers, comma-separated")
    args = ap.parse_args(argv)
    args.n = args.n or (1_000_000 if args.full else 200_000)
    if args.real:
        return run_real(args)

    t_start = time.perf_counter()
    if not args.full:
        rows, table, params = run_tables(args, "bench_indexes.png")
        path = write_results("bench_indexes", rows, table, params)
        print(table)
        print(f"\nwrote {path} in {time.perf_counter() - t_start:.0f}s")
        return 0
    # --full: the streamed run first, then the tables; the file is rewritten after each, a
    # part not run this time kept as last written
    name = "bench_indexes_full"
    previous = json.loads((RESULTS / f"{name}.json").read_text()) \
        if (RESULTS / f"{name}.json").exists() else {}
    # the JSON keeps each part's params (the big run's per-phase results too) and markdown
    # under "parts", so a rerun of one part can rewrite the file with the other as it was
    old = previous.get("parts", {})
    parts = {key: ([r for r in previous.get("rows", []) if r["section"].startswith("big") == big],
                   old[key]["markdown"], old[key]["params"])
             for key, big in (("tables", False), ("big", True)) if key in old}

    def write() -> Path:
        done = {k: parts[k] for k in ("tables", "big") if k in parts}
        brief = {key: {k: v for k, v in part[2].items() if k != "phases"}
                 for key, part in done.items()}
        path = write_results(name, [r for part in done.values() for r in part[0]],
                             "\n\n".join(part[1] for part in done.values() if part[1]), brief)
        meta = json.loads(path.read_text())
        meta["parts"] = {key: {"params": part[2], "markdown": part[1]} for key, part in done.items()}
        path.write_text(json.dumps(meta, indent=2))
        return path

    if args.big_n:
        parts["big"] = run_big(args, f"{name}_big.png")
        write()
    if not args.skip_tables:
        parts["tables"] = run_tables(args, f"{name}.png")
    path = write()
    print(path.with_suffix(".md").read_text())
    print(f"\nwrote {path} in {time.perf_counter() - t_start:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
