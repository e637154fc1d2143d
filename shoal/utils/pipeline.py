"""Overlap a native step (that releases the GIL) with the Python step that follows it.

A batch search is ``search(queries)`` in native code (hnswlib, faiss, BLAS: the GIL is
released) followed by Python work on its result (reading and decoding the Documents
found). Run chunk by chunk, the search of chunk ``i + 1`` proceeds in a worker thread
while this thread handles chunk ``i``, so both cores stay busy.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence, TypeVar

__all__ = ["overlapped"]

C = TypeVar("C")
R = TypeVar("R")
S = TypeVar("S")

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _workers() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="shoal-overlap")
        return _pool


def overlapped(chunks: Sequence[C], produce: Callable[[C], R],
               consume: Callable[[R], S]) -> list[S]:
    """``[consume(produce(c)) for c in chunks]``, with ``produce`` of the next chunk running
    in a worker thread while ``consume`` handles the current one.

    ``produce`` must be safe to call from another thread and should release the GIL
    (else nothing is gained); ``consume`` runs in the calling thread, in order. An
    exception from either is raised here; a search already started for the next chunk is
    left to finish and its result dropped.
    """
    if len(chunks) < 2:
        return [consume(produce(c)) for c in chunks]
    pool = _workers()
    pending = pool.submit(produce, chunks[0])
    out: list[S] = []
    for nxt in chunks[1:]:
        result = pending.result()
        pending = pool.submit(produce, nxt)
        out.append(consume(result))
    out.append(consume(pending.result()))
    return out
