"""A real-embedding vector set for the ANN benchmarks: MiniLM 384-d of offline text.

Texts (all available without a network):

- Python standard-library docstrings, via :func:`shoal.cli.corpus.stdlib_docs` (~2,800);
- Debian package descriptions from ``apt-cache dumpavail`` (``"<package>: <synopsis>"``,
  tens of thousands; run ``apt-get update`` once if the package lists are empty).

Texts are de-duplicated, shuffled with a fixed seed and capped at ``--max``; the last
``--queries`` of them are held out as queries (never indexed). Embeddings are computed
once with :class:`shoal.models.MiniLMEncoder` (unit length, float32) and cached in
``benchmarks/data/`` (git-ignored)::

    benchmarks/data/minilm_<max>_base.npy     (max - queries, 384) float32
    benchmarks/data/minilm_<max>_queries.npy  (queries, 384) float32
    benchmarks/data/minilm_<max>_texts.json   the texts, base first then queries

A second call returns the cached arrays instantly.

    python benchmarks/real_embeddings.py --max 30000     # a few minutes on 2 cores
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_MAX = 30_000
DEFAULT_QUERIES = 1_000


def stdlib_texts() -> list[str]:
    from shoal.cli.corpus import stdlib_docs

    return [d.text for d in stdlib_docs()]


def debian_texts() -> list[str]:
    """``"<package>: <short description>"`` for every package apt knows about."""
    try:
        out = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True,
                             check=False, timeout=300).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    texts, pkg, desc = [], None, None
    for line in out.splitlines() + [""]:
        if not line.strip():
            if pkg and desc:
                texts.append(f"{pkg}: {desc}")
            pkg = desc = None
        elif line.startswith("Package:"):
            pkg = line.split(":", 1)[1].strip()
        elif line.startswith("Description:"):
            desc = line.split(":", 1)[1].strip()
    return texts


def collect_texts(max_texts: int, seed: int = 0) -> list[str]:
    """All stdlib docstrings, then a seeded sample of Debian descriptions up to ``max_texts``."""
    rng = random.Random(seed)
    debian = debian_texts()
    rng.shuffle(debian)
    seen: set[str] = set()
    texts = []
    for t in stdlib_texts() + debian:
        # the synopsis alone (some -dev / -doc / -dbg packages share one): keep the first
        key = t.split(": ", 1)[-1].lower()
        if t not in seen and key not in seen:
            seen.update((t, key))
            texts.append(t)
        if len(texts) >= max_texts:
            break
    rng.shuffle(texts)  # queries (the tail) come from both sources
    return texts


def embed(texts: list[str], chunk: int = 512) -> np.ndarray:
    from shoal.models import MiniLMEncoder

    enc = MiniLMEncoder(batch_size=64)
    out = np.empty((len(texts), enc.dim), dtype=np.float32)
    t0 = time.perf_counter()
    width = 30
    for start in range(0, len(texts), chunk):
        out[start:start + chunk] = enc.encode(texts[start:start + chunk])
        done = min(start + chunk, len(texts))
        rate = done / (time.perf_counter() - t0)
        bar = "#" * int(width * done / len(texts))
        eta = (len(texts) - done) / rate
        print(f"\rembedding [{bar:<{width}}] {done:,}/{len(texts):,} {rate:,.0f} texts/s "
              f"eta {eta:,.0f}s ", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return out


def load(max_texts: int = DEFAULT_MAX, n_queries: int = DEFAULT_QUERIES,
         data_dir: Path = DATA) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(base, queries, texts)``, building and caching them on first use."""
    stem = data_dir / f"minilm_{max_texts}"
    base_p, q_p = Path(f"{stem}_base.npy"), Path(f"{stem}_queries.npy")
    texts_p = Path(f"{stem}_texts.json")
    if base_p.exists() and q_p.exists() and texts_p.exists():
        q = np.load(q_p)
        if len(q) == n_queries:
            return np.load(base_p), q, json.loads(texts_p.read_text())
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    texts = collect_texts(max_texts)
    if len(texts) <= n_queries:
        raise SystemExit(f"only {len(texts)} texts found: too few for {n_queries} queries")
    print(f"{len(texts):,} texts (stdlib docstrings + Debian package descriptions)",
          file=sys.stderr, flush=True)
    vecs = embed(texts)
    base, q = vecs[:-n_queries], vecs[-n_queries:]
    data_dir.mkdir(parents=True, exist_ok=True)
    for p, arr in ((base_p, base), (q_p, q)):
        tmp = p.with_suffix(".tmp.npy")
        np.save(tmp, np.ascontiguousarray(arr))
        tmp.replace(p)
    texts_p.write_text(json.dumps(texts))
    return base, q, texts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max", type=int, default=DEFAULT_MAX, help="texts in all (base + queries)")
    ap.add_argument("--queries", type=int, default=DEFAULT_QUERIES)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    base, q, texts = load(args.max, args.queries)
    print(f"base {base.shape}, queries {q.shape} in {time.perf_counter() - t0:.1f}s; "
          f"e.g. {texts[0]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
