"""Gateway + Client speed over loopback: gRPC, HTTP and WebSocket, one no-op executor.

For each protocol a Flow with one no-op executor serves in a separate process and the
Client runs in this one:

* throughput: docs/s posting N Documents (128-d float32 embedding + short text) with
  ``request_size=100`` (median of ``--repeats`` runs after a warm-up);
* latency: p50 / p99 of ``--latency-requests`` sequential single-Document posts.

``--jina-python PATH`` runs the same measurements with Jina 3 (an interpreter with
``jina==3.27.*`` and ``docarray<0.30``), and the table shows shoal / Jina ratios
(targets: >= 2x docs/s, <= 0.5x p50).

Usage: ``python benchmarks/bench_gateway.py [--docs 10000] [--jina-python /tmp/jinavenv/bin/python]``
Writes ``benchmarks/results/bench_gateway.{json,md}``.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table, write_results  # noqa: E402

PROTOCOLS = ("grpc", "http", "websocket")

SHOAL_SERVER = textwrap.dedent("""
    import sys
    import shoal.serve  # registers the gateways
    from shoal import Executor, Flow, requests

    class NoOp(Executor):
        @requests
        def noop(self, docs, **kwargs):
            return None

    protocol, port = sys.argv[1], int(sys.argv[2])
    with Flow(protocol=protocol, port=port).add(uses=NoOp):
        print('READY', flush=True)
        sys.stdin.read()  # serve until the benchmark closes our stdin
""")

# Runs under the Jina interpreter: server (Jina's own processes) + Jina Client here.
JINA_SCRIPT = textwrap.dedent("""
    import json, os, socket, statistics, sys, time
    os.environ.setdefault('JINA_OPTOUT_TELEMETRY', '1')
    import numpy as np
    from docarray import Document, DocumentArray
    from jina import Client, Executor, Flow, requests

    class NoOp(Executor):
        @requests
        def noop(self, docs, **kwargs):
            return None

    n, repeats, lat_n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    protocols = sys.argv[4].split(',')
    emb = np.random.default_rng(0).random((n, 128), dtype=np.float32)
    docs = DocumentArray([Document(text=f'document number {i}', embedding=emb[i])
                          for i in range(n)])
    out = {}
    for protocol in protocols:
        s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()
        with Flow(protocol=protocol, port=port).add(uses=NoOp):
            c = Client(port=port, protocol=protocol, host='127.0.0.1')
            c.post('/index', docs[:1000], request_size=100)
            rates = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                res = c.post('/index', docs, request_size=100)
                rates.append(n / (time.perf_counter() - t0))
                assert len(res) == n
            lats = []
            one = Document(text='one', embedding=emb[0])
            for _ in range(lat_n):
                t0 = time.perf_counter()
                c.post('/search', one)
                lats.append((time.perf_counter() - t0) * 1000)
            lats.sort()
            out[protocol] = {'docs_per_s': statistics.median(rates),
                             'p50_ms': lats[len(lats) // 2],
                             'p99_ms': lats[min(len(lats) - 1, int(len(lats) * 0.99))]}
    import jina
    out['version'] = jina.__version__
    print('JINA_RESULT ' + json.dumps(out), flush=True)
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_docs(n: int):
    import numpy as np

    from shoal import Document, DocumentArray

    emb = np.random.default_rng(0).random((n, 128), dtype=np.float32)
    return DocumentArray([Document(text=f"document number {i}", embedding=emb[i])
                          for i in range(n)])


def bench_shoal(protocol: str, docs, repeats: int, lat_n: int) -> dict[str, float]:
    from shoal import Document
    from shoal.client import Client

    port = free_port()
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    server = subprocess.Popen([sys.executable, "-c", SHOAL_SERVER, protocol, str(port)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = server.stdout.readline()
        if not line.startswith("READY"):
            raise RuntimeError(f"the shoal {protocol} server did not start")
        with Client(host="127.0.0.1", port=port, protocol=protocol) as c:
            c.post("/index", docs[:1000], request_size=100)
            rates = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                res = c.post("/index", docs, request_size=100)
                rates.append(len(docs) / (time.perf_counter() - t0))
                assert len(res) == len(docs)
            one = Document(text="one", embedding=docs[0].embedding)
            for _ in range(50):
                c.post("/search", one)
            lats = []
            for _ in range(lat_n):
                t0 = time.perf_counter()
                c.post("/search", one)
                lats.append((time.perf_counter() - t0) * 1000)
    finally:
        server.stdin.close()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    lats.sort()
    return {"docs_per_s": statistics.median(rates), "p50_ms": lats[len(lats) // 2],
            "p99_ms": lats[min(len(lats) - 1, int(len(lats) * 0.99))]}


def bench_jina(python: str, n: int, repeats: int, lat_n: int,
               protocols: list[str]) -> dict | None:
    env = {**os.environ, "JINA_OPTOUT_TELEMETRY": "1", "JINA_LOG_LEVEL": "ERROR"}
    env.pop("PYTHONPATH", None)
    try:
        proc = subprocess.run([python, "-c", JINA_SCRIPT, str(n), str(repeats), str(lat_n),
                               ",".join(protocols)], capture_output=True, text=True, env=env,
                              timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"jina run failed: {exc}", file=sys.stderr)
        return None
    for line in proc.stdout.splitlines():
        if line.startswith("JINA_RESULT "):
            return json.loads(line.split(" ", 1)[1])
    print(f"jina run failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}", file=sys.stderr)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--latency-requests", type=int, default=1000)
    ap.add_argument("--protocols", default=",".join(PROTOCOLS))
    ap.add_argument("--jina-python", default=None,
                    help="interpreter with jina 3 installed, for side-by-side numbers")
    args = ap.parse_args()
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]

    docs = make_docs(args.docs)
    shoal_res = {p: bench_shoal(p, docs, args.repeats, args.latency_requests) for p in protocols}
    jina = bench_jina(args.jina_python, args.docs, args.repeats, args.latency_requests,
                      protocols) if args.jina_python else None

    rows = []
    for p in protocols:
        s, j = shoal_res[p], (jina or {}).get(p, {})
        row = {"protocol": p, "shoal docs/s": s["docs_per_s"], "shoal p50 ms": s["p50_ms"],
               "shoal p99 ms": s["p99_ms"]}
        if j:
            row.update({"jina docs/s": j["docs_per_s"], "jina p50 ms": j["p50_ms"],
                        "jina p99 ms": j["p99_ms"],
                        "docs/s ratio (target >= 2)": s["docs_per_s"] / j["docs_per_s"],
                        "p50 ratio (target <= 0.5)": s["p50_ms"] / j["p50_ms"]})
        rows.append(row)
    columns = list(rows[0])
    table = markdown_table(rows, columns)
    params = {"docs": args.docs, "request_size": 100, "embedding_dim": 128,
              "repeats": args.repeats, "latency_requests": args.latency_requests,
              "executor": "one no-op", "server": "separate process, loopback",
              "jina": (jina or {}).get("version")}
    write_results("bench_gateway", rows, table, params)
    print(table)


if __name__ == "__main__":
    main()
