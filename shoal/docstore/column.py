"""The vector column: embeddings as one append-only float32 file, a row per int64 label.

The file holds ``rows`` committed rows; the store that owns the column records ``rows``
in the same transaction that makes the Documents visible. Rows are written *before* that
commit (and fdatasync'ed), so a crash either leaves rows past the committed count, which
readers ignore and the next writer (holding the write lock) truncates, or a complete batch. Rows are never
rewritten in place: a changed embedding gets a new label, the old one becomes dead until
:meth:`compact_to` (vacuum) writes a new file generation.

Reads go through a read-only memory map of the committed rows (re-mapped when another
writer has grown the file), so exact search streams ``block_size`` rows at a time with
memory bounded by the block, not the data. A column bigger than ``MAP_BYTES`` is not read
through the map by :meth:`~VectorColumn.take` either: a page fault on a mapped file maps a
whole run of cached pages around it (fault-around, large folios - ~100 KB per 512-byte
row measured on Linux 6.x), so a few thousand scattered rows (an index build's training
sample, refine candidates, the embeddings of search results) would make gigabytes of the
file resident in the process; those rows are read with ``pread`` instead.
"""
from __future__ import annotations

import mmap
import os
from typing import Iterator

import numpy as np

from shoal.errors import CorruptStoreError, DimensionMismatchError, StoreNotWritableError
from shoal.document.distance import canonical_metric, knn_blocks, merge_topk, normalize_rows

__all__ = ["MAP_BYTES", "VectorColumn", "search_column"]

#: columns up to this size are gathered through the memory map (fast); bigger ones with pread
MAP_BYTES = 256 << 20
#: a pread gather of up to this many rows reads them one by one (see VectorColumn._take_few)
_FEW = 32


class VectorColumn:
    """``rows`` x ``dim`` float32 at ``path``; ``dim`` may be None until the first write."""

    def __init__(self, path: str, dim: int | None, rows: int, *, writable: bool = True) -> None:
        self.path = path
        self.dim = dim
        self.rows = rows
        self.writable = writable
        self._fd: int | None = None
        self._rfd: int | None = None
        self._map: mmap.mmap | None = None
        self._array: np.ndarray | None = None
        self._mapped_rows = 0
        self._check_size()

    # --- file -------------------------------------------------------------------------
    @property
    def row_bytes(self) -> int:
        return 4 * (self.dim or 0)

    def _check_size(self) -> None:
        if not self.dim:
            return
        try:
            size = os.path.getsize(self.path)
        except FileNotFoundError:
            size = 0
        need = self.rows * self.row_bytes
        if size < need:
            raise CorruptStoreError(
                f"the vector column {self.path} holds {size // self.row_bytes} rows but the store "
                f"committed {self.rows}; the file was truncated or replaced - restore it from a "
                "backup, or delete it and re-embed the Documents")
        # rows past ``need`` belong to a batch that never committed (or to a writer that is
        # appending right now): they are ignored here and cut by the next writer

    def _open_fd(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StoreNotWritableError(
                    f"cannot write the vector column {self.path}: {exc}; check the directory "
                    "permissions and free space") from exc
        return self._fd

    def write(self, start: int, matrix: np.ndarray) -> None:
        """Write rows ``start .. start+len(matrix)`` (past the committed count)."""
        if self.dim is None:
            self.dim = int(matrix.shape[1])
        elif matrix.shape[1] != self.dim:
            raise DimensionMismatchError(
                f"embeddings of dimension {matrix.shape[1]} cannot go into a column of "
                f"dimension {self.dim}")
        data = np.ascontiguousarray(matrix, dtype=np.float32).tobytes()
        fd = self._open_fd()
        offset = start * self.row_bytes
        if start == self.rows and os.fstat(fd).st_size > offset:
            # the caller holds the store's write lock: bytes past the committed rows are left
            # by a writer that crashed or rolled back - drop them before appending
            os.ftruncate(fd, offset)
        view = memoryview(data)
        while view:
            n = os.pwrite(fd, view, offset)
            view = view[n:]
            offset += n

    def flush(self) -> None:
        """fdatasync written rows (called before the store commits them)."""
        if self._fd is not None:
            os.fdatasync(self._fd)

    def set_rows(self, rows: int) -> None:
        """The committed row count (after a commit, or a newer count seen from another writer)."""
        self.rows = rows

    # --- reads ------------------------------------------------------------------------
    def matrix(self) -> np.ndarray:
        """The committed rows as a read-only (rows, dim) memory-mapped array."""
        if not self.dim or not self.rows:
            return np.empty((0, self.dim or 0), dtype=np.float32)
        if self._array is None or self._mapped_rows < self.rows:
            size = self.rows * self.row_bytes
            try:
                with open(self.path, "rb") as f:
                    m = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ)
            except (OSError, ValueError) as exc:
                raise CorruptStoreError(
                    f"cannot map the vector column {self.path} ({exc}); the file is missing or "
                    "shorter than the store says - restore it or re-embed") from exc
            self._map = m
            self._array = np.frombuffer(m, dtype=np.float32).reshape(self.rows, self.dim)
            self._mapped_rows = self.rows
        return self._array[: self.rows]

    def row(self, label: int) -> np.ndarray:
        """A copy of one row."""
        if not self.mappable:
            return self.take(np.array([label], dtype=np.int64))[0]
        if self._array is not None and label < self._mapped_rows and label < self.rows:
            return self._array[label].copy()
        return self.matrix()[label].copy()

    @property
    def mappable(self) -> bool:
        """Whether scattered reads may go through the memory map (the column is small)."""
        return self.rows * self.row_bytes <= MAP_BYTES

    def take(self, labels: np.ndarray) -> np.ndarray:
        """A (len(labels), dim) float32 copy of the rows at ``labels`` (any order, repeats).

        Through the map for a small column; for one bigger than :data:`MAP_BYTES` with
        ``pread`` (a dense run in one read, scattered rows one run of consecutive labels at
        a time), so the rows read do not stay resident in this process.
        """
        labels = np.asarray(labels, dtype=np.int64)
        if labels.size == 0:
            return np.empty((0, self.dim or 0), dtype=np.float32)
        if self.mappable:
            return np.take(self.matrix(), labels, axis=0)  # one memcpy per row: ~1.7x faster than m[labels]
        if labels.size <= _FEW:
            return self._take_few(labels.tolist())
        lo, hi = int(labels.min()), int(labels.max()) + 1
        if lo < 0 or hi > self.rows:
            raise IndexError(f"labels {lo}..{hi - 1} outside the column's {self.rows} rows")
        if hi - lo <= 2 * labels.size:
            return np.take(self.read(lo, hi), labels - lo, axis=0)
        ascending = bool(np.all(labels[1:] > labels[:-1]))  # e.g. refine's unique candidates
        uniq, inverse = (labels, None) if ascending else np.unique(labels, return_inverse=True)
        out = np.empty((uniq.size, self.dim or 0), dtype=np.float32)
        starts = np.flatnonzero(np.diff(uniq, prepend=-2) != 1)
        ends = np.append(starts[1:], uniq.size)
        fd, row = self._read_fd(), self.row_bytes
        buf = memoryview(out).cast("B")
        for a, b, first in zip(starts.tolist(), ends.tolist(), uniq[starts].tolist()):
            self._pread_into(fd, buf[a * row:b * row], first * row)
        return out if inverse is None else np.take(out, inverse.reshape(-1), axis=0)

    def _take_few(self, labels: list[int]) -> np.ndarray:
        """:meth:`take` of a few rows (the embeddings of one query's matches): one pread
        per row, without the run-finding numpy calls, whose fixed cost on a handful of
        labels is several times the reads."""
        rows = self.rows
        for label in labels:
            if not 0 <= label < rows:
                raise IndexError(f"label {label} outside the column's {rows} rows")
        out = np.empty((len(labels), self.dim or 0), dtype=np.float32)
        fd, row = self._read_fd(), self.row_bytes
        buf = memoryview(out).cast("B")
        for j, label in enumerate(labels):
            self._pread_into(fd, buf[j * row:(j + 1) * row], label * row)
        return out

    def _read_fd(self) -> int:
        if self._rfd is None:
            try:
                self._rfd = os.open(self.path, os.O_RDONLY)
            except OSError as exc:
                raise CorruptStoreError(
                    f"cannot read the vector column {self.path} ({exc}); the file is missing - "
                    "restore it or re-embed") from exc
        return self._rfd

    def _pread_into(self, fd: int, buf: memoryview, offset: int) -> None:
        got = 0
        while got < len(buf):
            k = os.preadv(fd, [buf[got:]], offset + got)
            if k == 0:
                raise CorruptStoreError(f"the vector column {self.path} ended early")
            got += k

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start .. stop`` read with pread into a new array (not through the map, so a
        full scan does not pile the file's pages up in this process' resident set)."""
        n = max(0, min(stop, self.rows) - start)
        out = np.empty((n, self.dim or 0), dtype=np.float32)
        if n == 0:
            return out
        with open(self.path, "rb", buffering=0) as f:
            self._pread_into(f.fileno(), memoryview(out).cast("B"), start * self.row_bytes)
        return out

    def release(self, start: int, stop: int) -> None:
        """Drop rows ``start .. stop`` of the map from this process' resident set."""
        if self._map is None or not self.dim:
            return
        page = mmap.PAGESIZE
        lo = (start * self.row_bytes) // page * page
        hi = min(stop * self.row_bytes, self._mapped_rows * self.row_bytes)
        if hi > lo:
            try:
                self._map.madvise(mmap.MADV_DONTNEED, lo, hi - lo)
            except (OSError, ValueError, AttributeError):  # pragma: no cover - best effort
                pass

    def close(self) -> None:
        for fd in (self._fd, self._rfd):
            if fd is not None:
                os.close(fd)
        self._fd = self._rfd = None
        self._array = None
        self._map = None  # closed by GC once no view refers to it
        self._mapped_rows = 0


def search_column(col: VectorColumn, queries: np.ndarray, k: int, metric: str, *,
                  labels: np.ndarray | None = None, dead: np.ndarray | None = None,
                  block_size: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k over the column; returns (scores, labels), -1 / NaN padded.

    ``labels`` (sorted int64) restricts the search to those rows (pre-filtering);
    otherwise every committed row except the sorted ``dead`` labels is a candidate.
    At most ``block_size`` rows are scored (and copied) at once.
    """
    if col.dim and queries.shape[1] != col.dim:
        raise DimensionMismatchError(
            f"queries have dimension {queries.shape[1]} but the store holds {col.dim}-d "
            "embeddings; embed the queries with the same model")
    best_s = np.full((queries.shape[0], k), np.nan, dtype=np.float32)
    best_l = np.full((queries.shape[0], k), -1, dtype=np.int64)
    cosine = canonical_metric(metric) == "cosine"
    if cosine:
        queries = normalize_rows(queries)  # once for every block
    candidates = 0
    for block_labels, block in _blocks(col, labels, dead, block_size):
        if cosine:  # a fresh copy (pread / take): scaled where it lies
            normalize_rows(block, in_place=True)
        s, i = knn_blocks(queries, [(0, block)], k, metric, prepared=cosine)
        lab = np.where(i >= 0, block_labels[np.maximum(i, 0)], -1)
        best_s, best_l = merge_topk(best_s, best_l, s, lab, k, metric)
        candidates += block_labels.size
    if queries.shape[0] and int((best_l >= 0).sum(axis=1).min()) < min(k, candidates):
        # every stored vector was checked finite on write: a row that scores NaN was
        # damaged on disk since (rows scored NaN are never ranked)
        raise CorruptStoreError(
            f"the vector column {col.path} holds rows that are not numbers (NaN): the file "
            "was damaged; restore the store from a backup (or re-embed its Documents)")
    return best_s, best_l


def _blocks(col: VectorColumn, labels: np.ndarray | None, dead: np.ndarray | None,
            block_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    if labels is not None:
        for start in range(0, labels.size, block_size):
            part = labels[start:start + block_size]
            yield part, col.take(part)
            col.release(int(part[0]), int(part[-1]) + 1)
        return
    total = col.rows if col.dim else 0
    dead = dead if dead is not None and dead.size else None
    for start in range(0, total, block_size):
        stop = min(start + block_size, total)
        rows = np.arange(start, stop, dtype=np.int64)
        lo, hi = np.searchsorted(dead, [start, stop]) if dead is not None else (0, 0)
        if hi - lo == stop - start:
            continue  # every row of the block was freed
        block = col.read(start, stop)
        if hi == lo:
            yield rows, block
            continue
        keep = np.ones(stop - start, dtype=bool)
        keep[dead[lo:hi] - start] = False
        yield rows[keep], block[keep]
