"""Give back the resident pages of a read-only file mapping (LMDB's data file).

LMDB reads through a shared, read-only memory map of ``data.mdb``. Each record read
faults in a run of cached pages around it (fault-around: ~100 KB on Linux 6.x), and they
count in the process' resident set although they are clean page cache. For a store much
bigger than RAM, scattered search reads would grow RSS towards the file size.
:func:`release_mapped` drops those page-table entries (``madvise(MADV_DONTNEED)``, safe on
a shared read-only file mapping: the data stays in the page cache and the next access
maps it again). Linux only; elsewhere it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

__all__ = ["release_mapped", "ReleaseBudget"]

_MADV_DONTNEED = 4
_libc = None


def _madvise():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        _libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return _libc.madvise


def release_mapped(path: str) -> int:
    """Drop this process' resident pages of every read-only shared mapping of ``path``;
    returns the bytes of address space advised (0 when there is none or not on Linux)."""
    path = os.path.realpath(path)
    try:
        with open("/proc/self/maps") as f:
            lines = [ln for ln in f if ln.rstrip().endswith(path)]
    except OSError:
        return 0
    done = 0
    for ln in lines:
        fields = ln.split(maxsplit=5)
        if len(fields) < 6 or fields[5].strip() != path or fields[1] != "r--s":
            continue
        lo, hi = (int(x, 16) for x in fields[0].split("-"))
        if _madvise()(lo, hi - lo, _MADV_DONTNEED) == 0:
            done += hi - lo
    return done


class ReleaseBudget:
    """Call :func:`release_mapped` on ``path`` after every ``every`` records read, once the
    file is bigger than ``min_bytes`` (small stores keep their pages mapped: faster)."""

    def __init__(self, path: str, every: int = 2048, min_bytes: int = 256 << 20) -> None:
        self.path = path
        self.every = every
        self.min_bytes = min_bytes
        self._count = 0

    def read(self, n: int) -> None:
        """Note ``n`` records read; release the mapping when the budget is spent."""
        self._count += n
        if self._count < self.every:
            return
        self._count = 0
        try:
            big = os.path.getsize(self.path) > self.min_bytes
        except OSError:
            return
        if big:
            release_mapped(self.path)
