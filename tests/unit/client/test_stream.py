"""exchange(): prefetch, ordering, retries and timeouts against in-memory transports."""
from __future__ import annotations

import asyncio
import random
from typing import AsyncIterator

import pytest

from shoal.client.stream import exchange
from shoal.document import Document
from shoal.document.request import DataRequest
from shoal.errors import ConnectionFailedError, RequestTimeoutError

pytestmark = pytest.mark.timeout(30)


class MemoryTransport:
    """Answers each request after a random delay; can drop the connection once."""

    def __init__(self, fail_after: int | None = None, delay: float = 0.005,
                 hang: bool = False) -> None:
        self.fail_after = fail_after
        self.delay = delay
        self.hang = hang
        self.inflight = 0
        self.max_inflight = 0
        self.received: list[str] = []
        self.unary_calls = 0

    async def _answer(self, req: DataRequest) -> DataRequest:
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            if self.hang:
                await asyncio.sleep(3600)
            await asyncio.sleep(random.uniform(0, self.delay))
            return req
        finally:
            self.inflight -= 1

    async def unary(self, req: DataRequest, timeout: float | None) -> DataRequest:
        self.unary_calls += 1
        self.received.append(req.header.request_id)
        return await asyncio.wait_for(self._answer(req), timeout)

    async def stream(self, requests: AsyncIterator[DataRequest]) -> AsyncIterator[DataRequest]:
        out: asyncio.Queue = asyncio.Queue()
        tasks = []

        async def feed() -> None:
            async for req in requests:
                self.received.append(req.header.request_id)
                if self.fail_after is not None and len(self.received) > self.fail_after:
                    self.fail_after = None
                    out.put_nowait(ConnectionFailedError("dropped"))
                    return
                tasks.append(asyncio.ensure_future(self._answer(req)))
                tasks[-1].add_done_callback(lambda t: out.put_nowait(t.result()))
            await asyncio.gather(*tasks)
            out.put_nowait(None)

        feeder = asyncio.ensure_future(feed())
        try:
            while (item := await out.get()) is not None:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            feeder.cancel()
            for t in tasks:
                t.cancel()


def reqs(n: int) -> list[DataRequest]:
    return [DataRequest([Document(text=str(i))]) for i in range(n)]


async def agen(items):
    for item in items:
        yield item


def run(transport, items, **kwargs) -> list[DataRequest]:
    async def go():
        return [r async for r in exchange(transport, agen(items), **kwargs)]
    return asyncio.run(go())


def test_order_and_prefetch():
    items = reqs(50)
    t = MemoryTransport()
    out = run(t, items, prefetch=4)
    assert [r.request_id for r in out] == [r.request_id for r in items]
    assert t.max_inflight <= 4
    unordered = run(MemoryTransport(), items, results_in_order=False)
    assert sorted(r.request_id for r in unordered) == sorted(r.request_id for r in items)


def test_single_request_and_stream_false_use_unary():
    t = MemoryTransport()
    assert len(run(t, reqs(1))) == 1 and t.unary_calls == 1
    t = MemoryTransport()
    assert len(run(t, reqs(3), stream=False)) == 3 and t.unary_calls == 3
    assert run(MemoryTransport(), []) == []


def test_retry_resends_unanswered_and_answers_once():
    items = reqs(30)
    t = MemoryTransport(fail_after=10)
    out = run(t, items, retries=2, prefetch=5)
    assert [r.request_id for r in out] == [r.request_id for r in items]
    assert len(t.received) > 30  # some were sent twice
    with pytest.raises(ConnectionFailedError):
        run(MemoryTransport(fail_after=3), reqs(10), retries=0)


def test_timeout_of_a_hanging_server():
    with pytest.raises(RequestTimeoutError):
        run(MemoryTransport(hang=True), reqs(3), timeout=0.05)
    with pytest.raises(asyncio.TimeoutError):  # unary: the transport's own deadline
        run(MemoryTransport(hang=True), reqs(1), timeout=0.05)


def test_input_errors_are_raised():
    async def broken():
        yield DataRequest()
        yield DataRequest()
        raise ValueError("bad generator")

    async def go():
        return [r async for r in exchange(MemoryTransport(), broken())]

    with pytest.raises(ValueError, match="bad generator"):
        asyncio.run(go())


@pytest.mark.parametrize("stream", [True, False])
def test_a_slow_input_gets_its_first_answer_before_it_yields_the_second(stream):
    """A live generator: the first request goes out (and is answered) at once, not when
    the input has produced a second one (was: the client read two ahead, holding the
    first back for as long as the input took)."""
    first, second = reqs(2)
    seen: list[tuple[str, bool]] = []
    released = asyncio.Event()

    async def live():
        yield first
        await released.wait()  # the second request exists only after the first answer
        yield second

    async def go():
        async for resp in exchange(MemoryTransport(delay=0.001), live(), stream=stream):
            seen.append((resp.request_id, released.is_set()))
            released.set()
    asyncio.run(asyncio.wait_for(go(), 10))
    assert seen == [(first.request_id, False), (second.request_id, True)]
