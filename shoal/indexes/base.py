"""The one contract every vector index honours, plus the small checks all backends share."""
from __future__ import annotations

import os
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from shoal.errors import BadInputError, InvalidConfigError
from shoal.document.distance import canonical_metric, knn_blocks

__all__ = [
    "VectorIndex", "check_k", "check_labels", "check_dim", "check_metric", "check_positive_int",
    "dedupe_last", "empty_result", "pad_result", "unique_labels", "exact_top_k",
]

#: vectors scored at once by an exact search over stored vectors (bounded memory)
EXACT_BLOCK = 65536


@runtime_checkable
class VectorIndex(Protocol):
    """A cache of ``label -> vector`` that answers k-nearest-neighbour queries.

    Labels are non-negative int64 (a store's internal row ids); vectors are ``(N, dim)``
    float32. An index is derived data: the store is the truth and can always rebuild it.

    Required behaviour (the contract suite in ``tests/unit/indexes`` checks all of it):

    - ``add(labels, vectors)``: insert; re-adding an existing label *replaces* its vector;
      a label repeated in one call keeps its last vector. Validates everything first:
      on any error the index is unchanged.
    - ``remove(labels) -> int``: drop labels; unknown labels are ignored (so replaying a
      log is idempotent). Returns how many were removed.
    - ``search(queries, k, allowed=None, **params) -> (scores, labels)``: two ``(Q, k)``
      arrays, float32 scores and int64 labels, best first. Rows with fewer than k results
      are padded with label -1 and score NaN. Scores follow
      :mod:`shoal.document.distance` exactly (cosine -> ``1 - cos``, euclidean -> L2,
      sqeuclidean -> squared L2, inner_product -> dot, higher better), whichever backend
      answers. ``allowed`` (int64 labels) is a *pre*-filter: the result holds up to k
      allowed labels whenever that many exist. ``params`` are per-query knobs
      (``ef=`` for hnsw, ``nprobe=`` / ``refine=`` for faiss); unknown ones are an error.
    - ``save(path)`` writes atomically (temp + fsync + rename, a JSON meta with
      ``format_version``); ``load(path)`` raises CorruptStoreError on a missing,
      damaged or unknown-version index so the caller can rebuild from the store.
    - ``params``: the parameters that define how the index was *built* (saved in the meta,
      compared by an opener to detect "built with other parameters"; search-time defaults
      live in ``search_params`` and do not force a rebuild).
    - ``applied_seq``: an opaque integer the store sets (last write sequence applied);
      saved and loaded with the index.
    - ``is_trained`` / ``train(vectors)``: trainable backends (IVF, PQ) refuse ``add`` and
      ``search`` with IndexNotTrainedError until trained; others are always trained.

    Thread safety: any number of concurrent ``search`` calls, serialized against writers.

    Optional, offered by the built-ins: ``vector_source`` (hnsw, faiss) - where exact
    vectors come from for ``refine`` and exact fall-backs (see
    :data:`shoal.indexes.refine.VectorSource`; not saved, pass it again to ``load``) and
    ``get_vectors(labels)`` (exact, hnsw).
    """

    backend: ClassVar[str]
    applied_seq: int

    @property
    def dim(self) -> int: ...

    @property
    def metric(self) -> str: ...

    @property
    def params(self) -> dict[str, Any]: ...

    @property
    def search_params(self) -> dict[str, Any]: ...

    @property
    def is_trained(self) -> bool: ...

    def train(self, vectors: np.ndarray) -> None: ...

    def __len__(self) -> int: ...

    def labels(self) -> np.ndarray: ...

    def add(self, labels: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, labels: np.ndarray) -> int: ...

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
               **params: Any) -> tuple[np.ndarray, np.ndarray]: ...

    def save(self, path: str | os.PathLike[str]) -> None: ...

    @classmethod
    def load(cls, path: str | os.PathLike[str], **runtime: Any) -> VectorIndex: ...


# -- shared checks (cheap: they sit on the hot path) ---------------------------------------

def check_positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` or InvalidConfigError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_dim(dim: Any) -> int:
    return check_positive_int("dim", dim)


def check_metric(metric: str) -> str:
    return canonical_metric(metric)


def check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise BadInputError(f"limit / k must be a positive integer, got {k!r}")
    return int(k)


def check_labels(labels: Any, n: int | None = None) -> np.ndarray:
    """``labels`` as a 1-D int64 array of non-negative ints (length ``n`` if given)."""
    arr = np.asarray(labels)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise BadInputError(f"labels must be a 1-D array of ints, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
            raise BadInputError(f"labels must be integers, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    if n is not None and arr.shape[0] != n:
        raise BadInputError(f"got {arr.shape[0]} labels for {n} vectors; give one label per vector")
    if arr.size and arr.min() < 0:
        raise BadInputError("labels must be >= 0 (-1 marks padding in results)")
    return arr


def dedupe_last(labels: np.ndarray) -> np.ndarray | None:
    """Row indices keeping the last occurrence of each label, or None if all are unique."""
    if labels.size < 2 or np.all(labels[1:] > labels[:-1]):
        return None
    rev = labels[::-1]
    uniq, first = np.unique(rev, return_index=True)
    if uniq.size == labels.size:
        return None
    return np.sort(labels.size - 1 - first)


def unique_labels(allowed: Any) -> np.ndarray:
    """``allowed`` as a sorted unique int64 array (negative labels dropped)."""
    arr = np.asarray(allowed)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise BadInputError(f"allowed must hold integer labels, got dtype {arr.dtype}")
    arr = np.unique(arr.astype(np.int64, copy=False))
    return arr[arr >= 0] if arr.size and arr[0] < 0 else arr


def empty_result(q: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((q, k), np.nan, dtype=np.float32), np.full((q, k), -1, dtype=np.int64)


def pad_result(scores: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores/labels padded (or cut) to k columns; NaN where the label is -1."""
    scores = np.asarray(scores, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    have = labels.shape[1]
    if have < k:
        scores = np.pad(scores, ((0, 0), (0, k - have)), constant_values=np.nan)
        labels = np.pad(labels, ((0, 0), (0, k - have)), constant_values=-1)
    elif have > k:
        scores, labels = scores[:, :k], labels[:, :k]
    missing = labels < 0
    if missing.any():
        scores = np.where(missing, np.float32(np.nan), scores)
    return np.ascontiguousarray(scores), np.ascontiguousarray(labels)


def exact_top_k(queries: np.ndarray, labels: np.ndarray, vectors_of: Any, k: int,
                metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` over the vectors of ``labels`` (``vectors_of(labels_block) -> (n, D)``,
    read :data:`EXACT_BLOCK` labels at a time): ``(scores, labels)``, -1 / NaN padded.
    The exact fallback of an ANN index (a filtered walk that fell short, a tiny allowed set)."""
    blocks = ((i, vectors_of(labels[i:i + EXACT_BLOCK]))
              for i in range(0, labels.size, EXACT_BLOCK))
    scores, pos = knn_blocks(queries, blocks, k, metric)
    return pad_result(scores, np.where(pos >= 0, labels[np.maximum(pos, 0)], -1), k)
