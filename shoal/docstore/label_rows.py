"""Which store row holds each vector label: hints remembered from earlier lookups.

A search returns vector labels; a disk store maps each to the row of its Document (one
B-tree lookup per label) before reading the record. Labels are never reused within one
vector-column epoch, so the row found for a label stays right until the column is
rebuilt (vacuum, a new dimension) - a new epoch, which resets the hints. They are still
only hints: the caller checks that each record read carries the label asked for and
falls back to the store's own map when one does not. 8 bytes per label seen.
"""
from __future__ import annotations

import numpy as np

__all__ = ["LabelRows"]


class LabelRows:
    """label -> row hints for one column epoch (-1: not known)."""

    def __init__(self) -> None:
        self._epoch: object = None
        self._rows = np.empty(0, dtype=np.int64)

    def hints(self, labels: np.ndarray, epoch: object, ascending: bool = False) -> np.ndarray:
        """The known row of each label (-1 where unknown); a new ``epoch`` forgets all.
        ``ascending``: the labels are sorted (the last is the largest)."""
        if epoch != self._epoch:
            self._epoch = epoch
            self._rows = np.empty(0, dtype=np.int64)
        rows = self._rows
        if labels.size and (labels[-1] if ascending else labels.max()) < rows.size:  # one gather
            return rows[labels]
        out = np.full(labels.shape, -1, dtype=np.int64)
        known = labels < rows.size
        out[known] = rows[labels[known]]
        return out

    def learn(self, labels: np.ndarray, rows: np.ndarray) -> None:
        """Remember that ``rows[i]`` holds ``labels[i]``."""
        if labels.size == 0:
            return
        top = int(labels.max()) + 1
        if top > self._rows.size:
            grown = np.full(max(top, 2 * self._rows.size), -1, dtype=np.int64)
            grown[:self._rows.size] = self._rows
            self._rows = grown
        self._rows[labels] = rows

    def forget(self) -> None:
        self._rows = np.empty(0, dtype=np.int64)
