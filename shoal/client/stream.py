"""The transport-independent heart of ``post``: prefetch, order, retries, timeouts.

:func:`exchange` sends an async iterator of requests through a transport and yields
each response exactly once:

* at most ``prefetch`` requests are unanswered at any time (the input is not read
  further until one is answered);
* with ``results_in_order`` responses come out in request order;
* if the connection is lost (:class:`~shoal.errors.ConnectionFailedError`), up to
  ``retries`` more attempts resend the unanswered requests (with backoff) and then carry
  on with the input; a duplicate answer to a resent request is dropped;
* with ``timeout``, a request unanswered ``timeout`` seconds (plus a grace second for
  the server to report its own timeout) after it was sent raises
  :class:`~shoal.errors.RequestTimeoutError`.

A single request (and ``stream=False``) goes through ``transport.unary`` instead. To
tell, the second request is awaited for at most ``_PEEK_S`` after the first: input that
is slow to produce it (a live generator) is streamed, and its first request goes out at
once rather than when the second exists.
"""
from __future__ import annotations

import asyncio
import collections
import random
import time
from typing import TYPE_CHECKING, Any, AsyncIterator

from shoal.client.errors import response_error
from shoal.errors import ConnectionFailedError, RequestTimeoutError

if TYPE_CHECKING:
    from shoal.client.transports import Transport
    from shoal.document.request import DataRequest

__all__ = ["exchange", "DEFAULT_PREFETCH", "backoff"]

DEFAULT_PREFETCH = 1000
_GRACE_S = 1.0
_PEEK_S = 0.005  # how long exchange waits for a second request before it streams


def backoff(attempt: int, initial: float = 0.1, maximum: float = 2.0) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): jittered exponential."""
    return random.uniform(0, min(maximum, initial * (2 ** (attempt - 1))))  # noqa: S311


class _Window:
    """Unanswered requests in send order, and the event that space is free."""

    def __init__(self, prefetch: int, in_order: bool) -> None:
        self.prefetch = prefetch
        self.in_order = in_order
        self.unanswered: dict[str, tuple[DataRequest, float]] = {}
        self.order: collections.deque[str] = collections.deque()
        self.done: dict[str, DataRequest] = {}
        self.space = asyncio.Event()
        self.space.set()

    def add(self, req: DataRequest) -> None:
        rid = req.header.request_id
        self.unanswered[rid] = (req, time.monotonic())
        if self.in_order:
            self.order.append(rid)
        if self.prefetch and len(self.unanswered) >= self.prefetch:
            self.space.clear()

    def answer(self, resp: DataRequest) -> bool:
        """Record ``resp``; False if it answers nothing outstanding (a duplicate)."""
        if self.unanswered.pop(resp.header.request_id, None) is None:
            return False
        self.space.set()
        return True

    def oldest_sent(self) -> float | None:
        for _, sent in self.unanswered.values():
            return sent
        return None


async def _pull(requests: AsyncIterator[DataRequest], window: _Window,
                resend: list[DataRequest], errors: list[BaseException]) -> AsyncIterator[DataRequest]:
    """What one attempt sends: the resends, then fresh input while the window has room."""
    for req in resend:
        window.unanswered[req.header.request_id] = (req, time.monotonic())
        yield req
    while True:
        await window.space.wait()
        try:
            req = await requests.__anext__()
        except StopAsyncIteration:
            return
        except Exception as exc:  # noqa: BLE001 - the user's input failed: report it
            errors.append(exc)
            return
        window.add(req)
        yield req


async def exchange(transport: Transport, requests: AsyncIterator[DataRequest], *,
                   prefetch: int = DEFAULT_PREFETCH, results_in_order: bool = True,
                   retries: int = 0, timeout: float | None = None,
                   stream: bool = True) -> AsyncIterator[DataRequest]:
    """Yield one response per request (see the module docstring)."""
    first = await _first_two(requests)
    if first is None:
        return
    head, rest = first
    try:
        async for resp in _exchange(transport, requests, head, rest, prefetch=prefetch,
                                    results_in_order=results_in_order, retries=retries,
                                    timeout=timeout, stream=stream):
            yield resp
    finally:  # a second request still being produced when the exchange ends early
        if isinstance(rest, asyncio.Future) and not rest.done():
            rest.cancel()


async def _exchange(transport: Transport, requests: AsyncIterator[DataRequest],
                    head: DataRequest, rest: Any, *, prefetch: int, results_in_order: bool,
                    retries: int, timeout: float | None,
                    stream: bool) -> AsyncIterator[DataRequest]:
    """:func:`exchange` once the first request (and maybe the second) is known."""
    if rest is None or not stream:  # (a pending second request: streamed, unless stream=False)
        async for resp in _unary_all(transport, head, rest, requests, retries, timeout):
            yield resp
        return

    source = _all_requests(head, rest, requests)
    window = _Window(prefetch, results_in_order)
    input_errors: list[BaseException] = []
    attempt = 0
    resend: list[DataRequest] = []
    while True:
        try:
            async for resp in _with_deadline(
                    transport.stream(_pull(source, window, resend, input_errors)),
                    window, timeout):
                if not window.answer(resp):
                    if resp.is_error and not resp.header.request_id:
                        # the gateway could not read one of the requests: its error, not
                        # a stream ended with requests unanswered
                        raise response_error(resp)
                    continue
                if not results_in_order:
                    yield resp
                    continue
                window.done[resp.header.request_id] = resp
                while window.order and window.order[0] in window.done:
                    yield window.done.pop(window.order.popleft())
            break
        except ConnectionFailedError:
            attempt += 1
            if attempt > retries:
                raise
            await asyncio.sleep(backoff(attempt))
            resend = [req for req, _ in window.unanswered.values()]
    if input_errors:
        raise input_errors[0]
    if window.unanswered:
        raise ConnectionFailedError(
            f"the gateway closed the stream with {len(window.unanswered)} request(s) "
            "unanswered")


async def _first_two(requests: AsyncIterator[DataRequest]) -> tuple[Any, Any] | None:
    """``(first, second)`` of ``requests``, or None if it is empty. The second is None when
    there is none, or a pending future of it when it took longer than ``_PEEK_S`` (the
    input is then streamed)."""
    try:
        head = await requests.__anext__()
    except StopAsyncIteration:
        return None
    nxt = asyncio.ensure_future(requests.__anext__())
    done, _ = await asyncio.wait({nxt}, timeout=_PEEK_S)
    if not done:
        return head, nxt
    try:
        return head, nxt.result()
    except StopAsyncIteration:
        return head, None


async def _all_requests(head: DataRequest, rest: Any,
                        requests: AsyncIterator[DataRequest]) -> AsyncIterator[DataRequest]:
    """``head``, then the second request (None: there is none; a future: still being
    produced, awaited while ``head`` is out), then the rest of ``requests``."""
    yield head
    if rest is None:
        return
    if isinstance(rest, asyncio.Future):
        try:
            yield await rest
        except StopAsyncIteration:
            return
    else:
        yield rest
    async for req in requests:
        yield req


async def _unary_all(transport: Transport, head: DataRequest, rest: DataRequest | None,
                     requests: AsyncIterator[DataRequest], retries: int,
                     timeout: float | None) -> AsyncIterator[DataRequest]:
    """One unary call per request, in order (``stream=False`` or a single request)."""
    call_timeout = timeout + _GRACE_S if timeout else None
    async for req in _all_requests(head, rest, requests):
        attempt = 0
        while True:
            try:
                yield await transport.unary(req, call_timeout)
                break
            except ConnectionFailedError:
                attempt += 1
                if attempt > retries:
                    raise
                await asyncio.sleep(backoff(attempt))


async def _with_deadline(responses: AsyncIterator[DataRequest], window: _Window,
                         timeout: float | None) -> AsyncIterator[DataRequest]:
    """``responses``, raising RequestTimeoutError when the oldest request is overdue.

    The pending ``__anext__`` is awaited with ``asyncio.wait`` (never cancelled by a
    timeout), so the transport's generator stays intact while the deadline is checked.
    """
    if not timeout:
        async for resp in responses:
            yield resp
        return
    it = responses.__aiter__()
    nxt: asyncio.Future | None = None
    try:
        while True:
            if nxt is None:
                nxt = asyncio.ensure_future(it.__anext__())
            oldest = window.oldest_sent()
            limit = timeout + _GRACE_S
            wait = limit if oldest is None else max(0.0, oldest + limit - time.monotonic())
            done, _ = await asyncio.wait((nxt,), timeout=wait)
            if not done:
                oldest = window.oldest_sent()
                if oldest is not None and time.monotonic() - oldest >= limit:
                    raise RequestTimeoutError(
                        f"a request got no answer within timeout={timeout} s")
                continue
            fut, nxt = nxt, None
            try:
                resp = fut.result()
            except StopAsyncIteration:
                return
            yield resp
    finally:
        if nxt is not None:
            nxt.cancel()
            await asyncio.gather(nxt, return_exceptions=True)
        aclose = getattr(it, "aclose", None)
        if aclose is not None:
            await aclose()
