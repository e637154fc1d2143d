"""Overlap a native step (that releases the GIL) with the Python step that follows it.

A batch search is ``search(queries)`` in native code (hnswlib, faiss, BLAS: the GIL is
released) followed by Python work on its result (reading and decoding the Documents
found). Run chunk by chunk, both cores stay busy:

- :func:`overlapped`: the search of chunk ``i + 1`` (itself multi-threaded) runs in a
  worker thread while this thread handles chunk ``i``;
- :func:`shared`: single-threaded searches run in a worker thread and, between handling
  results, in this one (for indexes that take a thread count per call: no more runnable
  threads than cores).
"""
from __future__ import annotations

import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Sequence, TypeVar

__all__ = ["overlapped", "shared"]

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
        pending = _start(pool, produce, nxt)
        out.append(consume(result))
    out.append(consume(pending.result()))
    return out


def _start(pool: ThreadPoolExecutor, produce: Callable[[C], R], chunk: C) -> Future[R]:
    """Submit ``produce(chunk)`` and return once the worker runs it.

    ``consume`` is mostly long C calls that hold the GIL without a switch point: a worker
    merely submitted would wait for the GIL until ``consume`` returns, and the two steps
    would run one after the other. Waiting here (GIL released) lets the worker take the
    GIL and run on into the native search, where it releases it."""
    running = threading.Event()

    def run() -> R:
        running.set()
        return produce(chunk)

    pending = pool.submit(run)
    running.wait()
    return pending


def shared(items: Sequence[C], produce: Callable[[Sequence[C]], R],
           consume: Callable[[R], S], *, big: int = 128, small: int = 32) -> list[S]:
    """``consume(produce(items[a:b]))`` for consecutive ranges covering ``items``, in
    order, with ``produce`` run by this thread and a worker thread at once: for a
    ``produce`` that uses one core (a single-threaded native search releasing the GIL).

    The worker produces ranges of ``big`` items, smaller towards the end so that both
    threads finish together. This thread consumes every produced range as soon as one
    waits, and when none does produces a range of ``small`` items itself, so it is soon
    back to consuming. Two cores stay busy with two threads, without the
    oversubscription of :func:`overlapped` with a multi-threaded ``produce`` (three
    threads on two cores, where the consuming thread waits for the scheduler).
    ``consume`` runs in the calling thread. An exception from either step is raised
    here, after the worker has finished the range it was on.
    """
    n = len(items)
    if n <= small:
        return [consume(produce(items))] if n else []
    claims = _Ranges(n)
    done: queue.SimpleQueue[tuple[int, R | None, BaseException | None]] = queue.SimpleQueue()

    def work() -> None:
        while (r := claims.take(big, share=True)) is not None:
            try:
                done.put((r[0], produce(items[r[0]:r[1]]), None))
            except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                done.put((r[0], None, exc))
                return

    worker = _workers().submit(work)
    out: dict[int, S] = {}
    try:
        while claims.consumed < n:
            try:
                start, result, exc = done.get_nowait()
            except queue.Empty:
                r = claims.take(small)
                if r is None:  # the rest is with the worker
                    start, result, exc = done.get()
                else:
                    start, result, exc = r[0], produce(items[r[0]:r[1]]), None
            if exc is not None:
                raise exc
            out[start] = consume(result)  # type: ignore[arg-type]
            claims.consumed += claims.size[start]
    finally:
        claims.stop()
        if not worker.cancel():
            worker.result()
    return [out[k] for k in sorted(out)]


class _Ranges:
    """Hands out consecutive ranges of ``range(n)``, each once, to whichever thread asks."""

    def __init__(self, n: int) -> None:
        self._n = n
        self._next = 0
        self._lock = threading.Lock()
        self.size: dict[int, int] = {}  # start -> length of each range handed out
        self.consumed = 0  # items consumed so far (by the calling thread)

    def take(self, want: int, share: bool = False) -> tuple[int, int] | None:
        """The next range of up to ``want`` items; with ``share``, at most half of what
        is left (not less than a quarter of ``want``), so the other thread gets some."""
        with self._lock:
            left = self._n - self._next
            if left <= 0:
                return None
            size = min(want, left, max(left // 2, want // 4)) if share else min(want, left)
            start = self._next
            self._next += size
            self.size[start] = size
            return start, start + size

    def stop(self) -> None:
        with self._lock:
            self._next = self._n
