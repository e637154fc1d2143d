"""Exact vector scoring on contiguous float32 matrices: the one place metrics are defined.

Every score a user sees comes from here, whichever code path found the match:

=============== ============================== =================
metric          score value                    best
=============== ============================== =================
cosine          cosine distance ``1 - cos``    lowest (0 = same)
euclidean       L2 distance                    lowest
sqeuclidean     squared L2 distance            lowest
inner_product   inner product ``q . d``        highest
=============== ============================== =================

(This is DocArray 0.21's convention: ``d.matches[0].scores['cosine'].value`` is a distance.)

Work is done by faiss' BLAS kernels when faiss is installed (``faiss.knn``), by numpy
otherwise, always in blocks so memory is bounded by the block size, not the data size.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

import numpy as np

from shoal.errors import BadInputError, DimensionMismatchError, EmptyArrayError, UnknownMetricError

__all__ = [
    "METRICS", "canonical_metric", "higher_is_better", "as_matrix", "normalize_rows",
    "pairwise", "knn", "knn_blocks", "merge_topk", "sort_key", "cosine_of_dot",
]

METRICS = ("cosine", "euclidean", "sqeuclidean", "inner_product")
_ALIASES = {
    "cosine": "cosine", "cos": "cosine",
    "euclidean": "euclidean", "l2": "euclidean", "euclid": "euclidean",
    "sqeuclidean": "sqeuclidean", "sql2": "sqeuclidean", "squared_euclidean": "sqeuclidean",
    "inner_product": "inner_product", "ip": "inner_product", "dot": "inner_product",
}


def canonical_metric(metric: str) -> str:
    """The canonical name of ``metric`` (accepts aliases such as ``'l2'`` and ``'ip'``)."""
    try:
        return _ALIASES[str(metric).lower()]
    except KeyError:
        raise UnknownMetricError(
            f"unknown metric {metric!r}; use one of {', '.join(METRICS)}"
        ) from None


def higher_is_better(metric: str) -> bool:
    """True for similarity scores (inner product), False for distances."""
    return canonical_metric(metric) == "inner_product"


def sort_key(metric: str) -> float:
    """+1 to sort a metric's scores ascending (distances), -1 for descending (similarities)."""
    return -1.0 if higher_is_better(metric) else 1.0


def as_matrix(x: Any, dim: int | None = None, *, what: str = "vectors",
              allow_empty: bool = False) -> np.ndarray:
    """``x`` as a C-contiguous 2-D float32 matrix, with clear errors for bad input.

    A 1-D vector becomes one row. Raises DimensionMismatchError for ragged input or a
    dimension other than ``dim``, BadInputError for NaN / inf, EmptyArrayError for no rows.
    """
    if type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous and (
            x.ndim == 2 and x.shape[0] or x.ndim == 1 and x.shape[0]):  # the common case, checked
        m = x if x.ndim == 2 else x.reshape(1, -1)
        if dim is not None and m.shape[1] != dim:
            raise DimensionMismatchError(
                f"{what} have dimension {m.shape[1]}, expected {dim}; "
                f"embed them with the same model as the data")
        if not np.isfinite(m).all():
            raise BadInputError(f"{what} contain NaN or infinite values; clean them first")
        return m
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch tensor
        x = x.detach().cpu().numpy()
    try:
        m = np.asarray(x, dtype=np.float32)
    except (ValueError, TypeError) as exc:
        raise DimensionMismatchError(
            f"{what} cannot form a matrix ({exc}); give every vector the same length"
        ) from exc
    if m.dtype == object:
        raise DimensionMismatchError(f"{what} are ragged; give every vector the same length")
    if m.ndim == 1:
        m = m.reshape(1, -1) if m.size else m.reshape(0, dim or 0)
    elif m.ndim != 2:
        raise DimensionMismatchError(
            f"{what} must be a vector or an (N, D) matrix, got shape {m.shape}; reshape them"
        )
    if m.shape[0] == 0 and not allow_empty:
        raise EmptyArrayError(f"no {what} given; pass at least one vector")
    if dim is not None and m.shape[0] and m.shape[1] != dim:
        raise DimensionMismatchError(
            f"{what} have dimension {m.shape[1]}, expected {dim}; "
            f"embed them with the same model as the data"
        )
    if m.size and not np.isfinite(m).all():
        raise BadInputError(f"{what} contain NaN or infinite values; clean them first")
    return np.ascontiguousarray(m)


def cosine_of_dot(dot: np.ndarray) -> np.ndarray:
    """The cosine distance ``1 - cos`` of dot products of unit vectors, kept in [0, 2]:
    float32 rounding would otherwise give a Document its own distance as -2e-7."""
    return np.clip(1.0 - dot, 0.0, 2.0)


def normalize_rows(m: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero): a new float32 matrix, or with
    ``in_place`` ``m`` itself (a writable float32 array the caller owns, e.g. a block just
    read from a file: no second copy of it)."""
    norms = np.sqrt(np.einsum("ij,ij->i", m, m))[:, None]  # no (n, d) temporary of squares
    norms[norms == 0] = 1.0
    if in_place:
        m /= norms
        return m
    return np.ascontiguousarray(m / norms, dtype=np.float32)


def pairwise(queries: np.ndarray, data: np.ndarray, metric: str) -> np.ndarray:
    """The full (Q, N) score matrix in the user-facing convention (see module doc)."""
    metric = canonical_metric(metric)
    if metric == "inner_product":
        return queries @ data.T
    if metric == "cosine":
        return cosine_of_dot(normalize_rows(queries) @ normalize_rows(data).T)
    sq = (np.einsum("ij,ij->i", queries, queries)[:, None]
          + np.einsum("ij,ij->i", data, data)[None, :]
          - 2.0 * (queries @ data.T))
    np.maximum(sq, 0.0, out=sq)
    return sq if metric == "sqeuclidean" else np.sqrt(sq)


def _faiss():
    try:
        import faiss  # noqa: PLC0415 - heavy import, only when scoring
    except ImportError:  # pragma: no cover - faiss is a core dependency
        return None
    return faiss


def _knn_block(q: np.ndarray, data: np.ndarray, k: int, metric: str,
               data_prepared: bool = False, queries_prepared: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of one query block against one data block, user-facing scores, best first.
    For cosine, ``*_prepared`` says those rows are unit vectors already."""
    k_eff = min(k, data.shape[0])
    faiss = _faiss()
    if metric == "cosine":
        if not queries_prepared:
            q = normalize_rows(q)
        if not data_prepared:
            data = normalize_rows(data)
    if faiss is not None:
        if metric in ("cosine", "inner_product"):
            d, i = faiss.knn(q, data, k_eff, metric=faiss.METRIC_INNER_PRODUCT)
            if metric == "cosine":
                d = cosine_of_dot(d)
        else:
            d, i = faiss.knn(q, data, k_eff, metric=faiss.METRIC_L2)
            np.maximum(d, 0.0, out=d)
            if metric == "euclidean":
                d = np.sqrt(d)
    else:  # numpy fallback
        s = pairwise(q, data, "inner_product" if metric == "cosine" else metric)
        if metric == "cosine":
            s = cosine_of_dot(s)
        key = -s if metric == "inner_product" else s
        i = np.argpartition(key, k_eff - 1, axis=1)[:, :k_eff]
        order = np.take_along_axis(key, i, axis=1).argsort(axis=1, kind="stable")
        i = np.take_along_axis(i, order, axis=1)
        d = np.take_along_axis(s, i, axis=1)
    if k_eff < k:  # pad to k columns
        d = np.pad(d, ((0, 0), (0, k - k_eff)), constant_values=np.nan)
        i = np.pad(i, ((0, 0), (0, k - k_eff)), constant_values=-1)
    return d.astype(np.float32, copy=False), i.astype(np.int64, copy=False)


def merge_topk(scores_a: np.ndarray, ids_a: np.ndarray, scores_b: np.ndarray,
               ids_b: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Merge two (Q, *) top-k results into one (Q, k), best first; -1 ids are padding."""
    scores = np.concatenate([scores_a, scores_b], axis=1)
    ids = np.concatenate([ids_a, ids_b], axis=1)
    key = scores * sort_key(metric)
    key = np.where(ids < 0, np.inf, key)
    key = np.where(np.isnan(key), np.inf, key)
    order = np.argsort(key, axis=1, kind="stable")[:, :k]
    return (np.take_along_axis(scores, order, axis=1),
            np.take_along_axis(ids, order, axis=1))


def knn_blocks(queries: np.ndarray, blocks: Iterable[tuple[int, np.ndarray]], k: int,
               metric: str, *, prepared: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k over data given as ``(offset, block)`` pieces (e.g. a memory-mapped column).

    Peak memory is bounded by one block plus the (Q, k) result. Returned ids are
    ``offset + row``; -1 and NaN pad rows with fewer than k candidates. ``prepared``
    (cosine): the queries and every block are unit rows already (else the queries are
    normalized once and each block as it comes).
    """
    metric = canonical_metric(metric)
    if k <= 0:
        raise BadInputError(f"limit / k must be a positive integer, got {k}")
    best_s = np.full((queries.shape[0], k), np.nan, dtype=np.float32)
    best_i = np.full((queries.shape[0], k), -1, dtype=np.int64)
    cosine = metric == "cosine"
    if cosine and not prepared:
        queries = normalize_rows(queries)  # once, not per block
    for offset, block in blocks:
        if block.shape[0] == 0:
            continue
        s, i = _knn_block(queries, block, k, metric, data_prepared=prepared,
                          queries_prepared=cosine)
        i = np.where(i >= 0, i + offset, -1)
        best_s, best_i = merge_topk(best_s, best_i, s, i, k, metric)
    return best_s, best_i


def _iter_row_blocks(data: np.ndarray, block_size: int) -> Iterator[tuple[int, np.ndarray]]:
    for start in range(0, data.shape[0], block_size):
        yield start, np.ascontiguousarray(data[start:start + block_size], dtype=np.float32)


def knn(queries: np.ndarray, data: np.ndarray, k: int, metric: str = "cosine", *,
        block_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest rows of ``data`` for each row of ``queries``.

    Returns ``(scores, positions)``, each (Q, k), best first, scores in the user-facing
    convention of the module doc. Rows with fewer than k candidates are padded with
    position -1 and score NaN. ``block_size`` bounds how many data rows are scored at once.
    """
    metric = canonical_metric(metric)
    if k <= 0:
        raise BadInputError(f"limit / k must be a positive integer, got {k}")
    if data.shape[0] == 0:
        raise EmptyArrayError("there are no vectors to search; add embeddings first")
    if queries.shape[1] != data.shape[1]:
        raise DimensionMismatchError(
            f"queries have dimension {queries.shape[1]} but the data has {data.shape[1]}; "
            "embed both with the same model"
        )
    if block_size is None or block_size >= data.shape[0]:
        return _knn_block(queries, data, k, metric)
    return knn_blocks(queries, _iter_row_blocks(data, block_size), k, metric)
