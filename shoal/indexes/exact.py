"""``'exact'``: brute-force search over a contiguous float32 matrix (BLAS via faiss.knn)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable

import numpy as np

from shoal.errors import BadInputError, CorruptStoreError, InvalidConfigError
from shoal.indexes.base import (
    check_dim, check_k, check_labels, check_metric, check_positive_int, dedupe_last,
    empty_result, pad_result, unique_labels,
)
from shoal.indexes.labels import LabelMap
from shoal.indexes.persist import load_bundle, load_npy, npy_writer, save_bundle
from shoal.indexes.rwlock import RWLock
from shoal.document.distance import (as_matrix, canonical_metric, cosine_of_dot, knn, knn_blocks,
                                     normalize_rows)

__all__ = ["ExactConfig", "ExactIndex", "exact_search_blocks"]


@dataclass(frozen=True)
class ExactConfig:
    """Construction parameters of :class:`ExactIndex`."""

    dim: int
    metric: str = "cosine"
    block_size: int = 65536

    def __post_init__(self) -> None:
        object.__setattr__(self, "dim", check_dim(self.dim))
        object.__setattr__(self, "metric", check_metric(self.metric))
        object.__setattr__(self, "block_size", check_positive_int("block_size", self.block_size))


def _blocks_of_rows(data: np.ndarray, rows: np.ndarray, block_size: int
                    ) -> Iterable[tuple[int, np.ndarray]]:
    for start in range(0, rows.size, block_size):
        yield start, data[rows[start:start + block_size]]


def exact_search_blocks(queries: Any, blocks: Iterable[tuple[Any, np.ndarray]], k: int,
                        metric: str = "cosine", allowed: Any = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k over vectors streamed as blocks, e.g. a store's memory-mapped column.

    Each item of ``blocks`` is ``(offset, block)`` (row ``i`` of the block has label
    ``offset + i``) or ``(labels, block)`` with an int64 label per row. Labels < 0 mark
    empty rows and are skipped. ``allowed`` restricts the result to those labels. Peak
    memory is one block plus the ``(Q, k)`` result. Returns ``(scores, labels)`` as
    :meth:`VectorIndex.search` does.
    """
    metric = canonical_metric(metric)
    k = check_k(k)
    q = as_matrix(queries, what="queries")
    allow = None if allowed is None else unique_labels(allowed)
    dim = q.shape[1]

    def pieces() -> Iterable[tuple[int, np.ndarray]]:
        for ident, block in blocks:
            block = np.asarray(block)
            if block.ndim != 2 or (block.shape[0] and block.shape[1] != dim):
                raise BadInputError(
                    f"block of shape {block.shape} does not match query dimension {dim}")
            if np.isscalar(ident) or np.ndim(ident) == 0:
                labels = np.arange(int(ident), int(ident) + block.shape[0], dtype=np.int64)
            else:
                labels = np.asarray(ident, dtype=np.int64)
            keep = labels >= 0
            if allow is not None:
                keep &= np.isin(labels, allow, assume_unique=False)
            if not keep.all():
                labels, block = labels[keep], block[keep]
            if labels.size:
                seen.append(labels)
                yield offsets[0], np.ascontiguousarray(block, dtype=np.float32)
                offsets[0] += labels.size

    seen: list[np.ndarray] = []
    offsets = [0]
    scores, pos = knn_blocks(q, pieces(), k, metric)
    if not seen:
        return empty_result(q.shape[0], k)
    all_labels = np.concatenate(seen)
    labels = np.where(pos >= 0, all_labels[np.maximum(pos, 0)], -1)
    return pad_result(scores, labels, k)


class ExactIndex:
    """Brute force over a growable contiguous float32 matrix; exact by construction.

    Rows are kept dense: removing swaps the last rows into the holes, so a search is
    one BLAS call over ``data[:n]``. Cosine indexes store unit-normalized rows.
    """

    backend: ClassVar[str] = "exact"

    def __init__(self, dim: int, metric: str = "cosine", *, block_size: int = 65536) -> None:
        self.config = ExactConfig(dim=dim, metric=metric, block_size=block_size)
        self.applied_seq = 0
        self._data = np.empty((0, self.config.dim), dtype=np.float32)
        self._labels = np.empty(0, dtype=np.int64)
        self._n = 0
        self._map = LabelMap()
        self._lock = RWLock()

    # -- properties -------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.config.dim

    @property
    def metric(self) -> str:
        return self.config.metric

    @property
    def params(self) -> dict[str, Any]:
        return {}

    @property
    def search_params(self) -> dict[str, Any]:
        return {"block_size": self.config.block_size}

    @property
    def is_trained(self) -> bool:
        return True

    def train(self, vectors: Any) -> None:
        """Nothing to train; accepted for protocol symmetry."""

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"ExactIndex(dim={self.dim}, metric={self.metric!r}, n={self._n})"

    def labels(self) -> np.ndarray:
        with self._lock.read():
            return self._labels[:self._n].copy()

    def get_vectors(self, labels: Any) -> np.ndarray:
        """Stored vectors of ``labels`` (unit-normalized for cosine); missing ones raise."""
        lab = check_labels(labels)
        with self._lock.read():
            rows = self._map.get(lab)
            if (rows < 0).any():
                raise BadInputError(f"labels not in the index: {lab[rows < 0][:10].tolist()}")
            return self._data[rows]

    # -- writes -----------------------------------------------------------------------
    def add(self, labels: Any, vectors: Any) -> None:
        vec = as_matrix(vectors, self.dim)
        lab = check_labels(labels, vec.shape[0])
        keep = dedupe_last(lab)
        if keep is not None:
            lab, vec = lab[keep], vec[keep]
        if self.metric == "cosine":
            vec = normalize_rows(vec)
        with self._lock.write():
            rows = self._map.get(lab)
            old = rows >= 0
            if old.any():
                self._data[rows[old]] = vec[old]
            new = ~old
            m = int(np.count_nonzero(new))
            if not m:
                return
            n = self._n
            self._reserve(n + m)
            self._data[n:n + m] = vec[new]
            self._labels[n:n + m] = lab[new]
            self._map.set(lab[new], np.arange(n, n + m, dtype=np.int64))
            self._n = n + m

    def _reserve(self, size: int) -> None:
        cap = self._data.shape[0]
        if size <= cap:
            return
        cap = max(size, 2 * cap, 1024)
        data = np.empty((cap, self.dim), dtype=np.float32)
        labels = np.empty(cap, dtype=np.int64)
        data[:self._n] = self._data[:self._n]
        labels[:self._n] = self._labels[:self._n]
        self._data, self._labels = data, labels

    def remove(self, labels: Any) -> int:
        lab = np.unique(check_labels(labels))
        with self._lock.write():
            rows = self._map.delete(lab)
            rows = rows[rows >= 0]
            if not rows.size:
                return 0
            n_new = self._n - rows.size
            holes = rows[rows < n_new]
            tail = np.arange(n_new, self._n, dtype=np.int64)
            movers = tail[~np.isin(tail, rows)]
            if holes.size:
                self._data[holes] = self._data[movers]
                self._labels[holes] = self._labels[movers]
                self._map.set(self._labels[holes], holes)
            self._n = n_new
            if self._data.shape[0] > 4096 and n_new < self._data.shape[0] // 4:
                self._data = self._data[:max(n_new * 2, 1024)].copy()
                self._labels = self._labels[:self._data.shape[0]].copy()
            return int(rows.size)

    # -- search -----------------------------------------------------------------------
    def search(self, queries: Any, k: int, allowed: Any = None, *,
               block_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        q = as_matrix(queries, self.dim, what="queries")
        k = check_k(k)
        bs = self.config.block_size if block_size is None else check_positive_int(
            "block_size", block_size)
        cosine = self.metric == "cosine"
        metric = "inner_product" if cosine else self.metric
        if cosine:
            q = normalize_rows(q)
        with self._lock.read():
            n = self._n
            if n == 0:
                return empty_result(q.shape[0], k)
            if allowed is None:
                scores, pos = knn(q, self._data[:n], k, metric, block_size=bs)
                labels = np.where(pos >= 0, self._labels[np.maximum(pos, 0)], -1)
            else:
                rows = self._map.get(unique_labels(allowed))
                rows = np.sort(rows[rows >= 0])
                if not rows.size:
                    return empty_result(q.shape[0], k)
                scores, pos = knn_blocks(q, _blocks_of_rows(self._data, rows, bs), k, metric)
                labels = np.where(pos >= 0, self._labels[rows[np.maximum(pos, 0)]], -1)
        if cosine:
            scores = cosine_of_dot(scores)
        return pad_result(scores, labels, k)

    # -- persistence ------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        with self._lock.read():
            n = self._n
            meta = {"backend": self.backend, "dim": self.dim, "metric": self.metric,
                    "params": self.params, "search_params": self.search_params,
                    "count": n, "applied_seq": int(self.applied_seq)}
            save_bundle(path, meta, {
                "vectors": (".npy", npy_writer(self._data[:n])),
                "labels": (".npy", npy_writer(self._labels[:n])),
            })

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, vector_source: Any = None,
             **runtime: Any) -> ExactIndex:
        """Open a saved index; ``vector_source`` is accepted (and unused) like the other backends."""
        meta, files = load_bundle(path)
        if meta.get("backend") != cls.backend or not {"vectors", "labels"} <= set(files):
            raise CorruptStoreError(f"{path} does not hold an exact index; rebuild it")
        try:
            self = cls(meta["dim"], meta["metric"], **meta.get("search_params", {}))
        except (KeyError, TypeError) as exc:
            raise CorruptStoreError(f"index meta at {path} is incomplete ({exc}); rebuild it") from exc
        data = load_npy(files["vectors"])
        labels = load_npy(files["labels"])
        if (data.ndim != 2 or data.shape[1] != self.dim or labels.shape != (data.shape[0],)
                or data.shape[0] != meta.get("count") or np.unique(labels).size != labels.size):
            raise CorruptStoreError(f"index files at {path} are inconsistent; rebuild the index")
        self._data = np.ascontiguousarray(data, dtype=np.float32)
        self._labels = np.ascontiguousarray(labels, dtype=np.int64)
        self._n = data.shape[0]
        self._map = LabelMap.from_arrays(self._labels, np.arange(self._n, dtype=np.int64))
        self.applied_seq = int(meta.get("applied_seq", 0))
        if runtime:
            try:
                self.config = ExactConfig(dim=self.dim, metric=self.metric, **{
                    "block_size": self.config.block_size, **runtime})
            except TypeError as exc:
                raise InvalidConfigError(f"unknown option for the exact index: {exc}") from exc
        return self
