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
    rows = np.zeros(labels.shape, dtype=np.intp)
    rows[valid] = inverse
    dots = np.empty(labels.shape, dtype=np.float32)                  # (Q, C)
    step = max(1, _GATHER_FLOATS // max(1, labels.shape[1] * vecs.shape[1]))
    for start in range(0, labels.shape[0], step):  # cache-sized gathers, not one (Q, C, D) array
        sl = slice(start, start + step)
        np.matmul(vecs[rows[sl]], queries[sl, :, None], out=dots[sl, :, None])
    if metric == "cosine":
        scores = 1.0 - dots
    elif metric == "inner_product":
        scores = dots
    else:
        sq = np.einsum("ij,ij->i", vecs, vecs)[rows] + np.einsum("ij,ij->i", queries, queries)[:, None]
        scores = np.maximum(sq - 2.0 * dots, 0.0)
        if metric == "euclidean":
            scores = np.sqrt(scores)
    scores = scores.astype(np.float32, copy=False)
    key = np.where(labels >= 0, scores * sort_key(metric), np.inf)
    order = np.argsort(key, axis=1, kind="stable")[:, :k]
    return pad_result(np.take_along_axis(scores, order, axis=1),
                      np.take_along_axis(labels, order, axis=1), k)
