"""Exact re-ranking of approximate candidates with vectors fetched from the store."""
from __future__ import annotations

from typing import Callable

import numpy as np

from shoal.errors import BadInputError
from shoal.indexes.base import pad_result
from shoal.utils.distance import normalize_rows, sort_key

__all__ = ["VectorSource", "rerank"]

_GATHER_FLOATS = 1 << 18

VectorSource = Callable[[np.ndarray], np.ndarray]
"""``labels (int64 array) -> (n, D) float32`` exact vectors, in the order asked."""


def rerank(queries: np.ndarray, labels: np.ndarray, source: VectorSource, k: int,
           metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Rescore ``(Q, C)`` candidate ``labels`` exactly and keep the best k per query.

    ``queries`` are raw (not normalized); scores follow :mod:`shoal.utils.distance`.
    """
    valid = labels >= 0
    uniq, inverse = np.unique(labels[valid], return_inverse=True)
    if uniq.size == 0:
        return pad_result(np.full(labels.shape, np.nan, np.float32), labels, k)
    vecs = np.asarray(source(uniq), dtype=np.float32)
    if vecs.shape != (uniq.size, queries.shape[1]):
        raise BadInputError(
            f"vector_source returned shape {vecs.shape} for {uniq.size} labels of dimension "
            f"{queries.shape[1]}")
    if metric == "cosine":  # normalize each distinct vector once, not each candidate
        vecs, queries = normalize_rows(vecs), normalize_rows(queries)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    rows = np.full(labels.shape, -1, dtype=np.int64)
    rows[valid] = inverse
    scores = _scores_by_row(queries, vecs, rows, metric)
    scores = scores.astype(np.float32, copy=False)
    key = np.where(labels >= 0, scores * sort_key(metric), np.inf)
    order = np.argsort(key, axis=1, kind="stable")[:, :k]
    return pad_result(np.take_along_axis(scores, order, axis=1),
                      np.take_along_axis(labels, order, axis=1), k)


def _scores_by_row(queries: np.ndarray, vecs: np.ndarray, rows: np.ndarray,
                   metric: str) -> np.ndarray:
    """``score(queries[i], vecs[rows[i, j]])`` for every candidate (rows of -1 are ignored)."""
    nq, nc = rows.shape
    l2 = metric in ("euclidean", "sqeuclidean")
    try:
        import faiss  # noqa: PLC0415 - its C++ kernels do this gather + dot in parallel
    except ImportError:  # pragma: no cover - faiss is a core dependency
        faiss = None
    out = np.empty((nq, nc), dtype=np.float32)
    if faiss is not None:
        fn = faiss.fvec_L2sqr_by_idx if l2 else faiss.fvec_inner_products_by_idx
        fn(faiss.swig_ptr(out), faiss.swig_ptr(queries), faiss.swig_ptr(vecs),
           faiss.swig_ptr(rows), queries.shape[1], nq, nc)
    else:
        step = max(1, _GATHER_FLOATS // max(1, nc * vecs.shape[1]))
        safe = np.maximum(rows, 0)
        for start in range(0, nq, step):  # cache-sized gathers, not one (Q, C, D) array
            sl = slice(start, start + step)
            g = vecs[safe[sl]]
            if l2:
                g = g - queries[sl, None, :]
                out[sl] = np.einsum("qcd,qcd->qc", g, g)
            else:
                np.matmul(g, queries[sl, :, None], out=out[sl, :, None])
    if metric == "cosine":
        return 1.0 - out
    if metric == "euclidean":
        return np.sqrt(np.maximum(out, 0.0))
    return out
