"""A label -> int64 map kept as sorted numpy arrays, so batch lookups are vectorized."""
from __future__ import annotations

import numpy as np

__all__ = ["LabelMap"]


class LabelMap:
    """Sorted ``int64 label -> int64 value`` map (values >= 0; -1 means absent).

    Appending increasing labels (what a store does) is amortized O(batch); other inserts
    merge in O(N). Deletes are tombstones, compacted once they outnumber live entries.
    """

    __slots__ = ("_keys", "_vals", "_n", "_live")

    def __init__(self) -> None:
        self._keys = np.empty(0, dtype=np.int64)
        self._vals = np.empty(0, dtype=np.int64)
        self._n = 0
        self._live = 0

    def __len__(self) -> int:
        return self._live

    def _find(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keys = self._keys[:self._n]
        pos = np.searchsorted(keys, labels)
        if self._n == 0:
            return pos, np.zeros(labels.shape, dtype=bool)
        hit = keys[np.minimum(pos, self._n - 1)] == labels
        return pos, hit

    def get(self, labels: np.ndarray) -> np.ndarray:
        """Values for ``labels`` (-1 where absent)."""
        pos, hit = self._find(labels)
        out = np.full(labels.shape, -1, dtype=np.int64)
        out[hit] = self._vals[pos[hit]]
        return out

    def set(self, labels: np.ndarray, values: np.ndarray) -> None:
        """Insert or overwrite; ``labels`` must be unique, ``values`` >= 0."""
        if labels.size == 0:
            return
        values = np.asarray(values, dtype=np.int64)
        pos, hit = self._find(labels)
        if hit.any():
            p = pos[hit]
            self._live += int(np.count_nonzero(self._vals[p] < 0))
            self._vals[p] = values[hit]
        new = ~hit
        if not new.any():
            return
        nl, nv = labels[new], values[new]
        order = np.argsort(nl, kind="stable")
        nl, nv = nl[order], nv[order]
        n, m = self._n, nl.size
        if n == 0 or nl[0] > self._keys[n - 1]:
            if n + m > self._keys.size:
                cap = max(2 * self._keys.size, n + m, 64)
                keys = np.empty(cap, dtype=np.int64)
                vals = np.empty(cap, dtype=np.int64)
                keys[:n], vals[:n] = self._keys[:n], self._vals[:n]
                self._keys, self._vals = keys, vals
            self._keys[n:n + m] = nl
            self._vals[n:n + m] = nv
        else:
            ins = np.searchsorted(self._keys[:n], nl)
            self._keys = np.insert(self._keys[:n], ins, nl)
            self._vals = np.insert(self._vals[:n], ins, nv)
        self._n += m
        self._live += m

    def delete(self, labels: np.ndarray) -> np.ndarray:
        """Remove ``labels``; returns their old values (-1 where absent)."""
        pos, hit = self._find(labels)
        old = np.full(labels.shape, -1, dtype=np.int64)
        if hit.any():
            p = pos[hit]
            old[hit] = self._vals[p]
            self._vals[p] = -1
            self._live -= int(np.count_nonzero(old >= 0))
            if self._n - self._live > max(1024, self._live):
                self.compact()
        return old

    def compact(self) -> None:
        keep = self._vals[:self._n] >= 0
        self._keys = self._keys[:self._n][keep].copy()
        self._vals = self._vals[:self._n][keep].copy()
        self._n = self._live = int(self._keys.size)

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        """``(labels, values)`` of live entries, labels ascending."""
        keep = self._vals[:self._n] >= 0
        return self._keys[:self._n][keep].copy(), self._vals[:self._n][keep].copy()

    def clear(self) -> None:
        self.__init__()

    @classmethod
    def from_arrays(cls, labels: np.ndarray, values: np.ndarray, *, copy: bool = True) -> LabelMap:
        """A map of unique ``labels`` to ``values`` (>= 0). Labels already ascending (what a
        saved index holds) are taken as they are - no sort, no merge: loading a 10M-label
        index costs the two arrays, not several temporaries of their size; ``copy=False``
        adopts the caller's arrays (which it must not change afterwards)."""
        m = cls()
        labels = np.asarray(labels, dtype=np.int64)
        if labels.size and bool(np.all(labels[1:] > labels[:-1])):
            values = np.asarray(values, dtype=np.int64)
            m._keys = np.array(labels, copy=True) if copy else labels
            m._vals = np.array(values, copy=True) if copy else values
            m._n = m._live = int(labels.size)
            return m
        m.set(labels, values)
        return m
