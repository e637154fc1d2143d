"""A readers-writer lock whose readers may carry a key (e.g. hnsw's global ``ef``)."""
from __future__ import annotations

import threading
from collections import Counter
from typing import Hashable

__all__ = ["RWLock", "ANY"]

ANY: Hashable = object()  # a reader key that joins whatever group holds the lock


class RWLock:
    """Many readers or one writer; writers are preferred so they never starve.

    Readers holding the lock at the same time all share one ``key``: a reader with a
    different key waits until the current group drains (used for per-query settings that
    the library keeps globally, such as hnswlib's ``ef``); key :data:`ANY` joins any
    group. Not reentrant.
    """

    __slots__ = ("_cond", "_readers", "_key", "_writer", "_writers_waiting", "_waiting")

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._key: Hashable = None
        self._writer = False
        self._writers_waiting = 0
        self._waiting: Counter[Hashable] = Counter()

    def _can_read(self, key: Hashable) -> bool:
        if self._writer or self._writers_waiting:
            return False
        if self._readers == 0 or key is ANY:
            return True
        if key != self._key:
            return False
        return len(self._waiting) == 0 or set(self._waiting) == {key}

    def acquire_read(self, key: Hashable = None) -> bool:
        """Enter as a reader; returns True if this reader switched the group's key."""
        with self._cond:
            if not self._can_read(key):
                self._waiting[key] += 1
                try:
                    while not self._can_read(key):
                        self._cond.wait()
                finally:
                    self._waiting[key] -= 1
                    if not self._waiting[key]:
                        del self._waiting[key]
            switched = self._readers == 0 and key is not ANY and key != self._key
            if self._readers == 0 and key is not ANY:
                self._key = key
            self._readers += 1
            return switched

    def release_read(self) -> None:
        with self._cond:
            self._readers -= 1
            if self._readers == 0 and (self._writers_waiting or self._waiting):
                self._cond.notify_all()

    def acquire_write(self) -> None:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True

    def release_write(self) -> None:
        with self._cond:
            self._writer = False
            self._cond.notify_all()

    def read(self, key: Hashable = None) -> _Guard:
        return _Guard(self, False, key)

    def write(self) -> _Guard:
        return _Guard(self, True, None)


class _Guard:
    __slots__ = ("_lock", "_write", "_key")

    def __init__(self, lock: RWLock, write: bool, key: Hashable) -> None:
        self._lock, self._write, self._key = lock, write, key

    def __enter__(self) -> None:
        if self._write:
            self._lock.acquire_write()
        else:
            self._lock.acquire_read(self._key)

    def __exit__(self, *exc: object) -> None:
        if self._write:
            self._lock.release_write()
        else:
            self._lock.release_read()
