"""The vector column of a PostgreSQL array: a table of float32 rows, one per int64 label.

``<table>__vec (epoch, label, vec BYTEA)`` plays the role of the sqlite store's column
file (:class:`~shoal.docstore.column.VectorColumn`, same interface): rows are appended
inside the writing transaction (so a rolled-back batch leaves nothing), never rewritten;
a new generation (vacuum / clear / new dimension) is a new ``epoch`` whose old rows are
deleted after the commit. Exact search reads label ranges of ``block_size`` rows per
query, so every process and machine sharing the database sees the same column.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from shoal.errors import CorruptStoreError, DimensionMismatchError

__all__ = ["PgColumn"]


class PgColumn:
    """``rows`` x ``dim`` float32 of one epoch in ``<table>__vec`` (path ``pg:<table>:<epoch>``)."""

    def __init__(self, db: Any, table: str, path: str, dim: int | None, rows: int,
                 *, writable: bool = True) -> None:
        self.db = db
        self.table = table
        self.path = path
        self.epoch = int(path.rsplit(":", 1)[1])
        self.dim = dim
        self.rows = rows
        self.writable = writable
        self._q = f'"{table}__vec"'
        self._ahead: dict[int, bytes] = {}  # rows read with their Document (labels never change)

    #: scattered rows are never read through a memory map here: ``take`` asks the server
    #: for just those labels (see ``VectorColumn.mappable``)
    mappable = False

    @property
    def row_bytes(self) -> int:
        return 4 * (self.dim or 0)

    def write(self, start: int, matrix: np.ndarray) -> None:
        """Insert rows ``start .. start+len(matrix)`` (in the caller's transaction)."""
        if self.dim is None:
            self.dim = int(matrix.shape[1])
        elif matrix.shape[1] != self.dim:
            raise DimensionMismatchError(
                f"embeddings of dimension {matrix.shape[1]} cannot go into a column of "
                f"dimension {self.dim}")
        m = np.ascontiguousarray(matrix, dtype=np.float32)
        with self.db.raw.cursor().copy(
                f"COPY {self._q} (epoch, label, vec) FROM STDIN") as cp:
            for i, row in enumerate(m):
                cp.write_row((self.epoch, start + i, row.tobytes()))

    def flush(self) -> None:
        """Nothing to do: rows commit with the transaction."""

    def set_rows(self, rows: int) -> None:
        self.rows = rows

    def _assemble(self, got: dict[int, bytes], labels: np.ndarray) -> np.ndarray:
        try:
            buf = b"".join(got[int(lab)] for lab in labels.tolist())
        except KeyError as exc:
            raise CorruptStoreError(
                f"vector label {exc.args[0]} is missing from {self._q} (epoch {self.epoch}); "
                "the table was changed outside shoal - re-embed the Documents") from None
        return np.frombuffer(buf, dtype=np.float32).reshape(labels.size, self.dim or 0).copy()

    def take(self, labels: np.ndarray) -> np.ndarray:
        """A (len(labels), dim) float32 copy of the rows at ``labels`` (from the rows read
        along with their Documents when those are all of them)."""
        labels = np.asarray(labels, dtype=np.int64).ravel()
        if labels.size == 0:
            return np.empty((0, self.dim or 0), dtype=np.float32)
        uniq = np.unique(labels).tolist()
        ahead = self._ahead
        if len(ahead) >= len(uniq) and all(len(ahead.get(lab, b"")) == self.row_bytes for lab in uniq):
            self._ahead = {}
            return self._assemble(ahead, labels)
        rows = self.db.execute(f"SELECT label, vec FROM {self._q} WHERE epoch=? AND label = ANY(?)",
                               (self.epoch, uniq)).fetchall()
        return self._assemble(dict(rows), labels)

    def prefetch(self, rows: list[tuple[int, bytes]]) -> None:
        """Keep the ``(label, vec)`` rows read along with a batch of Documents for the next
        :meth:`take` (replacing what an earlier read left)."""
        self._ahead = dict(rows)

    def row(self, label: int) -> np.ndarray:
        vec = self._ahead.pop(label, None)  # read along with its Document
        if vec is not None and len(vec) == self.row_bytes:
            return np.frombuffer(vec, dtype=np.float32).copy()
        return self.take(np.array([label], dtype=np.int64))[0]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start .. stop`` (committed ones) as a new array, one range query."""
        stop = min(stop, self.rows)
        if stop <= start:
            return np.empty((0, self.dim or 0), dtype=np.float32)
        rows = self.db.execute(
            f"SELECT label, vec FROM {self._q} WHERE epoch=? AND label >= ? AND label < ?",
            (self.epoch, start, stop)).fetchall()
        return self._assemble(dict(rows), np.arange(start, stop, dtype=np.int64))

    def matrix(self) -> np.ndarray:
        """Every committed row (read in full: for small arrays and re-ranking)."""
        return self.read(0, self.rows)

    def release(self, start: int, stop: int) -> None:
        """Nothing mapped, nothing to release."""

    def close(self) -> None:
        """The connection belongs to the store."""
