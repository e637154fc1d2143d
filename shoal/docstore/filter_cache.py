"""The rows that passed a filter, kept for the store snapshot they were read from.

A filtered ``find`` on an LMDB store reads every record to evaluate the filter (about
2 us per Document). A service asking the same filter again and again (one category, one
tenant) pays that on every query although nothing changed. :class:`FilterCache` keeps
the (position, label) rows of the last few filters, keyed by the filter and the LMDB
snapshot (the transaction id, which every committed write of any process advances), so
a hit is exact: the same rows a scan of that snapshot would give.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import numpy as np

__all__ = ["FilterCache"]


class FilterCache:
    """Up to ``entries`` filters' rows, ``max_rows`` rows in all (larger results are not
    kept). Not thread-safe: the store calls it under its lock."""

    def __init__(self, entries: int = 8, max_rows: int = 2_000_000) -> None:
        self._entries = entries
        self._max_rows = max_rows
        self._rows = 0
        self._items: OrderedDict[str, tuple[Any, np.ndarray]] = OrderedDict()

    @staticmethod
    def key(filter: Any) -> str | None:
        """A canonical text of ``filter``, or None when it has none (then it is not cached)."""
        try:
            return json.dumps(filter, sort_keys=True, default=repr)
        except (TypeError, ValueError):
            return None

    def get(self, key: str | None, snapshot: Any) -> np.ndarray | None:
        """The rows stored for ``key`` at ``snapshot``, or None."""
        if key is None or snapshot is None:
            return None
        hit = self._items.get(key)
        if hit is None or hit[0] != snapshot:
            return None
        self._items.move_to_end(key)
        return hit[1]

    def put(self, key: str | None, snapshot: Any, rows: np.ndarray) -> None:
        """Keep ``rows`` (read-only from now on) for ``key`` at ``snapshot``."""
        if key is None or snapshot is None or len(rows) > self._max_rows:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self._rows -= len(old[1])
        rows.setflags(write=False)
        self._items[key] = (snapshot, rows)
        self._rows += len(rows)
        while len(self._items) > self._entries or self._rows > self._max_rows:
            _, (_, gone) = self._items.popitem(last=False)
            self._rows -= len(gone)

    def clear(self) -> None:
        self._items.clear()
        self._rows = 0
