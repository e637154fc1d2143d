"""``Client``: talk to a served Flow over gRPC, HTTP or WebSocket, the Jina 3 way.

::

    c = Client(port=12345)                          # gRPC on this host
    c = Client(host='http://my.flow:1234')          # HTTP; 'ws://...' for WebSocket
    docs = c.post('/search', DocumentArray.empty(2))
    resps = c.post('/', docs, return_responses=True)     # [DataRequest]
    c.post('/', docs, on_done=print, on_error=beep)      # callbacks: returns None

    c = Client(port=12345, asyncio=True)
    async for docs in c.post('/', async_gen(), request_size=1): ...

Nothing is opened in ``__init__``: the connection is made by the first call and kept
for the next ones (``close()`` or ``with Client(...) as c:`` releases it). A sync Client
runs its calls on a private event loop; use one Client per thread, or the asyncio
Client inside a running loop. Failed requests raise the exception class the server
raised (see :mod:`shoal.client.errors`) unless ``on_error`` or ``continue_on_error``
takes them.
"""
from __future__ import annotations

import asyncio as _asyncio
import concurrent.futures
import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

from shoal.client.config import ClientConfig, parse_client_args
from shoal.client.errors import response_error
from shoal.document.posting import (Callback, CrudShortcuts, RequestFactory, call_with_error,
                                    check_post_keywords,
                                    flatten_responses)
from shoal.client.stream import DEFAULT_PREFETCH, exchange
from shoal.client.transports import make_transport
from shoal.errors import BadInputError

if TYPE_CHECKING:
    from shoal.client.transports import Transport
    from shoal.document.request import DataRequest

__all__ = ["Client", "AsyncClient", "PostOptions"]

log = logging.getLogger(__name__)


#: What ``Client.post`` takes (besides Jina's no-effect keywords).
_POST_KEYS = ("on", "inputs", "on_done", "on_error", "on_always", "parameters",
              "target_executor", "request_size", "show_progress", "continue_on_error",
              "return_responses", "max_attempts", "retries", "results_in_order", "stream",
              "prefetch", "timeout")


class PostOptions:
    """The per-call arguments of ``post`` that shape delivery, validated once."""

    __slots__ = ("on_done", "on_error", "on_always", "continue_on_error", "has_callbacks")

    def __init__(self, on_done: Callback | None, on_error: Callback | None,
                 on_always: Callback | None, continue_on_error: bool) -> None:
        for name, cb in (("on_done", on_done), ("on_error", on_error),
                         ("on_always", on_always)):
            if cb is not None and not callable(cb):
                raise BadInputError(f"{name} must be callable, got {type(cb).__name__}")
        self.on_done, self.on_error, self.on_always = on_done, on_error, on_always
        self.continue_on_error = continue_on_error
        self.has_callbacks = any(cb is not None for cb in (on_done, on_error, on_always))

    def deliver(self, resp: DataRequest) -> bool:
        """Run the callbacks for ``resp``; raise its error if nothing takes it.

        Returns True if the response should be kept in the results.
        """
        if resp.is_error:
            exc = response_error(resp)
            if self.on_error is not None:
                call_with_error(self.on_error, resp, exc)
            elif self.continue_on_error:
                log.error("request %s failed: %s", resp.header.request_id, exc)
            else:
                raise exc
        elif self.on_done is not None:
            self.on_done(resp)
        if self.on_always is not None:
            self.on_always(resp)
        return not resp.is_error


class Client(CrudShortcuts):
    """A client of a shoal (or Jina-style) gateway; ``asyncio=True`` gives an AsyncClient.

    :param host: ``'grpc://h:p'``, ``'http://h:p'``, ``'ws://h:p'`` (``grpcs``/``https``/
        ``wss`` for TLS), or a bare host name; default this machine.
    :param port: the gateway's port, if ``host`` does not carry one.
    :param protocol: ``'grpc'`` (default), ``'http'`` or ``'websocket'``, if ``host`` has
        no scheme.
    :param tls: connect with TLS; ``root_certificates`` names a PEM file to trust instead
        of the system's store (e.g. a self-signed certificate).
    :param asyncio: return an :class:`AsyncClient` whose ``post`` is an async generator.
    :param prefetch: default number of requests in flight per ``post``.
    """

    def __new__(cls, *args: Any, asyncio: bool = False, **kwargs: Any) -> Client:
        if asyncio and not issubclass(cls, AsyncClient):
            cls = AsyncClient
        return super().__new__(cls)

    def __init__(self, host: str | None = None, port: int | str | None = None,
                 protocol: Any = None, tls: bool = False, *, asyncio: bool = False,
                 root_certificates: str | None = None, prefetch: int | None = None,
                 **transport_options: Any) -> None:
        self.config: ClientConfig = parse_client_args(host, port, protocol, tls,
                                                      root_certificates)
        if prefetch is not None and (not isinstance(prefetch, int) or prefetch < 0):
            raise BadInputError(f"prefetch={prefetch!r} must be an int >= 0 (0: no bound)")
        self.prefetch = DEFAULT_PREFETCH if prefetch is None else prefetch
        self._transport_options = transport_options
        self._transport: Transport | None = None
        self._transport_loop: _asyncio.AbstractEventLoop | None = None
        self._loop: _asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._finalizer: Any = None

    # -- Jina-compatible attributes --------------------------------------------------
    @property
    def host(self) -> str:
        return self.config.host

    @property
    def port(self) -> int:
        return self.config.port

    @property
    def protocol(self) -> str:
        return self.config.protocol

    @property
    def tls(self) -> bool:
        return self.config.tls

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.config.protocol}"
                f"{'+tls' if self.config.tls else ''}://{self.config.address}>")

    # -- connection ------------------------------------------------------------------
    def _transport_for_loop(self) -> Transport:
        """The transport of the running loop (a new one if the loop changed)."""
        loop = _asyncio.get_running_loop()
        if self._transport is None or self._transport_loop is not loop:
            self._transport = make_transport(self.config, **self._transport_options)
            self._transport_loop = loop
        return self._transport

    def _run(self, coro_fn: Callable[[], Any]) -> Any:
        """Run ``coro_fn()`` to completion on this client's private loop."""
        try:
            running: _asyncio.AbstractEventLoop | None = _asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is None:
            return self._run_private(coro_fn)
        # called from inside a running loop (e.g. a notebook): use a helper thread
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(self._run_private, coro_fn).result()

    def _run_private(self, coro_fn: Callable[[], Any]) -> Any:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                self._loop = _asyncio.new_event_loop()
                self._finalizer = weakref.finalize(self, _shutdown_loop, self._loop)
            return self._loop.run_until_complete(coro_fn())

    async def _aclose_transport(self) -> None:
        transport, self._transport = self._transport, None
        self._transport_loop = None
        if transport is not None:
            await transport.close()

    def close(self) -> None:
        """Close the connection (the next call reconnects)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with self._lock:
                try:
                    loop.run_until_complete(self._aclose_transport())
                finally:
                    _shutdown_loop(loop)
            self._loop = None
            if self._finalizer is not None:
                self._finalizer.detach()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ----------------------------------------------------------------------
    async def _responses(self, on: str, inputs: Any, *, parameters: dict | None,
                         target_executor: str | None, request_size: int, prefetch: int | None,
                         results_in_order: bool, retries: int, timeout: float | None,
                         stream: bool, show_progress: bool) -> AsyncIterator[DataRequest]:
        if timeout is not None and (isinstance(timeout, bool) or timeout <= 0):
            raise BadInputError(f"timeout={timeout!r} must be seconds > 0 or None")
        factory = RequestFactory(on, parameters, request_size, target_executor,
                                 int(timeout * 1000) if timeout else 0)
        transport = self._transport_for_loop()
        responses = exchange(transport, factory.iter_async(inputs),
                             prefetch=self.prefetch if prefetch is None else prefetch,
                             results_in_order=results_in_order, retries=max(0, retries),
                             timeout=timeout, stream=stream)
        if not show_progress:
            async for resp in responses:
                yield resp
            return
        from shoal.utils.progress import progress  # noqa: PLC0415

        with progress(desc=f"post {on}", unit="request") as bar:
            async for resp in responses:
                bar.update(1)
                yield resp

    def post(self, on: str, inputs: Any = None, on_done: Callback | None = None,
             on_error: Callback | None = None, on_always: Callback | None = None,
             parameters: dict | None = None, target_executor: str | None = None,
             request_size: int = 100, show_progress: bool = False,
             continue_on_error: bool = False, return_responses: bool = False,
             max_attempts: int = 1, retries: int | None = None, results_in_order: bool = True,
             stream: bool = True, prefetch: int | None = None, timeout: float | None = None,
             **kwargs: Any) -> Any:
        """Send ``inputs`` to endpoint ``on`` in requests of ``request_size`` Documents.

        Returns the Documents of every response as one DocumentArray, or the responses
        (``return_responses=True``), or None when a callback is given. ``retries`` (or
        Jina's ``max_attempts - 1``) resends unanswered requests after a lost connection;
        ``timeout`` (seconds) bounds each request on the gateway and in the client.
        """
        check_post_keywords("Client.post", kwargs, _POST_KEYS)
        options = PostOptions(on_done, on_error, on_always, continue_on_error)
        n_retries = retries if retries is not None else max(0, max_attempts - 1)

        async def run() -> list[DataRequest]:
            kept: list[DataRequest] = []
            async for resp in self._responses(
                    on, inputs, parameters=parameters, target_executor=target_executor,
                    request_size=request_size, prefetch=prefetch,
                    results_in_order=results_in_order, retries=n_retries, timeout=timeout,
                    stream=stream, show_progress=show_progress):
                if options.deliver(resp) and not options.has_callbacks:
                    kept.append(resp)
            return kept

        responses = self._run(run)
        if options.has_callbacks:
            return None
        if return_responses:
            return responses
        return flatten_responses(responses)

    def is_flow_ready(self, timeout: float = 3.0, **kwargs: Any) -> bool:
        """True if the gateway answers its health check within ``timeout`` seconds."""
        async def check() -> bool:
            return await self._transport_for_loop().is_ready(timeout)

        return bool(self._run(check))

    dry_run = is_flow_ready

    def profiling(self, show_table: bool = True) -> dict[str, Any]:
        """Round-trip time of one request with one empty Document to ``'/'``, in ms.

        Returns ``{'roundtrip': ms, 'routes': [executors the request passed]}`` and
        prints it as a small table when ``show_table``.
        """
        from shoal.document.document import Document  # noqa: PLC0415

        t0 = time.perf_counter()
        resp = self.post("/", Document(), return_responses=True)[0]
        return _profile(resp, (time.perf_counter() - t0) * 1000, show_table)


class AsyncClient(Client):
    """``Client(..., asyncio=True)``: ``post`` is an async generator; the rest awaitable."""

    async def post(self, on: str, inputs: Any = None, on_done: Callback | None = None,  # type: ignore[override]
                   on_error: Callback | None = None, on_always: Callback | None = None,
                   parameters: dict | None = None, target_executor: str | None = None,
                   request_size: int = 100, show_progress: bool = False,
                   continue_on_error: bool = False, return_responses: bool = False,
                   max_attempts: int = 1, retries: int | None = None,
                   results_in_order: bool = True, stream: bool = True,
                   prefetch: int | None = None, timeout: float | None = None,
                   **kwargs: Any) -> AsyncIterator[Any]:
        """Yield each response's DocumentArray (or the response, ``return_responses``)."""
        check_post_keywords("AsyncClient.post", kwargs, _POST_KEYS)
        options = PostOptions(on_done, on_error, on_always, continue_on_error)
        n_retries = retries if retries is not None else max(0, max_attempts - 1)
        async for resp in self._responses(
                on, inputs, parameters=parameters, target_executor=target_executor,
                request_size=request_size, prefetch=prefetch, results_in_order=results_in_order,
                retries=n_retries, timeout=timeout, stream=stream, show_progress=show_progress):
            if options.deliver(resp):
                yield resp if return_responses else resp.docs

    async def index(self, inputs: Any = None, **kwargs: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        async for item in self.post("/index", inputs, **kwargs):
            yield item

    async def search(self, inputs: Any = None, **kwargs: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        async for item in self.post("/search", inputs, **kwargs):
            yield item

    async def update(self, inputs: Any = None, **kwargs: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        async for item in self.post("/update", inputs, **kwargs):
            yield item

    async def delete(self, inputs: Any = None, **kwargs: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        async for item in self.post("/delete", inputs, **kwargs):
            yield item

    async def is_flow_ready(self, timeout: float = 3.0, **kwargs: Any) -> bool:  # type: ignore[override]
        return await self._transport_for_loop().is_ready(timeout)

    dry_run = is_flow_ready

    async def profiling(self, show_table: bool = True) -> dict[str, Any]:  # type: ignore[override]
        from shoal.document.document import Document  # noqa: PLC0415

        t0 = time.perf_counter()
        async for resp in self.post("/", Document(), return_responses=True):
            return _profile(resp, (time.perf_counter() - t0) * 1000, show_table)
        return {}

    async def aclose(self) -> None:
        """Close the connection of the running loop."""
        await self._aclose_transport()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _profile(resp: DataRequest, roundtrip_ms: float, show_table: bool) -> dict[str, Any]:
    report = {"roundtrip": roundtrip_ms, "routes": list(resp.routes)}
    if show_table:
        print(f"{'roundtrip':<12} {roundtrip_ms:8.2f} ms")  # noqa: T201
        print(f"{'routes':<12} {' -> '.join(resp.routes) or '-'}")  # noqa: T201
    return report


def _shutdown_loop(loop: _asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on a (not running) private loop, then close it.

    Also the finalizer of a garbage-collected sync Client that was never closed.
    """
    if loop.is_closed() or loop.is_running():
        return
    try:
        _asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:  # collected inside another loop's thread: finish in a thread of its own
        threading.Thread(target=_shutdown_loop, args=(loop,), daemon=True).start()
        return
    try:
        tasks = _asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(_asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
    except RuntimeError:  # pragma: no cover - e.g. at interpreter shutdown
        pass
    finally:
        loop.close()
