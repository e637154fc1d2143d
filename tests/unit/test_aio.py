"""shoal.utils.aio.map_as_completed: results as they finish, errors to the consumer, cleanup."""
import asyncio

import pytest

from shoal.utils.aio import map_as_completed


async def source(items, started=None):
    for x in items:
        if started is not None:
            started.append(x)
        yield x
        await asyncio.sleep(0)


async def collect(agen):
    return [x async for x in agen]


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 10))


async def leftover_tasks(before):
    """Tasks started since ``before`` (a set of tasks) that are still running."""
    for _ in range(3):  # let cancellations run
        await asyncio.sleep(0)
    return [t for t in asyncio.all_tasks() - before if not t.done()]


def stuck_after_first(cancelled):
    """An ``fn`` that answers item 0 at once and hangs on the rest, noting cancellations."""
    async def work(x):
        if x == 0:
            return x
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(x)
            raise
        return x

    return work


def test_every_result_once_in_order_of_finishing():
    async def slow_first(x):
        await asyncio.sleep(0.01 * (3 - x))
        return x * 10

    assert run(collect(map_as_completed(source([0, 1, 2]), slow_first))) == [20, 10, 0]


def test_same_delays_keep_input_order_and_empty_input_ends():
    async def echo(x):
        return x

    assert run(collect(map_as_completed(source(range(50)), echo))) == list(range(50))
    assert run(collect(map_as_completed(source([]), echo))) == []


def test_limit_bounds_the_running_tasks():
    running = peak = 0

    async def work(x):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001)
        running -= 1
        return x

    out = run(collect(map_as_completed(source(range(20)), work, limit=3)))
    assert sorted(out) == list(range(20))
    assert peak == 3
    peak = 0
    run(collect(map_as_completed(source(range(20)), work)))
    assert peak > 3


def test_exception_of_fn_is_raised_in_the_consumer_and_cancels_the_rest():
    cancelled = []
    stuck = stuck_after_first(cancelled)

    async def work(x):
        if x == 1:
            raise ValueError("bad item 1")
        return await stuck(x + 1)

    async def main():
        before = asyncio.all_tasks()
        with pytest.raises(ValueError, match="bad item 1"):
            await collect(map_as_completed(source([0, 1, 2]), work))
        return await leftover_tasks(before)

    assert run(main()) == []
    assert 1 in cancelled  # item 0 (stuck as 1) was cancelled; item 2 may never have started


def test_exception_of_the_producer_is_raised_in_the_consumer():
    async def broken():
        yield 1
        await asyncio.sleep(0.01)
        raise ConnectionResetError("client went away")

    async def echo(x):
        return x

    async def main():
        got = []
        with pytest.raises(ConnectionResetError, match="went away"):
            async for x in map_as_completed(broken(), echo):
                got.append(x)
        return got

    assert run(main()) == [1]


def test_a_returned_exception_is_a_result_not_an_error():
    async def make(x):
        return KeyError(x)

    out = run(collect(map_as_completed(source(["a"]), make)))
    assert isinstance(out[0], KeyError)


@pytest.mark.parametrize("how", ["aclose", "cancel"])
def test_stopping_early_cancels_the_producer_and_the_tasks(how):
    cancelled, started = [], []
    work = stuck_after_first(cancelled)

    async def endless():
        i = 0
        while True:
            started.append(i)
            yield i
            i += 1
            await asyncio.sleep(0.001)
    async def main():
        before = asyncio.all_tasks()
        agen = map_as_completed(endless(), work, limit=4)
        if how == "aclose":
            assert await agen.__anext__() == 0
            await asyncio.sleep(0.02)  # tasks 1.. are waiting in work()
            await agen.aclose()
        else:
            consumer = asyncio.ensure_future(collect(agen))
            await asyncio.sleep(0.05)
            consumer.cancel()
            with pytest.raises(asyncio.CancelledError):
                await consumer
        left = await leftover_tasks(before)
        n = len(started)
        await asyncio.sleep(0.02)
        assert len(started) == n  # the producer stopped reading
        return left

    assert run(main()) == []
    assert cancelled and all(x > 0 for x in cancelled)


def http_stream(work):
    from shoal.client.config import ClientConfig
    from shoal.client.transports.http import HTTPTransport

    t = HTTPTransport(ClientConfig(port=1, protocol="http"))

    async def unary(req, timeout):
        return await work(req)

    t.unary = unary
    return t.stream


def grpc_call(work):
    from types import SimpleNamespace

    from shoal.serve.gateway.grpc import GrpcGateway

    g = GrpcGateway(handler=None, config=SimpleNamespace(port=1, prefetch=2))
    g._answer = work
    return lambda requests: g._call(requests, context=None)


@pytest.mark.parametrize("adapter", [http_stream, grpc_call])
def test_transports_stream_through_the_helper_and_close_it(adapter):
    cancelled = []
    work = stuck_after_first(cancelled)
    async def main():
        before = asyncio.all_tasks()
        stream = adapter(work)
        assert await collect(stream(source([0]))) == [0]
        agen = stream(source(range(5)))
        assert await agen.__anext__() == 0
        await asyncio.sleep(0.02)
        await agen.aclose()  # closes the helper at once, not when garbage-collected
        return await leftover_tasks(before)

    assert run(main()) == []
    assert cancelled
