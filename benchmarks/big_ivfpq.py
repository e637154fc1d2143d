"""The bigger-than-RAM run of ``bench_indexes.py --full``: N x D vectors streamed into an
LMDB store with a faiss IVF-PQ + refine index, and bare faiss over the same vectors.

The vectors never exist in RAM at once: block ``b`` of ``--batch`` rows is drawn from the
:class:`bench_indexes.Mixture` with its own seeded generator, so every phase regenerates
the same rows block by block. Each phase runs in its own process (so its peak RSS is its
own) and prints one ``RESULT {json}`` line:

- ``build``: ``da.extend`` of each block's Documents (ids ``'%09d' % row``) into
  ``DocumentArray(storage='lmdb', config={'index': 'faiss', 'index_params': {'factory':
  ..., 'nprobe': ..., 'refine': ...}})``, then the index build (the store trains it on a
  sample of the column and adds the column in ``block_size`` blocks) and ``close()``;
  the peak RSS of the extend and of the index build are reported separately (VmHWM is
  reset between them through ``/proc/self/clear_refs``);
- ``gt``: exact top-k of the held-out queries by streaming the blocks through
  ``shoal.document.distance.knn`` + ``merge_topk``;
- ``query``: the store reopened; batch ``da.find`` recall@10 / QPS per (nprobe, refine) and
  p50 / p95 of single-query ``da.find(q, limit=10)``;
- ``bare``: bare faiss, the same factory string trained on the same sample rows, streamed
  ``add``; refine = fetch k*r candidates and re-rank them exactly with numpy from an
  ``np.memmap`` of the same float32 vector file (IndexRefineFlat would need every vector
  in RAM).

    python benchmarks/big_ivfpq.py --n 10000000            # all phases, ~1 h on 2 cores
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_indexes import K, METRIC, Mixture, recall_at  # noqa: E402

from shoal.docstore.indexing import training_sample_size  # noqa: E402
from shoal.document.distance import knn, merge_topk, normalize_rows  # noqa: E402
from shoal.indexes import create_index  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
PHASES = ("build", "gt", "query", "bare")


# -- memory --------------------------------------------------------------------------------
def memory_mb() -> dict[str, float]:
    """VmHWM (peak RSS), VmRSS, RssAnon and RssFile of this process in MB."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[name] = int(value.split()[0]) / 1024
    return out


class _Peaks:
    """Peak RssAnon / RssFile, polled every 50 ms by a daemon thread: VmHWM is one peak of
    both, and a store's memory maps (LMDB's data.mdb) put clean page-cache pages into RSS."""

    def __init__(self, interval: float = 0.05) -> None:
        import threading

        self.interval = interval
        self.peak = {"RssAnon": 0.0, "RssFile": 0.0}
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            self.sample()
            time.sleep(self.interval)

    def sample(self) -> dict[str, float]:
        now = memory_mb()
        for key in self.peak:
            self.peak[key] = max(self.peak[key], now.get(key, 0.0))
        return now

    def reset(self) -> None:
        self.peak = {"RssAnon": 0.0, "RssFile": 0.0}
        self.sample()


_PEAKS: _Peaks | None = None


def reset_peak() -> None:
    """Start a new peak window: VmHWM (Linux: writing 5 to clear_refs resets it) and the
    polled RssAnon / RssFile peaks."""
    global _PEAKS
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    if _PEAKS is None:
        _PEAKS = _Peaks()
    _PEAKS.reset()


def peaks() -> dict[str, float]:
    """``{'VmHWM', 'RssAnon_peak', 'RssFile_peak'}`` since :func:`reset_peak` (MB)."""
    now = _PEAKS.sample() if _PEAKS else memory_mb()
    out = {"VmHWM": now["VmHWM"]}
    if _PEAKS:
        out.update({f"{k}_peak": v for k, v in _PEAKS.peak.items()})
    return out


# -- data ----------------------------------------------------------------------------------
def blocks(args: argparse.Namespace, mix: Mixture):
    """``(first_row, block)`` of the streamed set, in order."""
    for b, start in enumerate(range(0, args.n, args.batch)):
        yield start, mix.block(b, min(args.batch, args.n - start), args.seed)


def train_size(args: argparse.Namespace) -> int:
    """How many vectors the store trains its index on (shoal.docstore.indexing)."""
    return training_sample_size(create_index("faiss", args.dim, METRIC, factory=args.factory),
                                args.dim)


def train_rows(n: int, size: int) -> np.ndarray:
    """The rows the store trains its index on (IndexSync.rebuild's pick over live labels)."""
    live = np.arange(n, dtype=np.int64)
    if n <= size:
        return live
    return np.sort(np.random.default_rng(0).choice(live, size, replace=False))


def index_params(args: argparse.Namespace) -> dict[str, Any]:
    return {"factory": args.factory, "nprobe": args.nprobe, "refine": args.refine}


def store_config(args: argparse.Namespace, with_index: bool) -> dict[str, Any]:
    cfg: dict[str, Any] = {"path": os.path.join(args.work, "store"), "name": "docs"}
    if with_index:
        cfg.update({"n_dim": args.dim, "metric": METRIC, "index": "faiss",
                    "index_params": index_params(args)})
    return cfg


def percentiles(times: list[float]) -> dict[str, float]:
    ms = np.array(times) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "mean_ms": float(ms.mean())}


def grid(args: argparse.Namespace) -> list[tuple[int, int]]:
    return [(p, r) for p in args.nprobes for r in args.refines]


# -- phases --------------------------------------------------------------------------------
def phase_build(args: argparse.Namespace, mix: Mixture) -> dict[str, Any]:
    from shoal import Document, DocumentArray

    shutil.rmtree(os.path.join(args.work, "store"), ignore_errors=True)
    reset_peak()
    t0 = time.perf_counter()
    da = DocumentArray(storage="lmdb", config=store_config(args, True))
    for start, block in blocks(args, mix):
        da.extend([Document(id=f"{start + j:09d}", embedding=v) for j, v in enumerate(block)])
        if (start // args.batch) % 20 == 0:
            print(f"  extend {start + len(block):,} / {args.n:,} "
                  f"{time.perf_counter() - t0:.0f}s {memory_mb()}", flush=True)
    t_extend = time.perf_counter() - t0
    mem_extend = memory_mb()
    peak_extend = peaks()
    reset_peak()
    t0 = time.perf_counter()
    da.find(mix.queries(1, args.seed), limit=1)  # the index is built on first use: train + add
    t_index = time.perf_counter() - t0
    mem_index = memory_mb()
    peak_index = peaks()
    t0 = time.perf_counter()
    da.close()  # saves the index
    t_close = time.perf_counter() - t0
    mem_close = memory_mb()
    disk = {os.path.basename(p): os.path.getsize(p) for p in
            glob.glob(os.path.join(args.work, "store", "**", "*"), recursive=True) if os.path.isfile(p)}
    return {"extend_s": t_extend, "extend_docs_per_s": args.n / t_extend, "index_build_s": t_index,
            "index_save_s": t_close, "build_total_s": t_extend + t_index + t_close,
            "peak_rss_mb_extend": mem_extend["VmHWM"], "mem_after_extend": mem_extend,
            "peaks_extend": peak_extend,
            "peak_rss_mb_index": max(mem_index["VmHWM"], mem_close["VmHWM"]),
            "mem_after_index": mem_index, "mem_after_close": mem_close, "peaks_index": peak_index,
            "disk_bytes": sum(disk.values()), "disk_files": disk}


def phase_gt(args: argparse.Namespace, mix: Mixture) -> dict[str, Any]:
    reset_peak()
    t0 = time.perf_counter()
    q = mix.queries(args.queries, args.seed)
    best_s = np.full((len(q), K), np.nan, dtype=np.float32)
    best_l = np.full((len(q), K), -1, dtype=np.int64)
    for start, block in blocks(args, mix):
        s, i = knn(q, block, K, METRIC)
        best_s, best_l = merge_topk(best_s, best_l, s, np.where(i >= 0, i + start, -1), K, METRIC)
    np.save(os.path.join(args.work, "gt.npy"), best_l)
    return {"gt_s": time.perf_counter() - t0, "peak_rss_mb": memory_mb()["VmHWM"],
            "peaks": peaks()}


def _consistent(da: Any, args: argparse.Namespace, mix: Mixture) -> bool:
    """The store holds the rows the other phases regenerate (first and last block)."""
    last = (args.n - 1) // args.batch
    ok = True
    for b in (0, last):
        block = mix.block(b, min(args.batch, args.n - b * args.batch), args.seed)
        for j in (0, len(block) - 1):
            ok &= bool(np.array_equal(da[f"{b * args.batch + j:09d}"].embedding, block[j]))
    return ok


def phase_query(args: argparse.Namespace, mix: Mixture) -> dict[str, Any]:
    from _common import best_of
    from shoal import DocumentArray

    q = mix.queries(args.queries, args.seed)
    gt = np.load(os.path.join(args.work, "gt.npy"))
    reset_peak()
    t0 = time.perf_counter()
    da = DocumentArray(storage="lmdb", config=store_config(args, False))  # the recorded index
    t_open = time.perf_counter() - t0
    mem_open = memory_mb()
    rows = []
    for nprobe, r in grid(args):
        def run(nprobe: int = nprobe, r: int = r) -> list[Any]:
            return da.find(q, limit=K, nprobe=nprobe, refine=r)
        found = np.array([[int(i) for i in res[:, "id"]] + [-1] * (K - len(res)) for res in run()])
        rows.append({"system": f"shoal da.find (lmdb + faiss {args.factory}, Documents)",
                     "param": f"nprobe={nprobe},refine={r}", "nprobe": nprobe, "refine": r,
                     "recall@10": recall_at(found, gt), "qps": len(q) / best_of(run, 2)})
        print(f"  {rows[-1]} {memory_mb()}", flush=True)
    one = [q[i] for i in range(len(q))]
    for v in one[:100]:  # warm-up
        da.find(v, limit=K, nprobe=args.nprobe, refine=args.refine)
    times = []
    for v in one:
        t = time.perf_counter()
        da.find(v, limit=K, nprobe=args.nprobe, refine=args.refine)
        times.append(time.perf_counter() - t)
    latency = {"system": "shoal da.find(q, limit=10)", **percentiles(times)}
    mem = memory_mb()
    peak = peaks()
    consistent = _consistent(da, args, mix)
    da.close()
    return {"open_s": t_open, "mem_after_open": mem_open, "rows": rows, "latency": latency,
            "peak_rss_mb": mem["VmHWM"], "mem_end": mem, "peaks": peak,
            "data_consistent": consistent}


def _rerank(mm: np.ndarray, qn: np.ndarray, cand: np.ndarray, k: int) -> np.ndarray:
    """Exact cosine re-rank of (Q, C) candidate rows read from the memmap, numpy only."""
    vecs = mm[np.maximum(cand, 0)]  # (Q, C, D) gathered copy
    sims = np.einsum("qcd,qd->qc", vecs, qn) / np.maximum(np.linalg.norm(vecs, axis=2), 1e-30)
    sims[cand < 0] = -np.inf
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(cand, order, axis=1)


def phase_bare(args: argparse.Namespace, mix: Mixture) -> dict[str, Any]:
    import faiss

    from _common import best_of

    q = mix.queries(args.queries, args.seed)
    qn = normalize_rows(q)
    gt = np.load(os.path.join(args.work, "gt.npy"))
    column = glob.glob(os.path.join(args.work, "store", "docs.*.vec"))
    reset_peak()
    t0 = time.perf_counter()
    index = faiss.index_factory(args.dim, args.factory, faiss.METRIC_INNER_PRODUCT)
    pick = train_rows(args.n, train_size(args))
    sample = [block[pick[(pick >= s) & (pick < s + len(block))] - s] for s, block in blocks(args, mix)]
    index.train(normalize_rows(np.concatenate(sample)))
    del sample
    t_train = time.perf_counter() - t0
    for _, block in blocks(args, mix):
        index.add(normalize_rows(block))
    t_build = time.perf_counter() - t0
    mem_build = memory_mb()
    peak_build = peaks()
    reset_peak()
    # the same float32 vector file the store wrote (a raw row-major file), mapped read-only
    mm = np.memmap(column[0], dtype=np.float32, mode="r").reshape(-1, args.dim)[:args.n] \
        if column else None
    ivf = faiss.extract_index_ivf(index)
    rows = []
    for nprobe, r in grid(args):
        if r > 1 and mm is None:
            continue
        def run(nprobe: int = nprobe, r: int = r) -> np.ndarray:
            ivf.nprobe = nprobe
            cand = index.search(qn, K * r)[1]
            return cand if r == 1 else _rerank(mm, qn, cand, K)
        rows.append({"system": f"bare faiss {args.factory}" + (" + numpy memmap re-rank" if r > 1 else ""),
                     "param": f"nprobe={nprobe},refine={r}", "nprobe": nprobe, "refine": r,
                     "recall@10": recall_at(run(), gt), "qps": len(q) / best_of(run, 2)})
        print(f"  {rows[-1]} {memory_mb()}", flush=True)
    ivf.nprobe = args.nprobe
    times = []
    for i in range(-100, len(q)):  # 100 warm-up queries first
        v = qn[i:i + 1] if i >= 0 else qn[i + 100:i + 101]
        t = time.perf_counter()
        cand = index.search(v, K * args.refine)[1]
        if args.refine > 1 and mm is not None:
            _rerank(mm, v, cand, K)
        if i >= 0:
            times.append(time.perf_counter() - t)
    latency = {"system": f"bare faiss search(1 query, k={K * args.refine}) + re-rank", **percentiles(times)}
    mem = memory_mb()
    peak = peaks()
    return {"train_s": t_train, "peaks_build": peak_build, "peaks_query": peak, "build_s": t_build, "peak_rss_mb_build": mem_build["VmHWM"],
            "mem_after_build": mem_build, "rows": rows, "latency": latency,
            "peak_rss_mb_query": mem["VmHWM"], "mem_end": mem}


# -- report --------------------------------------------------------------------------------
RSS_TARGET_MB = 1536


def report(args: argparse.Namespace, out: dict[str, Any], png_name: str | None = None
           ) -> tuple[list[dict[str, Any]], str, dict[str, Any]]:
    """(rows, markdown, params) of an ``all`` run's ``{phase: result}``."""
    from _common import markdown_table
    from bench_indexes import plot

    from _common import RESULTS

    b, g, qy, bare = (out.get(p, {}) for p in PHASES)
    gb = args.n * args.dim * 4 / 2 ** 30
    head = (f"## {args.n:,} x {args.dim} streamed into an LMDB store, faiss {args.factory} + "
            f"refine ({gb:.1f} GB of float32 vectors, bigger-than-RAM mode)\n\n"
            f"`DocumentArray(storage='lmdb', config={{'index': 'faiss', 'index_params': "
            f"{{'factory': '{args.factory}', ...}}, 'metric': '{METRIC}'}})`, `nprobe` / `refine` "
            "passed to each `find`: PQ codes in RAM, the vectors in "
            "the store's memory-mapped column, refine re-ranks k*refine candidates with exact "
            f"vectors read from it. Vectors drawn block by block ({args.batch:,} rows, "
            "Documents made per block), never all in RAM; each phase in its own process, peak "
            f"RSS = VmHWM of that phase (target < {RSS_TARGET_MB / 1024:.1f} GB). "
            f"{args.queries:,} held-out queries, exact ground truth streamed in blocks. Bare "
            "faiss: the same factory string, trained on the same sample rows, streamed add; its "
            "refine re-ranks the same k*refine candidates with numpy from an np.memmap of the "
            "same vector file (IndexRefineFlat would hold every vector in RAM).")
    errors = [f"{p}: {r['error']}" for p, r in out.items() if isinstance(r, dict) and "error" in r]
    phase_rows = []

    def phase(name: str, wall: Any, peak: float, polled: dict[str, float] | None,
              rate: str = "") -> None:
        polled = polled or {}
        phase_rows.append({"phase": name, "wall_s": wall, "rate": rate, "peak_rss_mb": peak,
                           "anon_peak_mb": polled.get("RssAnon_peak", ""),
                           "file_peak_mb": polled.get("RssFile_peak", "")})

    if "extend_s" in b:
        phase("shoal da.extend (Documents + LMDB + vector column)", b["extend_s"],
              b["peak_rss_mb_extend"], b.get("peaks_extend"),
              f"{b['extend_docs_per_s']:,.0f} docs/s")
        phase(f"shoal index build on first find (train on {min(args.n, train_size(args)):,} sampled "
              "rows + add + save)", b["index_build_s"] + b["index_save_s"],
              b["peak_rss_mb_index"], b.get("peaks_index"))
    if "gt_s" in g:
        phase("exact ground truth (streamed knn + merge_topk)", g["gt_s"], g["peak_rss_mb"],
              g.get("peaks"))
    if "rows" in qy:
        phase(f"shoal queries (reopen + batch finds + {args.queries:,} single finds)", "",
              qy["peak_rss_mb"], qy.get("peaks"))
    if "build_s" in bare:
        phase("bare faiss train + streamed add", bare["build_s"], bare["peak_rss_mb_build"],
              bare.get("peaks_build"))
        phase("bare faiss queries (+ memmap re-rank)", "", bare["peak_rss_mb_query"],
              bare.get("peaks_query"))
    for r in phase_rows:
        r["< 1.5 GB"] = "yes" if r["peak_rss_mb"] < RSS_TARGET_MB else "NO"
    bare_by = {r["param"]: r for r in bare.get("rows", [])}
    curve = []
    for r in qy.get("rows", []):
        curve.append(r)
        if r["param"] in bare_by:
            br = bare_by[r["param"]]
            curve.append(br)
            r["qps_ratio"] = r["qps"] / br["qps"]
    lat = [x for x in (qy.get("latency"), bare.get("latency")) if x]
    parts = [head, *(["**failed:** " + "; ".join(errors)] if errors else []),
             "### phases: wall time and peak RSS\n\npeak_rss_mb is the phase's VmHWM (all "
             "resident pages); anon_peak_mb / file_peak_mb are the highest RssAnon (the "
             "process' own memory) and RssFile (clean page-cache pages of mapped files: LMDB's "
             "data.mdb, libraries) polled every 50 ms.\n\n" + markdown_table(
                 phase_rows, ["phase", "wall_s", "rate", "peak_rss_mb", "anon_peak_mb",
                              "file_peak_mb", "< 1.5 GB"])]
    if curve:
        parts.append("### recall@10 vs QPS (batch of all queries; shoal returns Documents, "
                     "qps_ratio vs bare at the same params)\n\n" + markdown_table(
                         curve, ["system", "param", "recall@10", "qps", "qps_ratio"]))
    if lat:
        parts.append(f"### single-query latency at nprobe={args.nprobe}, refine={args.refine} "
                     f"({args.queries:,} queries one at a time)\n\n" + markdown_table(
                         lat, ["system", "p50_ms", "p95_ms", "mean_ms"]))
    if "disk_bytes" in b:
        parts.append(f"store on disk: {b['disk_bytes'] / 2 ** 30:.2f} GB "
                     f"({', '.join(f'{k} {v / 2 ** 20:,.0f} MB' for k, v in b['disk_files'].items() if v > 2 ** 20)}); "
                     f"data check (store rows == regenerated rows): {qy.get('data_consistent')}")
    if out.get("notes"):  # what the numbers alone do not say, written beside phases.json
        parts.append("notes:\n\n" + "\n".join(f"- {n}" for n in out["notes"]))
    if curve and png_name:
        lines = [{**r, "system": f"{r['system']}, refine={r['refine']}"} for r in curve]
        png = plot(lines, RESULTS / png_name,  # a line per system and refine, over nprobe
                   f"{args.n:,} x {args.dim} streamed, {args.factory}, k={K}, {os.cpu_count()} cpus")
        if png:
            parts.append(f"![recall vs QPS]({png_name})")
    rows = ([{"section": "big_phase", **r} for r in phase_rows]
            + [{"section": "big_curve", **r} for r in curve]
            + [{"section": "big_latency", **r} for r in lat])
    params = {"n": args.n, "dim": args.dim, "batch": args.batch, "factory": args.factory,
              "nprobe": args.nprobe, "refine": args.refine, "queries": args.queries,
              "train_sample": train_size(args), "phases": out}
    return rows, "\n\n".join(parts), params


# -- driver --------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=50_000, help="rows per block / extend call")
    ap.add_argument("--factory", default="IVF4096,PQ32")
    ap.add_argument("--nprobe", type=int, default=32, help="the store's default (latency runs)")
    ap.add_argument("--refine", type=int, default=10, help="the store's default (latency runs)")
    ap.add_argument("--nprobes", type=lambda s: [int(v) for v in s.split(",")], default=[16, 32, 64])
    ap.add_argument("--refines", type=lambda s: [int(v) for v in s.split(",")], default=[1, 10])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default=None, help="store + ground truth directory "
                                                 "(default benchmarks/data/big_<n>)")
    ap.add_argument("--phase", choices=PHASES + ("all",), default="all")
    ap.add_argument("--phases", type=lambda s: s.split(","), default=list(PHASES),
                    help="with --phase all: which phases to (re)run, comma-separated")
    ap.add_argument("--keep", action="store_true", help="keep the store after an 'all' run")
    return ap


def child_args(args: argparse.Namespace) -> list[str]:
    return ["--n", str(args.n), "--dim", str(args.dim), "--queries", str(args.queries),
            "--batch", str(args.batch), "--factory", args.factory, "--nprobe", str(args.nprobe),
            "--refine", str(args.refine), "--nprobes", ",".join(map(str, args.nprobes)),
            "--refines", ",".join(map(str, args.refines)), "--seed", str(args.seed),
            "--work", args.work]


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    """``args.phases`` each in its own process; ``{phase: result}`` (an ``error`` entry on
    failure), merged into ``<work>/phases.json`` so a rerun of some phases keeps the others."""
    saved = Path(args.work) / "phases.json"
    out: dict[str, Any] = json.loads(saved.read_text()) if saved.exists() else {}
    for phase in [p for p in args.phases if p]:  # --phases '': report what phases.json holds
        cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", phase, *child_args(args)]
        print(f"[big] {phase}: {' '.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        result = None
        for line in proc.stdout:
            if line.startswith("RESULT "):
                result = json.loads(line[7:])
            else:
                print(line, end="", flush=True)
        rc = proc.wait()
        if rc or result is None:
            out[phase] = {"error": f"phase {phase} failed (rc {rc})"}
            print(f"[big] {phase} failed (rc {rc})", flush=True)
            break
        out[phase] = result
        saved.write_text(json.dumps(out))
        print(f"[big] {phase} done in {time.perf_counter() - t0:.0f}s: "
              f"{json.dumps({k: v for k, v in result.items() if k != 'rows'})}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.work = args.work or str(DATA / f"big_{args.n}")
    os.makedirs(args.work, exist_ok=True)
    if args.phase == "all":
        out = run_all(args)
        print(json.dumps(out, indent=1))
        print(report(args, out)[1])
        if not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)
        return 0
    mix = Mixture(args.dim)
    result = globals()[f"phase_{args.phase}"](args, mix)
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
