"""asyncio helpers shared by the transports (layer 0: nothing of shoal is imported)."""
from __future__ import annotations

import asyncio
from typing import AsyncIterable, AsyncIterator, Awaitable, Callable, TypeVar

__all__ = ["map_as_completed"]

T = TypeVar("T")
R = TypeVar("R")

_END = object()


class _Failed:
    __slots__ = ("exc",)

    def __init__(self, exc: Exception) -> None:
        self.exc = exc


async def map_as_completed(items: AsyncIterable[T], fn: Callable[[T], Awaitable[R]],
                           limit: int | None = None) -> AsyncIterator[R]:
    """``await fn(item)`` for every item of ``items``, concurrently; results as they finish.

    A producer task reads ``items`` and starts one task per item (at most ``limit``
    running at a time when ``limit`` is set: reading waits for a free slot); this
    generator drains the queue they put their results in. The first exception, from
    ``fn`` or from reading ``items``, is raised here and ends the stream. When the
    consumer stops early (``break``, ``aclose()``, cancellation, or that exception), the
    producer and every unfinished ``fn`` task are cancelled.
    """
    out: asyncio.Queue = asyncio.Queue()
    slots = asyncio.Semaphore(limit) if limit else None
    tasks: set[asyncio.Task] = set()

    async def one(item: T) -> None:
        try:
            out.put_nowait(await fn(item))
        except Exception as exc:  # noqa: BLE001 - handed to the consumer
            out.put_nowait(_Failed(exc))
        finally:
            if slots is not None:
                slots.release()

    async def produce() -> None:
        try:
            async for item in items:
                if slots is not None:
                    await slots.acquire()
                task = asyncio.ensure_future(one(item))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.gather(*tasks)
            out.put_nowait(_END)
        except Exception as exc:  # noqa: BLE001 - handed to the consumer
            out.put_nowait(_Failed(exc))

    producer = asyncio.ensure_future(produce())
    try:
        while True:
            item = await out.get()
            if item is _END:
                return
            if type(item) is _Failed:
                raise item.exc
            yield item
    finally:
        producer.cancel()
        for task in list(tasks):
            task.cancel()
