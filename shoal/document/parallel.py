"""Thread / process pools for ``DocumentArray.map`` and ``apply``."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Callable, Iterator, Sequence

from shoal.errors import BadInputError
from shoal.utils.progress import progress

__all__ = ["pool_map"]


def pool_map(func: Callable[[Any], Any], items: Sequence[Any], backend: str = "thread",
             num_worker: int | None = None, show_progress: bool = False) -> Iterator[Any]:
    """Yield ``func(item)`` in input order, computed by ``num_worker`` threads or processes.

    ``backend='process'`` needs ``func`` to be picklable (a module-level function).
    """
    if backend not in ("thread", "process"):
        raise BadInputError(f"backend must be 'thread' or 'process', got {backend!r}")
    workers = num_worker or os.cpu_count() or 1
    pool_cls = ThreadPoolExecutor if backend == "thread" else ProcessPoolExecutor
    with pool_cls(max_workers=workers) as pool, \
            progress(total=len(items), desc="map", enabled=show_progress) as bar:
        chunk = max(1, len(items) // (workers * 4)) if backend == "process" else 1
        for result in pool.map(func, items, chunksize=chunk):
            bar.update(1)
            yield result
