"""How fast does a Flow start, and what does it cost to move documents through it?

Measures, in one run:

* startup: ``with Flow().add(uses=NoOp) as f:`` (enter and exit), in-process and with
  ``runtime='process'``;
* overhead: ``f.post`` of one 100-document request through one no-op executor minus
  calling the executor method directly;
* throughput: docs/s for 10k Documents (128-d float32 embedding + short text),
  ``request_size=100``, through 1 and 3 chained no-op executors, in-process and process;
* optionally the same startup and throughput numbers for Jina 3 (``--jina-python PATH``:
  an interpreter with ``jina==3.27.*`` installed), run in a subprocess, with ratios.

Prints a Markdown table and writes ``benchmarks/results/bench_flow.json``.
Usage: ``python benchmarks/bench_flow.py [--docs 10000] [--jina-python /tmp/jinavenv/bin/python]``
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shoal.document.array import DocumentArray  # noqa: E402
from shoal.document.document import Document  # noqa: E402
from shoal.executors import Executor, requests  # noqa: E402
from shoal.flow import Flow  # noqa: E402
import shoal.serve.runtime  # noqa: E402,F401 - registers runtime='process'

RESULTS = ROOT / "benchmarks" / "results"


class NoOp(Executor):
    @requests
    def noop(self, docs, **kwargs):
        return None


def make_docs(n: int, dim: int = 128, seed: int = 0) -> DocumentArray:
    rng = np.random.default_rng(seed)
    emb = rng.random((n, dim), dtype=np.float32)
    return DocumentArray([Document(text=f"document number {i}", embedding=emb[i])
                          for i in range(n)])


def _flow(n_exec: int, runtime: str) -> Flow:
    f = Flow()
    for _ in range(n_exec):
        f = f.add(uses=NoOp, runtime=runtime)
    return f


def bench_startup(runtime: str, repeats: int) -> dict[str, float]:
    enter, exit_ = [], []
    for _ in range(repeats):
        f = _flow(1, runtime)
        t0 = time.perf_counter()
        f.start()
        t1 = time.perf_counter()
        f.close()
        t2 = time.perf_counter()
        enter.append(t1 - t0)
        exit_.append(t2 - t1)
    return {"start_s": statistics.median(enter), "stop_s": statistics.median(exit_),
            "start_min_s": min(enter)}


def bench_overhead(repeats: int) -> dict[str, float]:
    docs = make_docs(100)
    ex = NoOp()
    direct, posted = [], []
    for _ in range(200):  # warm-up
        ex.noop(docs=docs, parameters={})
    with _flow(1, "thread") as f:
        for _ in range(200):
            f.post("/", docs)
        for _ in range(repeats):
            t0 = time.perf_counter()
            ex.noop(docs=docs, parameters={})
            t1 = time.perf_counter()
            f.post("/", docs)
            t2 = time.perf_counter()
            direct.append(t1 - t0)
            posted.append(t2 - t1)
    d, p = statistics.median(direct), statistics.median(posted)
    return {"direct_us": d * 1e6, "post_us": p * 1e6, "overhead_us": (p - d) * 1e6}


def bench_throughput(n_exec: int, runtime: str, docs: DocumentArray,
                     repeats: int) -> dict[str, float]:
    with _flow(n_exec, runtime) as f:
        f.post("/", docs[:1000], request_size=100)  # warm-up
        rates = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = f.post("/", docs, request_size=100)
            rates.append(len(docs) / (time.perf_counter() - t0))
            assert len(out) == len(docs)
    return {"docs_per_s": statistics.median(rates)}


JINA_SCRIPT = textwrap.dedent("""
    import json, os, statistics, sys, time
    os.environ.setdefault('JINA_OPTOUT_TELEMETRY', '1')
    import numpy as np
    from docarray import Document, DocumentArray
    from jina import Executor, Flow, requests

    class NoOp(Executor):
        @requests
        def noop(self, docs, **kwargs):
            return None

    n, startup_repeats, repeats = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(0)
    emb = rng.random((n, 128), dtype=np.float32)
    docs = DocumentArray([Document(text=f'document number {i}', embedding=emb[i])
                          for i in range(n)])
    out = {}
    starts = []
    for _ in range(startup_repeats):
        f = Flow().add(uses=NoOp)
        t0 = time.perf_counter()
        with f:
            starts.append(time.perf_counter() - t0)
    out['startup'] = {'start_s': statistics.median(starts), 'start_min_s': min(starts)}
    for k in (1, 3):
        f = Flow()
        for _ in range(k):
            f = f.add(uses=NoOp)
        with f:
            f.post('/', docs[:1000], request_size=100)
            rates = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                res = f.post('/', docs, request_size=100)
                rates.append(n / (time.perf_counter() - t0))
                assert len(res) == n
        out[f'throughput_{k}'] = {'docs_per_s': statistics.median(rates)}
    import jina
    out['version'] = jina.__version__
    print('JINA_RESULT ' + json.dumps(out), flush=True)
""")


def bench_jina(python: str, n: int, startup_repeats: int, repeats: int) -> dict | None:
    env = {**os.environ, "JINA_OPTOUT_TELEMETRY": "1", "JINA_LOG_LEVEL": "ERROR"}
    try:
        proc = subprocess.run([python, "-c", JINA_SCRIPT, str(n), str(startup_repeats),
                               str(repeats)], capture_output=True, text=True, env=env,
                              timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"jina run failed: {exc}", file=sys.stderr)
        return None
    for line in proc.stdout.splitlines():
        if line.startswith("JINA_RESULT "):
            return json.loads(line.split(" ", 1)[1])
    print(f"jina run failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}", file=sys.stderr)
    return None


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}x" if a and b else "-"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--startup-repeats", type=int, default=10)
    ap.add_argument("--overhead-repeats", type=int, default=2000)
    ap.add_argument("--jina-python", default=None,
                    help="interpreter with jina 3 installed, for side-by-side numbers")
    ap.add_argument("--out", default=str(RESULTS / "bench_flow.json"))
    args = ap.parse_args()

    res: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                             "platform": platform.platform()},
                 "docs": args.docs}
    res["startup_thread"] = bench_startup("thread", args.startup_repeats)
    res["startup_process"] = bench_startup("process", max(3, args.startup_repeats // 3))
    res["overhead"] = bench_overhead(args.overhead_repeats)
    docs = make_docs(args.docs)
    for runtime in ("thread", "process"):
        for k in (1, 3):
            res[f"throughput_{runtime}_{k}"] = bench_throughput(k, runtime, docs, args.repeats)
    jina = None
    if args.jina_python:
        jina = bench_jina(args.jina_python, args.docs, max(3, args.startup_repeats // 3),
                          args.repeats)
        res["jina"] = jina

    j = jina or {}
    js = (j.get("startup") or {}).get("start_s")
    rows = [
        ("startup `with Flow().add(NoOp)` (in-process)",
         f"{res['startup_thread']['start_s'] * 1e3:.2f} ms", "<= 50 ms",
         f"{js * 1e3:.0f} ms" if js else "-", _ratio(js, res["startup_thread"]["start_s"])),
        ("startup (runtime='process')", f"{res['startup_process']['start_s'] * 1e3:.0f} ms", "",
         f"{js * 1e3:.0f} ms" if js else "-", _ratio(js, res["startup_process"]["start_s"])),
        ("post 100 docs, overhead vs direct call", f"{res['overhead']['overhead_us']:.1f} us",
         "<= 100 us", "-", "-"),
    ]
    for runtime in ("thread", "process"):
        for k in (1, 3):
            ours = res[f"throughput_{runtime}_{k}"]["docs_per_s"]
            theirs = (j.get(f"throughput_{k}") or {}).get("docs_per_s")
            rows.append((f"docs/s, {k} no-op{'s' if k > 1 else ''}, {runtime}",
                         f"{ours:,.0f}", ">= 2x Jina" if runtime == "thread" else "",
                         f"{theirs:,.0f}" if theirs else "-", _ratio(ours, theirs)))
    lines = ["| measure | shoal | target | jina 3 | shoal / jina |",
             "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(r)} |" for r in rows]
    table = "\n".join(lines)
    print(table)
    if jina:
        print(f"\njina {jina.get('version')} via {args.jina_python}")
    res["table_markdown"] = table
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
