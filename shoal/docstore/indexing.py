"""An ANN index kept in step with a store's vector column: the store is the truth.

``config={'index': 'hnsw', 'index_params': {'M': 16}, 'metric': 'cosine'}`` on a disk
store builds a :mod:`shoal.indexes` index over the vector column and keeps it current:

- every store write has a sequence number; labels are appended in order and freed labels
  are recorded with the sequence number that freed them;
- the index directory holds the saved index (its ``applied_seq``) and ``state.json``
  ``{epoch, vec_rows, seq}``: what it has applied;
- before each search (and on open) the index catches up: it adds the live labels in
  ``[state.vec_rows, vec_rows)`` and removes labels freed after ``state.seq`` - both
  idempotent, so a state that lags the index (a crash between the two saves) only
  replays work. A different column epoch (vacuum / clear / new dimension), a damaged or
  mismatched index, or one that applied writes the store does not hold (a store restored
  from a backup beside a newer index) is rebuilt from the column, streamed in
  ``block_size`` rows. So is an index whose vectors are not the store's: ``state.json``
  keeps a checksum of a few rows of the column it indexed (:func:`_probe`), read again
  on open - a store deleted and created anew at the same path, a restored backup written
  to since, or two stores given one ``index_path`` do not reuse each other's index.

The index is saved on ``sync()`` / ``close()`` (write-to-temp, fsync, rename), and by a
catch-up once the vectors added since the last save reach :data:`CHECKPOINT_ROWS` and
:data:`CHECKPOINT_SHARE` of those saved: a crash (``kill -9``) then costs re-adding at
most about a fifth of the index on the next open, not everything since the store was
opened, and the saves of a growing index write about five times its final size in all.
Saves hold the index directory's lock (:func:`~shoal.indexes.persist.locked_dir`), and an
open holds it shared while it reads the index and ``state.json``: processes sharing a
store neither interleave their saves nor load the files of two.
Which index a store keeps, and switching it, is :mod:`shoal.docstore.index_choice`.
"""
from __future__ import annotations

import json
import logging
import os
import zlib
from typing import Any, Protocol

import numpy as np

from shoal.errors import (BadInputError, CorruptStoreError, IndexNotTrainedError,
                          InvalidConfigError, ShoalError, StoreNotWritableError)
from shoal.indexes.persist import locked_dir
from shoal.utils.progress import progress

__all__ = ["IndexSync", "IndexedStore"]

_log = logging.getLogger("shoal.docstore")

_TRAIN_SAMPLE = 100_000  # vectors drawn to train an index, or its training_rows if more
_TRAIN_BYTES = 512 << 20  # ... but no sample bigger than this
_BAR_ROWS = 200_000  # automatic rebuilds (on open, after vacuum) show a bar from this size
#: a catch-up saves the index once this many vectors were added since its last save ...
CHECKPOINT_ROWS = 100_000
#: ... and at least this share of the vectors that save held
CHECKPOINT_SHARE = 0.25


class IndexedStore(Protocol):
    """What :class:`IndexSync` needs from a store."""

    column: Any

    def stats(self) -> dict[str, Any]: ...
    def dead_labels(self, since_seq: int | None = None) -> np.ndarray: ...


def training_sample_size(index: Any, dim: int) -> int:
    """Vectors to draw from the column to train ``index``: ``_TRAIN_SAMPLE``, or what the
    index asks for (``training_rows``: 40 per IVF list) when more, within ``_TRAIN_BYTES``."""
    want = max(_TRAIN_SAMPLE, int(getattr(index, "training_rows", 0)))
    return max(1, min(want, _TRAIN_BYTES // (4 * dim)))


class _ColumnSource:
    """The store's current vector column, for indexes that re-score exact vectors: its
    memory map while the column is small, else its ``take`` (rows read with pread, so
    refine candidates scattered over a column bigger than RAM do not stay resident)."""

    def __init__(self, store: IndexedStore) -> None:
        self._store = store

    def matrix(self) -> Any:
        col = self._store.column
        return col.matrix() if col.mappable else col.take


class IndexSync:
    """One ANN index over a store's vector column, caught up by sequence numbers."""

    def __init__(self, store: IndexedStore, directory: str, kind: str,
                 params: dict[str, Any] | None, metric: str, block_size: int, *,
                 show_progress: bool | None = None, build: bool = False) -> None:
        from shoal.docstore.index_choice import check_metric, normalize_kind  # noqa: PLC0415

        if normalize_kind(kind) is None:
            raise InvalidConfigError(f"index {kind!r} is exact search over the column, not an ANN index")
        self.store = store
        self.dir = directory
        self.kind = kind
        self.params = dict(params or {})
        self.metric = check_metric(metric)
        self.block_size = block_size
        #: progress bar on rebuilds: True / False, or None = only for large columns
        self.show_progress = show_progress
        self.index: Any = None
        self.state: dict[str, int] | None = None
        self.dirty = False
        self.saved_rows = 0  # vec_rows of the state last saved (or loaded)
        self.save_failed = False  # the last save could not write (checkpoints pause)
        #: live vectors when training last failed or was put off: not tried again until
        #: there are more, and at least ``train_from``
        self.untrained_at: int | None = None
        self.train_from = 0
        if build:
            self.rebuild(strict=True)
        else:
            self._open()

    # --- open / rebuild -------------------------------------------------------------------
    def _state_path(self) -> str:
        return os.path.join(self.dir, "state.json")

    def _open(self) -> None:
        from shoal.indexes import load_index  # noqa: PLC0415

        s = self.store.stats()
        if not s["dim"]:
            return  # nothing to index yet; built on the first search with vectors
        try:
            with locked_dir(self.dir, shared=True):  # one process's save, not two mixed
                with open(self._state_path()) as f:
                    state = json.load(f)
                index = load_index(self.dir, vector_source=_ColumnSource(self.store))
        except (OSError, ValueError, CorruptStoreError, ShoalError):
            self.rebuild()
            return
        if (state.get("epoch") != s["epoch"] or index.dim != s["dim"]
                or index.metric != self.metric or int(index.applied_seq) != state.get("seq")
                or state.get("kind") != self.kind or state.get("params") != self.params
                or _ahead(state, s)):
            self.rebuild()
            return
        if "probe" in state and state["probe"] != _probe(self.store.column, state["vec_rows"]):
            _log.warning("the %s index in %s was built over other vectors than this store's "
                         "(a store replaced or restored beside it); rebuilding it", self.kind,
                         self.dir)
            self.rebuild()
            return
        self.index, self.state = index, state
        self.saved_rows = int(state.get("vec_rows", 0))
        self.catch_up()

    def _live(self, lo: int, hi: int, dead: np.ndarray) -> np.ndarray:
        labels = np.arange(lo, hi, dtype=np.int64)
        if dead.size:
            labels = labels[~np.isin(labels, dead, assume_unique=True)]
        return labels

    def _add(self, labels: np.ndarray, index: Any = None, bar: Any = None) -> None:
        col = self.store.column
        index = index if index is not None else self.index
        for start in range(0, labels.size, self.block_size):
            part = labels[start:start + self.block_size]
            try:
                index.add(part, col.take(part))
            except BadInputError as exc:  # every row was checked on write: damaged since
                raise CorruptStoreError(
                    f"the vector column {col.path} holds vectors the index refuses ({exc}): "
                    "the file was damaged; restore the store from a backup") from exc
            if bar is not None:
                bar.update(part.size)

    def rebuild(self, strict: bool = False) -> None:
        """Build the index again from the vector column (an ordinary, supported operation).

        An index that needs training is trained once the column holds the vectors it asks
        for (``training_rows``: 40 per centroid it learns, per IVF list and product-
        quantizer centroid - faiss warns with fewer and what it learns stays poor as the
        store grows); until
        then it is left unbuilt and searches are exact. ``strict`` (an explicit
        ``rebuild_index``) trains on what there is, and raises when that cannot be done
        (fewer vectors than IVF lists).
        """
        from shoal.indexes import create_index  # noqa: PLC0415

        s = self.store.stats()
        if not s["dim"]:
            self.index, self.state = None, None
            return
        index = create_index(self.kind, s["dim"], self.metric, **self.params)
        if hasattr(index, "vector_source"):
            try:
                index.vector_source = _ColumnSource(self.store)
            except AttributeError:  # read-only property on some backends
                pass
        live = self._live(0, s["vec_rows"], self.store.dead_labels(None))
        if not index.is_trained:
            need = 1 if strict else max(1, int(getattr(index, "training_rows", 1)))
            if live.size < need:  # exact searches until the column can train it well
                if live.size:
                    _log.info("index %s %s: %d vectors, trained once there are %d; searches "
                              "are exact until then", self.kind, self.params, live.size, need)
                self.index, self.state = None, None
                self.untrained_at, self.train_from = int(live.size), need
                return
            want = training_sample_size(index, s["dim"])
            pick = live if live.size <= want else np.sort(
                np.random.default_rng(0).choice(live, want, replace=False))
            try:
                index.train(self.store.column.take(pick))
            except IndexNotTrainedError:
                if strict:
                    raise
                self.index, self.state = None, None
                self.untrained_at, self.train_from = int(live.size), 0
                return
        self.untrained_at, self.train_from = None, 0
        show = self.show_progress if self.show_progress is not None else live.size >= _BAR_ROWS
        with progress(live.size, f"index {self.kind}", "vec", enabled=show) as bar:
            self._add(live, index, bar)
        self.index = index
        self._applied(s)
        self.save(strict=strict)

    def _applied(self, s: dict[str, Any]) -> None:
        self.state = {"epoch": s["epoch"], "vec_rows": s["vec_rows"], "seq": s["seq"],
                      "kind": self.kind, "params": self.params}
        self.index.applied_seq = s["seq"]
        self.dirty = True

    def catch_up(self, stats: dict[str, Any] | None = None) -> None:
        """Apply the writes committed since the index's state (or rebuild if it cannot);
        ``stats``: the store's counters when the caller has just read them."""
        s = self.store.stats() if stats is None else stats
        if self.index is None or self.state is None:
            live = s["vec_rows"] - s["n_dead"]
            if s["dim"] and (self.untrained_at is None
                             or (live > self.untrained_at and live >= self.train_from)):
                self.rebuild()  # (not again while too few vectors to train on: exact)
            return
        st = self.state
        if s["epoch"] != st["epoch"] or s["dim"] != self.index.dim or _ahead(st, s):
            self.rebuild()
            return
        if s["seq"] == st["seq"]:
            return
        if s["vec_rows"] > st["vec_rows"]:
            dead = self.store.dead_labels(None) if s["n_dead"] else np.empty(0, np.int64)
            dead = dead[(dead >= st["vec_rows"]) & (dead < s["vec_rows"])]
            self._add(self._live(st["vec_rows"], s["vec_rows"], dead))
        freed = self.store.dead_labels(st["seq"])
        if freed.size:
            self.index.remove(freed)
        self._applied(s)
        added = s["vec_rows"] - self.saved_rows
        if (added >= CHECKPOINT_ROWS and added >= CHECKPOINT_SHARE * self.saved_rows
                and not self.save_failed):
            self.save(strict=False)  # bound what a crash costs the next open (module doc)

    # --- use --------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
               **params: Any) -> tuple[np.ndarray, np.ndarray] | None:
        """(scores, labels) from the index, or None when there is no index to ask yet."""
        index = self.ready()
        if index is None:
            return None
        return index.search(queries, k, allowed=allowed, **params)

    def ready(self, stats: dict[str, Any] | None = None) -> Any:
        """The index caught up with the store (a VectorIndex), or None when there is none."""
        self.catch_up(stats)
        return self.index

    def save(self, strict: bool = True) -> None:
        """Persist the index, then its state (a lagging state only replays work), holding
        the directory's lock: the saves of processes sharing the store do not interleave.

        ``strict`` False (sync, close, checkpoints, automatic rebuilds): a failure to
        write (a full disk, a read-only directory) is logged, not raised - the store is
        the truth, and the next open catches the index up from it - and checkpoints stop
        trying for this handle."""
        if self.index is None or not self.dirty:
            return
        try:
            os.makedirs(self.dir, exist_ok=True)
            state = {**self.state, "probe": _probe(self.store.column, self.state["vec_rows"])}
            with locked_dir(self.dir):  # another process's save waits for both files
                self.index.save(self.dir)
                tmp = self._state_path() + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(state, f)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self._state_path())
        except (OSError, StoreNotWritableError) as exc:
            if strict:
                if isinstance(exc, StoreNotWritableError):
                    raise
                raise StoreNotWritableError(f"cannot save the index in {self.dir}: {exc}") from exc
            self.save_failed = True
            _log.warning("the %s index was not saved in %s (%s); the store is unchanged, and "
                         "its next open catches the index up from it", self.kind, self.dir, exc)
            return
        self.dirty = False
        self.save_failed = False
        self.saved_rows = int(self.state["vec_rows"])


#: column rows whose checksums identify the vectors an index was built over (see _probe)
_PROBE_ROWS = 8


def _probe(column: Any, vec_rows: int) -> list[list[int]]:
    """``[[label, crc32 of its vector], ...]`` for a few labels spread over the first
    ``vec_rows`` rows of ``column`` (the last one included): column rows never change once
    written (a rewrite is a new epoch), so another store's vectors - or a restored backup
    that wrote others since - show here. A few preads, whatever the column's size."""
    if vec_rows <= 0:
        return []
    labels = np.unique(np.linspace(0, vec_rows - 1, num=min(_PROBE_ROWS, vec_rows)).astype(np.int64))
    rows = np.ascontiguousarray(column.take(labels))
    return [[int(lab), zlib.crc32(row.tobytes())] for lab, row in zip(labels, rows)]


def _ahead(state: dict[str, Any], s: dict[str, Any]) -> bool:
    """Whether an index's state has applied writes the store does not have (the store was
    restored from a backup, or copied, while the index beside it moved on): it can only be
    rebuilt."""
    return int(state.get("seq", 0)) > s["seq"] or int(state.get("vec_rows", 0)) > s["vec_rows"]
