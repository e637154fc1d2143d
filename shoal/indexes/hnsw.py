"""``'hnsw'``: approximate search with hnswlib, growable, with slot reuse after deletes."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from shoal.errors import BadInputError, CorruptStoreError
from shoal.indexes._libs import import_hnswlib
from shoal.indexes.base import (
    check_dim, check_k, check_labels, check_metric, check_positive_int, dedupe_last,
    empty_result, exact_top_k, pad_result, unique_labels,
)
from shoal.indexes.labels import LabelMap
from shoal.indexes.persist import config_from_meta, load_bundle, load_npy, npy_writer, save_bundle
from shoal.indexes.refine import VectorSource, fetch_vectors
from shoal.indexes.rwlock import ANY, RWLock
from shoal.document.distance import as_matrix

__all__ = ["HnswConfig", "HnswIndex"]

_SPACE = {"cosine": "cosine", "inner_product": "ip", "euclidean": "l2", "sqeuclidean": "l2"}


@dataclass(frozen=True)
class HnswConfig:
    """Construction parameters of :class:`HnswIndex`.

    ``M`` / ``ef_construction`` / ``seed`` define the graph (``params``); ``ef`` and
    ``exact_threshold`` (allowed sets up to this size are searched exactly, larger ones
    by a cost model; 0 = always hnswlib's filter) are search defaults; ``capacity`` is only the first allocation
    (the index grows by itself); ``num_threads`` = -1 uses every core for batches.
    """

    dim: int
    metric: str = "cosine"
    M: int = 16
    ef_construction: int = 200
    ef: int = 64
    capacity: int = 1024
    seed: int = 100
    num_threads: int = -1
    exact_threshold: int = 2048

    def __post_init__(self) -> None:
        object.__setattr__(self, "dim", check_dim(self.dim))
        object.__setattr__(self, "metric", check_metric(self.metric))
        check_positive_int("M", self.M, minimum=2)
        check_positive_int("ef_construction", self.ef_construction)
        check_positive_int("ef", self.ef)
        check_positive_int("capacity", self.capacity)
        check_positive_int("seed", self.seed, minimum=0)
        check_positive_int("exact_threshold", self.exact_threshold, minimum=0)
        if self.num_threads != -1:
            check_positive_int("num_threads", self.num_threads)


class HnswIndex:
    """An hnswlib graph behind the :class:`~shoal.indexes.base.VectorIndex` contract.

    - capacity doubles with ``resize_index`` whenever an add needs it;
    - ``remove`` marks deleted; later adds reuse those slots (``allow_replace_deleted``);
    - ``search(..., ef=128)`` sets ef per query (queries with equal ef run in parallel);
    - ``allowed`` uses hnswlib's filter, or exact search over the allowed vectors when
      at most ``exact_threshold`` of them are live or a cost model says exact is cheaper
      (small allowed fractions, where a filtered graph walk is slow and loses recall). Those exact vectors come from ``vector_source`` when given (the
      store's column: fast), else from hnswlib's ``get_items`` (~10 µs per vector).
    """

    backend: ClassVar[str] = "hnsw"
    #: ``search`` takes ``num_threads`` per call (see :func:`shoal.docstore.vectors.searcher`)
    threads_per_call: ClassVar[bool] = True

    def __init__(self, dim: int, metric: str = "cosine", *, M: int = 16,
                 ef_construction: int = 200, ef: int = 64, capacity: int = 1024,
                 seed: int = 100, num_threads: int = -1, exact_threshold: int = 2048,
                 vector_source: VectorSource | None = None) -> None:
        self.vector_source = vector_source
        self._setup(HnswConfig(dim=dim, metric=metric, M=M, ef_construction=ef_construction,
                               ef=ef, capacity=capacity, seed=seed, num_threads=num_threads,
                               exact_threshold=exact_threshold))
        self._index.init_index(max_elements=self.config.capacity, M=self.config.M,
                               ef_construction=self.config.ef_construction,
                               random_seed=self.config.seed, allow_replace_deleted=True)
        self._index.set_ef(self.config.ef)

    def _setup(self, config: HnswConfig) -> None:
        hnswlib = import_hnswlib()
        self.config = config
        self.applied_seq = 0
        self._dim = config.dim
        self._ef = config.ef
        self._cur_ef = config.ef
        self._num_threads = config.num_threads
        self._index = hnswlib.Index(space=_SPACE[config.metric], dim=config.dim)
        self._map = LabelMap()       # live labels
        self._deleted = LabelMap()   # labels marked deleted that may still occupy a slot
        self._lock = RWLock()

    # -- properties -------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self._dim

    @property
    def metric(self) -> str:
        return self.config.metric

    @property
    def params(self) -> dict[str, Any]:
        return {"M": self.config.M, "ef_construction": self.config.ef_construction,
                "seed": self.config.seed}

    @property
    def search_params(self) -> dict[str, Any]:
        return {"ef": self._ef, "exact_threshold": self.config.exact_threshold}

    @property
    def capacity(self) -> int:
        return int(self._index.get_max_elements())

    @property
    def is_trained(self) -> bool:
        return True

    def train(self, vectors: Any) -> None:
        """Nothing to train; accepted for protocol symmetry."""

    def __len__(self) -> int:
        return len(self._map)

    def __repr__(self) -> str:
        return (f"HnswIndex(dim={self.dim}, metric={self.metric!r}, n={len(self)}, "
                f"M={self.config.M}, ef={self._ef})")

    def labels(self) -> np.ndarray:
        with self._lock.read(ANY):
            return self._map.items()[0]

    def get_vectors(self, labels: Any) -> np.ndarray:
        """Stored vectors (unit-normalized for cosine); missing labels raise BadInputError."""
        lab = check_labels(labels)
        with self._lock.read(ANY):
            if (self._map.get(lab) < 0).any():
                raise BadInputError("some labels are not in the index")
            return self._get_items(lab)

    def _get_items(self, lab: np.ndarray) -> np.ndarray:
        if not lab.size:
            return np.empty((0, self._dim), dtype=np.float32)
        return np.asarray(self._index.get_items(lab), dtype=np.float32)

    def _exact_vectors(self, lab: np.ndarray) -> np.ndarray:
        if self.vector_source is not None and lab.size:
            return fetch_vectors(self.vector_source, lab, self._dim)
        return self._get_items(lab)

    # -- writes -----------------------------------------------------------------------
    def add(self, labels: Any, vectors: Any) -> None:
        vec = as_matrix(vectors, self._dim)
        lab = check_labels(labels, vec.shape[0])
        keep = dedupe_last(lab)
        if keep is not None:
            lab, vec = lab[keep], vec[keep]
        idx = self._index
        with self._lock.write():
            update = self._map.get(lab) >= 0
            if len(self._deleted) and not update.all():
                cand = lab[~update]
                cand = cand[self._deleted.get(cand) >= 0]
                revived = []
                for label in cand.tolist():  # only labels re-added after a remove
                    try:
                        idx.unmark_deleted(label)
                        revived.append(label)
                    except RuntimeError:  # its slot was reused: it is simply new
                        pass
                self._deleted.delete(cand)
                if revived:
                    update |= np.isin(lab, np.asarray(revived, dtype=np.int64))
            if update.any():
                idx.add_items(vec[update], lab[update], num_threads=self._num_threads,
                              replace_deleted=False)
                self._map.set(lab[update], np.zeros(int(update.sum()), dtype=np.int64))
            new = ~update
            m = int(np.count_nonzero(new))
            if not m:
                return
            count = int(idx.element_count)
            vacant = count - len(self._map)
            needed = count + max(0, m - vacant)
            cap = int(idx.get_max_elements())
            if needed > cap:
                idx.resize_index(max(needed, 2 * cap))
            idx.add_items(vec[new], lab[new], num_threads=self._num_threads, replace_deleted=True)
            self._map.set(lab[new], np.zeros(m, dtype=np.int64))
            if int(idx.element_count) == len(self._map):
                self._deleted.clear()

    def remove(self, labels: Any) -> int:
        lab = np.unique(check_labels(labels))
        with self._lock.write():
            old = self._map.delete(lab)
            gone = lab[old >= 0]
            for label in gone.tolist():
                self._index.mark_deleted(label)
            self._deleted.set(gone, np.zeros(gone.size, dtype=np.int64))
            return int(gone.size)

    # -- search -----------------------------------------------------------------------
    def search(self, queries: Any, k: int, allowed: Any = None, *, ef: int | None = None,
               num_threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` per query; ``ef`` and ``num_threads`` (-1: every core) for this call
        only, else the index's settings."""
        q = as_matrix(queries, self._dim, what="queries")
        if type(k) is not int or k <= 0:
            k = check_k(k)
        ef_q = self._ef if ef is None else check_positive_int("ef", ef)
        threads = self._num_threads if num_threads is None else (
            -1 if num_threads == -1 else check_positive_int("num_threads", num_threads))
        lock = self._lock
        lock.acquire_read(ef_q)
        try:
            if self._cur_ef != ef_q:
                self._index.set_ef(ef_q)
                self._cur_ef = ef_q
            n = len(self._map)
            if n == 0:
                return empty_result(q.shape[0], k)
            if allowed is None:
                k_eff = min(k, n)
                try:
                    lab, dist = self._index.knn_query(q, k=k_eff, num_threads=threads)
                except RuntimeError:  # graph walk found < k (heavy deletes, tiny ef)
                    return self._exact(q, self._map.items()[0], k)
            else:
                allow = unique_labels(allowed)
                allow = allow[self._map.get(allow) >= 0]
                if allow.size == 0:
                    return empty_result(q.shape[0], k)
                if self._prefer_exact(int(allow.size), q.shape[0], max(ef_q, k), n):
                    return self._exact(q, allow, k)
                k_eff = min(k, int(allow.size))
                try:
                    lab, dist = self._index.knn_query(
                        q, k=k_eff, num_threads=1, filter=frozenset(allow.tolist()).__contains__)
                except RuntimeError:
                    return self._exact(q, allow, k)
        finally:
            lock.release_read()
        return self._finish(dist, lab.view(np.int64), k)

    def _prefer_exact(self, allowed: int, queries: int, ef: int, live: int) -> bool:
        """Exact over the allowed vectors, or hnswlib's filtered walk? (a rough cost model)

        A filtered walk visits about ``ef * live / allowed`` nodes per query, each with a
        Python filter call (~1 µs); exact search fetches the allowed vectors once
        (~1 ns/float from a column, ~10 µs/vector through get_items) and scans them with BLAS.
        """
        threshold = self.config.exact_threshold
        if threshold == 0 or allowed <= threshold:  # 0: always hnswlib's filter
            return threshold > 0
        fetch = 0.8 * self._dim if self.vector_source is not None else 10_000.0
        exact_ns = allowed * (fetch + 0.02 * queries * self._dim)
        walk_ns = queries * ef * (live / allowed) * 1_000.0
        return exact_ns < walk_ns

    def _finish(self, dist: np.ndarray, lab: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        metric = self.config.metric
        if metric == "inner_product":
            dist = 1.0 - dist
        elif metric == "cosine":  # hnswlib's 1 - dot: kept in [0, 2] as everywhere
            np.clip(dist, 0.0, 2.0, out=dist)
        elif metric == "euclidean":
            dist = np.sqrt(np.maximum(dist, 0.0))
        if lab.shape[1] < k:
            return pad_result(dist, lab, k)
        return dist.astype(np.float32, copy=False), lab

    def _exact(self, q: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k over the stored vectors of ``labels`` (read lock held)."""
        return exact_top_k(q, labels, self._exact_vectors, k, self.config.metric)

    # -- persistence ------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        with self._lock.read(ANY):
            live = self._map.items()[0]
            deleted = self._deleted.items()[0]
            meta = {"backend": self.backend, "dim": self.dim, "metric": self.metric,
                    "params": self.params, "search_params": self.search_params,
                    "count": int(live.size), "applied_seq": int(self.applied_seq),
                    "extra": {"capacity": self.capacity}}
            save_bundle(path, meta, {
                "graph": (".bin", lambda p: self._index.save_index(str(p))),
                "labels": (".npy", npy_writer(live)),
                "deleted": (".npy", npy_writer(deleted)),
            })

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, vector_source: VectorSource | None = None,
             **runtime: Any) -> HnswIndex:
        meta, files = load_bundle(path)
        if meta.get("backend") != cls.backend or not {"graph", "labels", "deleted"} <= set(files):
            raise CorruptStoreError(f"{path} does not hold an hnsw index; rebuild it")
        config = config_from_meta(HnswConfig, meta, runtime, path, cls.backend)
        self = cls.__new__(cls)
        self.vector_source = vector_source
        self._setup(config)
        live = load_npy(files["labels"]).astype(np.int64, copy=False)
        deleted = load_npy(files["deleted"]).astype(np.int64, copy=False)
        try:
            self._index.load_index(str(Path(files["graph"])), max_elements=0,
                                   allow_replace_deleted=True)
        except (RuntimeError, MemoryError, ValueError) as exc:
            raise CorruptStoreError(f"hnsw graph at {path} cannot be read ({exc}); rebuild it") from exc
        if live.ndim != 1 or live.size != meta.get("count") or live.size > self._index.element_count:
            raise CorruptStoreError(f"hnsw index at {path} is inconsistent; rebuild it")
        self._index.set_ef(config.ef)
        self._map = LabelMap.from_arrays(live, np.zeros(live.size, dtype=np.int64))
        self._deleted = LabelMap.from_arrays(deleted, np.zeros(deleted.size, dtype=np.int64))
        self.applied_seq = int(meta.get("applied_seq", 0))
        return self
