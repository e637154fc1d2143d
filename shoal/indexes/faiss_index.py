"""``'faiss'``: any faiss ``index_factory`` string (Flat, IVF, IVF-PQ, OPQ, HNSW ...)."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from shoal.errors import BadInputError, CorruptStoreError, IndexNotTrainedError, InvalidConfigError
from shoal.indexes._libs import import_faiss
from shoal.indexes.base import (
    check_dim, check_k, check_labels, check_metric, check_positive_int, dedupe_last,
    empty_result, exact_top_k, pad_result, unique_labels,
)
from shoal.indexes.labels import LabelMap
from shoal.indexes.persist import config_from_meta, load_bundle, load_npy, npy_writer, save_bundle
from shoal.indexes.refine import VectorSource, fetch_vectors, rerank
from shoal.indexes.rwlock import RWLock
from shoal.document.distance import as_matrix, cosine_of_dot, knn, normalize_rows

__all__ = ["FaissConfig", "FaissIndex"]


@dataclass(frozen=True)
class FaissConfig:
    """Construction parameters of :class:`FaissIndex`.

    ``factory`` (any faiss ``index_factory`` string) defines the index (``params``);
    ``nprobe`` (IVF), ``ef_search`` (HNSW), ``refine`` (fetch ``k * refine`` candidates and
    re-rank them exactly with ``vector_source``, a callable or a label-indexed array, see
    :data:`~shoal.indexes.refine.VectorSource`) and ``exact_threshold`` (answer an
    ``allowed`` set of at most this many labels by exact search when exact vectors are
    available) are search defaults, each overridable per query.

    The scores reported are the exact metric values whenever exact vectors are at hand:
    an index whose distances are approximate (PQ / SQ codes, OPQ or PCA transforms)
    re-scores its top ``k`` (re-ranking them) with ``vector_source``, as ``refine=1``.
    """

    dim: int
    metric: str = "cosine"
    factory: str = "Flat"
    nprobe: int = 8
    ef_search: int = 64
    refine: int = 1
    exact_threshold: int = 1024

    def __post_init__(self) -> None:
        object.__setattr__(self, "dim", check_dim(self.dim))
        object.__setattr__(self, "metric", check_metric(self.metric))
        if not isinstance(self.factory, str) or not self.factory.strip():
            raise InvalidConfigError(f"factory must be a faiss index_factory string, got {self.factory!r}")
        check_positive_int("nprobe", self.nprobe)
        check_positive_int("ef_search", self.ef_search)
        check_positive_int("refine", self.refine)
        check_positive_int("exact_threshold", self.exact_threshold, minimum=0)


def _unique(labels: np.ndarray) -> bool:
    """No label twice (cheap when ascending, as a store's labels are)."""
    if labels.size < 2 or bool(np.all(labels[1:] > labels[:-1])):
        return True
    return bool(np.unique(labels).size == labels.size)


def _faiss_message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.rsplit(": ", 1)[-1] if "Error in" in text else text


class FaissIndex:
    """A faiss index (wrapped in ``IndexIDMap2`` unless it is IVF), behind the VectorIndex contract.

    faiss stores internal *slots* (never reused) and a slot -> label array maps results
    back, so replacing a vector works even for indexes without ``remove_ids`` (HNSW):
    there stale slots become tombstones, excluded by an ID selector and compacted away.
    Cosine uses inner product on unit vectors and reports ``1 - ip``.
    """

    backend: ClassVar[str] = "faiss"

    def __init__(self, dim: int, metric: str = "cosine", factory: str = "Flat", *,
                 nprobe: int = 8, ef_search: int = 64, refine: int = 1,
                 exact_threshold: int = 1024, vector_source: VectorSource | None = None) -> None:
        config = FaissConfig(dim=dim, metric=metric, factory=factory, nprobe=nprobe,
                             ef_search=ef_search, refine=refine, exact_threshold=exact_threshold)
        self._setup(config, *self._build(config), vector_source)

    # -- construction -----------------------------------------------------------------
    @staticmethod
    def _build(config: FaissConfig) -> tuple[Any, Any]:
        """``(idmap, owner)``: the IDMap to use and the proxy that owns its memory."""
        faiss = import_faiss()
        mt = (faiss.METRIC_INNER_PRODUCT if config.metric in ("cosine", "inner_product")
              else faiss.METRIC_L2)
        try:
            native = faiss.index_factory(config.dim, config.factory, mt)
        except (RuntimeError, ValueError, TypeError) as exc:
            raise InvalidConfigError(
                f"faiss cannot build index {config.factory!r}: {_faiss_message(exc)}; see the "
                "faiss index_factory docs (e.g. 'Flat', 'IVF1024,Flat', 'IVF256,PQ16', 'HNSW32')"
            ) from exc
        # downcast_index returns a non-owning proxy: keep the owning one alive beside it.
        # IVF indexes take ids natively (and IndexIDMap's remove_ids is wrong over IVF).
        down = faiss.downcast_index(native)
        if isinstance(down, faiss.IndexIDMap) or faiss.try_extract_index_ivf(down) is not None:
            return down, native
        idmap = faiss.IndexIDMap2(native)  # keeps a reference to ``native``
        return idmap, idmap

    def _setup(self, config: FaissConfig, idmap: Any, owner: Any,
               vector_source: VectorSource | None) -> None:
        self._faiss = faiss = import_faiss()
        self._owner = owner
        self.config = config
        self.applied_seq = 0
        self.vector_source = vector_source
        self._idmap = idmap
        self._lock = RWLock()
        self._map = LabelMap()
        self._slot_labels = np.empty(0, dtype=np.int64)
        self._next = 0
        self._tombstones = 0
        self._tomb_sel: tuple[Any, ...] | None = None
        self._cosine = config.metric == "cosine"
        inner = faiss.downcast_index(idmap.index) if isinstance(idmap, faiss.IndexIDMap) else idmap
        self._ivf = faiss.try_extract_index_ivf(inner)
        transformed = isinstance(inner, faiss.IndexPreTransform)
        core = faiss.downcast_index(inner.index if transformed else inner)
        self._hnsw = isinstance(core, faiss.IndexHNSW)
        coded = faiss.downcast_index(self._ivf) if self._ivf is not None else core
        pq = getattr(coded, "pq", None)
        #: centroids per product-quantizer sub-vector (0: no product quantizer)
        self._pq_ksub = int(pq.ksub) if pq is not None else 0
        self._exact_storage = isinstance(core, (faiss.IndexFlat, faiss.IndexHNSWFlat))
        #: the distances faiss reports are the exact metric (else: codes, a transform)
        self._exact_distances = not transformed and isinstance(
            core, (faiss.IndexFlat, faiss.IndexHNSWFlat, faiss.IndexIVFFlat))
        try:
            idmap.remove_ids(faiss.IDSelectorBatch(np.empty(0, dtype=np.int64)))
            self._removable = True
        except RuntimeError:
            self._removable = False

    # -- properties -------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.config.dim

    @property
    def metric(self) -> str:
        return self.config.metric

    @property
    def factory(self) -> str:
        return self.config.factory

    @property
    def params(self) -> dict[str, Any]:
        return {"factory": self.config.factory}

    @property
    def search_params(self) -> dict[str, Any]:
        c = self.config
        return {"nprobe": c.nprobe, "ef_search": c.ef_search, "refine": c.refine,
                "exact_threshold": c.exact_threshold}

    @property
    def is_trained(self) -> bool:
        return bool(self._idmap.is_trained)

    def __len__(self) -> int:
        return len(self._map)

    def __repr__(self) -> str:
        return (f"FaissIndex(dim={self.dim}, metric={self.metric!r}, factory={self.factory!r}, "
                f"n={len(self)}, trained={self.is_trained})")

    def labels(self) -> np.ndarray:
        with self._lock.read():
            return self._map.items()[0]

    @property
    def training_rows(self) -> int:
        """How many vectors to train on: 40 per centroid faiss learns (it warns below 39)
        - per IVF list, and per product-quantizer centroid (256 per sub-vector: 10,240);
        10,000 for another index that needs training (PCA, scalar quantizer...)."""
        rows = [40 * int(self._ivf.nlist)] if self._ivf is not None else []
        if self._pq_ksub:
            rows.append(40 * self._pq_ksub)
        return max(rows) if rows else 10_000

    def _not_trained(self) -> IndexNotTrainedError:
        need = f"at least {self._ivf.nlist} (ideally {39 * self._ivf.nlist})" if self._ivf else "enough"
        return IndexNotTrainedError(
            f"the faiss index {self.factory!r} is not trained: call index.train(sample) with "
            f"{need} representative vectors before adding or searching")

    # -- writes -----------------------------------------------------------------------
    def train(self, vectors: Any) -> None:
        """Train on a representative sample (a no-op for indexes that need none)."""
        vec = as_matrix(vectors, self.dim, what="training vectors")
        if self._cosine:
            vec = normalize_rows(vec)
        with self._lock.write():
            if self._idmap.ntotal:
                raise BadInputError(
                    f"the faiss index {self.factory!r} already holds vectors; build a new index "
                    "to train it again")
            try:
                self._idmap.train(vec)
            except RuntimeError as exc:
                raise IndexNotTrainedError(
                    f"training faiss index {self.factory!r} on {vec.shape[0]} vectors failed: "
                    f"{_faiss_message(exc)}; give more training vectors") from exc

    def add(self, labels: Any, vectors: Any) -> None:
        vec = as_matrix(vectors, self.dim)
        lab = check_labels(labels, vec.shape[0])
        if not self.is_trained:
            raise self._not_trained()
        keep = dedupe_last(lab)
        if keep is not None:
            lab, vec = lab[keep], vec[keep]
        if self._cosine:
            vec = normalize_rows(vec)
        with self._lock.write():
            old = self._map.get(lab)
            m = lab.size
            slots = np.arange(self._next, self._next + m, dtype=np.int64)
            self._idmap.add_with_ids(vec, slots)
            if self._next + m > self._slot_labels.size:
                grown = np.full(max(2 * self._slot_labels.size, self._next + m, 1024), -1, np.int64)
                grown[:self._next] = self._slot_labels[:self._next]
                self._slot_labels = grown
            self._slot_labels[slots] = lab
            self._next += m
            self._map.set(lab, slots)
            self._drop(old[old >= 0])

    def remove(self, labels: Any) -> int:
        lab = np.unique(check_labels(labels))
        with self._lock.write():
            old = self._map.delete(lab)
            gone = old[old >= 0]
            self._drop(gone)
            return int(gone.size)

    def _drop(self, slots: np.ndarray) -> None:
        """Forget ``slots`` (write lock held): remove_ids, or tombstones for HNSW."""
        if not slots.size:
            return
        self._slot_labels[slots] = -1
        if self._removable:
            self._idmap.remove_ids(self._faiss.IDSelectorBatch(slots))
            return
        self._tombstones += int(slots.size)
        self._tomb_sel = None
        if self._tombstones > max(1024, len(self._map)):
            self._compact()

    def _compact(self) -> None:
        """Rebuild without tombstones, keeping slots (write lock held)."""
        labels, slots = self._map.items()
        order = np.argsort(slots)
        labels, slots = labels[order], slots[order]
        vecs = self._stored_vectors(labels, slots)
        if vecs is None:
            return  # keep the tombstones: they are excluded at search time anyway
        idmap, owner = self._build(self.config)
        if not idmap.is_trained:
            idmap.train(vecs)
        if slots.size:
            idmap.add_with_ids(vecs, slots)
        source = self.vector_source
        state = (self._map, self._slot_labels, self._next, self._lock, self.applied_seq)
        self._setup(self.config, idmap, owner, source)
        self._map, self._slot_labels, self._next, self._lock, self.applied_seq = state

    def _stored_vectors(self, labels: np.ndarray, slots: np.ndarray) -> np.ndarray | None:
        """Vectors as the index stores them (unit rows for cosine), exact when possible."""
        if self.vector_source is not None:
            vecs = fetch_vectors(self.vector_source, labels, self.dim)
            return normalize_rows(vecs) if self._cosine else vecs
        if self._exact_storage:
            if not slots.size:
                return np.empty((0, self.dim), dtype=np.float32)
            return np.asarray(self._idmap.reconstruct_batch(slots), dtype=np.float32)
        return None

    def _tombstone_selector(self) -> tuple[Any, ...]:
        if self._tomb_sel is None:
            dead = np.flatnonzero(self._slot_labels[:self._next] < 0).astype(np.int64)
            batch = self._faiss.IDSelectorBatch(dead)
            self._tomb_sel = (self._faiss.IDSelectorNot(batch), batch, dead)
        return self._tomb_sel

    # -- search -----------------------------------------------------------------------
    def search(self, queries: Any, k: int, allowed: Any = None, *, nprobe: int | None = None,
               ef_search: int | None = None, refine: int | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        q = as_matrix(queries, self.dim, what="queries")
        k = check_k(k)
        c = self.config
        nprobe = c.nprobe if nprobe is None else check_positive_int("nprobe", nprobe)
        ef = c.ef_search if ef_search is None else check_positive_int("ef_search", ef_search)
        r = c.refine if refine is None else check_positive_int("refine", refine)
        if r > 1 and self.vector_source is None and not self._exact_storage:
            raise InvalidConfigError(
                "refine > 1 needs exact vectors: pass vector_source=labels -> vectors")
        qs = normalize_rows(q) if self._cosine else q
        with self._lock.read():
            if not self.is_trained:
                raise self._not_trained()
            live = len(self._map)
            if live == 0:
                return empty_result(q.shape[0], k)
            keep: tuple[Any, ...] = ()
            sel, frac = None, 1.0
            if allowed is not None:
                allow = unique_labels(allowed)
                slots = self._map.get(allow)
                ok = slots >= 0
                allow, slots = allow[ok], slots[ok]
                if allow.size == 0:
                    return empty_result(q.shape[0], k)
                if allow.size <= c.exact_threshold:
                    vecs = self._stored_vectors(allow, slots)
                    if vecs is not None:
                        scores, pos = knn(q, vecs, k, self.metric)
                        return pad_result(scores, np.where(pos >= 0, allow[np.maximum(pos, 0)], -1), k)
                sel = self._faiss.IDSelectorBatch(slots)
                keep = (sel, slots)
                frac = allow.size / live
            elif self._tombstones:
                keep = self._tombstone_selector()
                sel = keep[0]
                frac = live / max(1, self._idmap.ntotal)
            k_fetch = k * r
            params = self._search_params(sel, nprobe, ef, frac, k_fetch)
            dist, slot_ids = self._idmap.search(qs, k_fetch, params=params)
            if self._ivf is not None and params.nprobe < self._ivf.nlist:
                # too few hits in the probed lists (small or heavily filtered index):
                # probe more lists (x4 each round) for those queries, so k results come
                # back whenever k exist
                avail = min(k, int(frac * live + 0.5))
                short = np.flatnonzero((slot_ids[:, :avail] < 0).any(axis=1))
                while short.size and params.nprobe < self._ivf.nlist:
                    params.nprobe = min(self._ivf.nlist, 4 * params.nprobe)
                    d2, s2 = self._idmap.search(np.ascontiguousarray(qs[short]), k_fetch, params=params)
                    dist[short], slot_ids[short] = d2, s2
                    short = short[(s2[:, :avail] < 0).any(axis=1)]
            del keep
            labels = np.where(slot_ids >= 0, self._slot_labels[np.maximum(slot_ids, 0)], -1)
            scores = self._to_scores(dist)
            if sel is not None and self._ivf is None:
                self._fill_short(q, scores, labels, allow if allowed is not None else None)
            if r > 1 or (not self._exact_distances and self.vector_source is not None):
                # re-rank the candidates with exact vectors; with refine=1 this makes the
                # scores of a lossy index (PQ / SQ codes, a transform) the exact metric
                # values, the same numbers every other backend reports
                source = self.vector_source
                if source is None:
                    def source(lab: np.ndarray) -> np.ndarray:
                        return self._stored_vectors(lab, self._map.get(lab))
                return rerank(q, labels, source, k, self.metric)
        return pad_result(scores, labels, k)

    def _fill_short(self, q: np.ndarray, scores: np.ndarray, labels: np.ndarray,
                    allow: np.ndarray | None) -> None:
        """Give queries that a selector-filtered graph walk left short of results (the
        allowed vectors lie away from where it walked) the exact top of the allowed (or,
        with tombstones only, live) vectors, in place (read lock held). Without exact
        vectors to read, they stay short."""
        want = min(labels.shape[1], int(allow.size) if allow is not None else len(self._map))
        short = np.flatnonzero((labels[:, :want] < 0).any(axis=1))
        if short.size == 0 or (self.vector_source is None and not self._exact_storage):
            return
        cand = allow if allow is not None else self._map.items()[0]
        scores[short], labels[short] = exact_top_k(
            np.ascontiguousarray(q[short]), cand,
            lambda lab: self._stored_vectors(lab, self._map.get(lab)), labels.shape[1], self.metric)

    def _search_params(self, sel: Any, nprobe: int, ef: int, frac: float, k_fetch: int) -> Any:
        faiss = self._faiss
        if self._ivf is not None:
            p = faiss.SearchParametersIVF()
            p.nprobe = int(min(self._ivf.nlist, math.ceil(nprobe / frac)))
        elif self._hnsw:
            p = faiss.SearchParametersHNSW()
            p.efSearch = int(min(max(ef, k_fetch) / frac, max(ef, k_fetch, 4096)))
        elif sel is None:
            return None
        else:
            p = faiss.SearchParameters()
        if sel is not None:
            p.sel = sel
        return p

    def _to_scores(self, dist: np.ndarray) -> np.ndarray:
        metric = self.config.metric
        if metric == "cosine":
            return cosine_of_dot(dist)
        if metric == "euclidean":
            return np.sqrt(np.maximum(dist, 0.0))
        if metric == "sqeuclidean":
            return np.maximum(dist, 0.0)
        return dist

    # -- persistence ------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        faiss = self._faiss
        with self._lock.read():
            meta = {"backend": self.backend, "dim": self.dim, "metric": self.metric,
                    "params": self.params, "search_params": self.search_params,
                    "count": len(self._map), "applied_seq": int(self.applied_seq)}
            save_bundle(path, meta, {
                "faiss": (".index", lambda p: faiss.write_index(self._idmap, str(p))),
                "slots": (".npy", npy_writer(self._slot_labels[:self._next])),
            })

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, vector_source: VectorSource | None = None,
             **runtime: Any) -> FaissIndex:
        meta, files = load_bundle(path)
        if meta.get("backend") != cls.backend or not {"faiss", "slots"} <= set(files):
            raise CorruptStoreError(f"{path} does not hold a faiss index; rebuild it")
        config = config_from_meta(FaissConfig, meta, runtime, path, cls.backend)
        faiss = import_faiss()
        try:
            owner = faiss.read_index(str(files["faiss"]))
            idmap = faiss.downcast_index(owner)
        except (RuntimeError, MemoryError, ValueError) as exc:
            raise CorruptStoreError(f"faiss index at {path} cannot be read ({exc}); rebuild it") from exc
        if (not (isinstance(idmap, faiss.IndexIDMap) or faiss.try_extract_index_ivf(idmap))
                or idmap.d != config.dim):
            raise CorruptStoreError(f"faiss index at {path} does not match its meta; rebuild it")
        self = cls.__new__(cls)
        self._setup(config, idmap, owner, vector_source)
        # np.load returns a fresh writable array: adopted as is, and the label map takes
        # ``labels`` / ``live`` without copies (a 10M-vector index loads without transients
        # several times the size of its label arrays)
        slot_labels = load_npy(files["slots"]).astype(np.int64, copy=False)
        live = np.flatnonzero(slot_labels >= 0).astype(np.int64, copy=False)
        labels = slot_labels[live]
        if (slot_labels.ndim != 1 or labels.size != meta.get("count") or idmap.ntotal < labels.size
                or not _unique(labels)):
            raise CorruptStoreError(f"faiss index at {path} is inconsistent; rebuild it")
        if not slot_labels.flags.writeable:
            slot_labels = slot_labels.copy()
        self._slot_labels = slot_labels
        self._next = int(slot_labels.size)
        self._map = LabelMap.from_arrays(labels, live, copy=False)
        self._tombstones = int(idmap.ntotal - labels.size)
        self.applied_seq = int(meta.get("applied_seq", 0))
        return self
