"""Exact re-ranking of approximate candidates with vectors fetched from the store."""
from __future__ import annotations

from typing import Any, Callable, Union

import numpy as np

from shoal.errors import BadInputError
from shoal.indexes.base import pad_result
from shoal.document.distance import cosine_of_dot, normalize_rows, sort_key

__all__ = ["VectorSource", "fetch_vectors", "rerank"]

VectorSource = Union[Callable[[np.ndarray], np.ndarray], np.ndarray, Any]
"""Where exact vectors come from, one of:

- a 2-D float32 array (e.g. a memory-mapped column) whose row ``label`` is that label's
  vector - the fast path: candidates are scored in place, nothing is copied;
- an object with a ``matrix()`` method returning such an array or such a callable (a
  store's vector column, asked again on each search so it sees rows appended since; a
  column too big to map hands out a reader instead);
- a callable ``labels (int64) -> (n, D) float32`` in the order asked.
"""


def _resolve(source: VectorSource) -> Any:
    if not isinstance(source, np.ndarray) and callable(getattr(source, "matrix", None)):
        return source.matrix()
    return source


def _faiss() -> Any:
    try:
        import faiss  # noqa: PLC0415 - its C++ kernels score candidates by id in parallel
    except ImportError:  # pragma: no cover - faiss is a core dependency
        return None
    return faiss


def fetch_vectors(source: VectorSource, labels: np.ndarray, dim: int) -> np.ndarray:
    """Exact vectors of ``labels`` from ``source``, checked for shape."""
    source = _resolve(source)
    if callable(source):
        vecs = np.asarray(source(labels), dtype=np.float32)
    else:
        vecs = np.asarray(source[labels], dtype=np.float32)
    if vecs.shape != (labels.size, dim):
        raise BadInputError(
            f"vector_source returned shape {vecs.shape} for {labels.size} labels of dimension {dim}")
    return vecs


def rerank(queries: np.ndarray, labels: np.ndarray, source: VectorSource, k: int,
           metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Rescore ``(Q, C)`` candidate ``labels`` exactly and keep the best k per query.

    ``queries`` are raw (not normalized); scores follow :mod:`shoal.document.distance`.
    """
    faiss = _faiss()
    source = _resolve(source)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if metric == "cosine":
        queries = normalize_rows(queries)
    if (faiss is not None and isinstance(source, np.ndarray) and source.ndim == 2
            and source.dtype == np.float32 and source.flags.c_contiguous):
        if labels.size and labels.max() >= source.shape[0]:
            raise BadInputError(
                f"vector_source has {source.shape[0]} rows but label {labels.max()} was asked for")
        rows, vecs = np.ascontiguousarray(labels, dtype=np.int64), source
    else:
        valid = labels >= 0
        uniq, inverse = np.unique(labels[valid], return_inverse=True)
        if uniq.size == 0:
            return pad_result(np.full(labels.shape, np.nan, np.float32), labels, k)
        vecs = np.ascontiguousarray(fetch_vectors(source, uniq, queries.shape[1]))
        rows = np.full(labels.shape, -1, dtype=np.int64)
        rows[valid] = inverse
    scores = _scores_by_row(faiss, queries, vecs, rows, metric)
    key = np.where(labels >= 0, scores * sort_key(metric), np.inf)
    key[np.isnan(key)] = np.inf
    if k < key.shape[1]:
        part = np.argpartition(key, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(part, np.argsort(np.take_along_axis(key, part, axis=1),
                                                    axis=1, kind="stable"), axis=1)
    else:
        order = np.argsort(key, axis=1, kind="stable")
    return pad_result(np.take_along_axis(scores, order, axis=1),
                      np.take_along_axis(labels, order, axis=1), k)


def _scores_by_row(faiss: Any, queries: np.ndarray, vecs: np.ndarray, rows: np.ndarray,
                   metric: str) -> np.ndarray:
    """``score(queries[i], vecs[rows[i, j]])`` for every candidate; rows of -1 are ignored.

    ``queries`` are already unit rows for cosine; ``vecs`` are raw.
    """
    nq, nc = rows.shape
    dim = queries.shape[1]
    l2 = metric in ("euclidean", "sqeuclidean")
    out = np.empty((nq, nc), dtype=np.float32)
    sq_norms = None
    if faiss is not None:
        fn = faiss.fvec_L2sqr_by_idx if l2 else faiss.fvec_inner_products_by_idx
        fn(faiss.swig_ptr(out), faiss.swig_ptr(queries), faiss.swig_ptr(vecs),
           faiss.swig_ptr(rows), dim, nq, nc)
        if metric == "cosine":  # |v|^2 = L2sqr(0, v), without gathering the vectors
            sq_norms = np.empty((nq, nc), dtype=np.float32)
            zeros = np.zeros((nq, dim), dtype=np.float32)
            faiss.fvec_L2sqr_by_idx(faiss.swig_ptr(sq_norms), faiss.swig_ptr(zeros),
                                    faiss.swig_ptr(vecs), faiss.swig_ptr(rows), dim, nq, nc)
    else:
        safe = np.maximum(rows, 0)
        step = max(1, (1 << 18) // max(1, nc * dim))
        for start in range(0, nq, step):  # cache-sized gathers, not one (Q, C, D) array
            sl = slice(start, start + step)
            g = vecs[safe[sl]]
            if l2:
                g = g - queries[sl, None, :]
                out[sl] = np.einsum("qcd,qcd->qc", g, g)
            else:
                np.matmul(g, queries[sl, :, None], out=out[sl, :, None])
        if metric == "cosine":
            sq_norms = np.einsum("ij,ij->i", vecs, vecs)[safe]
    if metric == "cosine":
        with np.errstate(invalid="ignore", divide="ignore"):  # -1 rows: masked by the caller
            norms = np.sqrt(sq_norms)
            norms[norms == 0] = 1.0
            return cosine_of_dot(out / norms)
    if metric == "euclidean":
        return np.sqrt(np.maximum(out, 0.0))
    return out
