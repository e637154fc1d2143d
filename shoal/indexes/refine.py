"""Exact re-ranking of approximate candidates with vectors fetched from the store."""
from __future__ import annotations

from typing import Callable

import numpy as np

from shoal.errors import BadInputError
from shoal.indexes.base import pad_result
from shoal.utils.distance import normalize_rows, sort_key

__all__ = ["VectorSource", "rerank"]

VectorSource = Callable[[np.ndarray], np.ndarray]
"""``labels (int64 array) -> (n, D) float32`` exact vectors, in the order asked."""


def rerank(queries: np.ndarray, labels: np.ndarray, source: VectorSource, k: int,
           metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Rescore ``(Q, C)`` candidate ``labels`` exactly and keep the best k per query.

    ``queries`` are raw (not normalized); scores follow :mod:`shoal.utils.distance`.
    """
    uniq = np.unique(labels[labels >= 0])
    if uniq.size == 0:
        return pad_result(np.full(labels.shape, np.nan, np.float32), labels, k)
    vecs = np.asarray(source(uniq), dtype=np.float32)
    if vecs.shape != (uniq.size, queries.shape[1]):
        raise BadInputError(
            f"vector_source returned shape {vecs.shape} for {uniq.size} labels of dimension "
            f"{queries.shape[1]}")
    cand = vecs[np.searchsorted(uniq, np.maximum(labels, 0))]          # (Q, C, D)
    if metric == "cosine":
        qn = normalize_rows(queries)
        cn = cand / np.maximum(np.linalg.norm(cand, axis=2, keepdims=True), 1e-30)
        scores = 1.0 - np.einsum("qd,qcd->qc", qn, cn)
    elif metric == "inner_product":
        scores = np.einsum("qd,qcd->qc", queries, cand)
    else:
        diff = cand - queries[:, None, :]
        scores = np.einsum("qcd,qcd->qc", diff, diff)
        if metric == "euclidean":
            scores = np.sqrt(scores)
    scores = scores.astype(np.float32, copy=False)
    key = np.where(labels >= 0, scores * sort_key(metric), np.inf)
    order = np.argsort(key, axis=1, kind="stable")[:, :k]
    return pad_result(np.take_along_axis(scores, order, axis=1),
                      np.take_along_axis(labels, order, axis=1), k)
