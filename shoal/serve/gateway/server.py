"""Several gateways (and the ``/metrics`` endpoint) in front of one router.

:class:`GatewayGroup` is what a Flow starts: ``await group.start()`` on the Flow's event
loop (the loop its router runs on), ``await group.stop()`` to stop. For callers without
an event loop of their own — tests, ``Executor.serve()`` — :class:`BackgroundGateways`
runs a group on a private loop in a daemon thread.
"""
from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any, Callable, Sequence

from shoal.errors import FlowError, InvalidConfigError
from shoal.serve.gateway.handler import GatewayHandler

if TYPE_CHECKING:
    from shoal.serve.gateway.config import GatewayConfig
    from shoal.serve.gateway.handler import Router

__all__ = ["GatewayGroup", "BackgroundGateways", "make_gateway", "register_transport",
           "TRANSPORTS"]


def _grpc(handler: GatewayHandler, config: GatewayConfig) -> Any:
    from shoal.serve.gateway.grpc import GrpcGateway  # noqa: PLC0415

    return GrpcGateway(handler, config)


def _http(handler: GatewayHandler, config: GatewayConfig) -> Any:
    from shoal.serve.gateway.http import HTTPGateway  # noqa: PLC0415

    return HTTPGateway(handler, config)


def _websocket(handler: GatewayHandler, config: GatewayConfig) -> Any:
    from shoal.serve.gateway.http import WebSocketGateway  # noqa: PLC0415

    return WebSocketGateway(handler, config)


#: protocol -> factory(handler, config) of an object with ``port``, ``async start()``
#: and ``async stop(grace)``. Imports of grpc / FastAPI happen inside the factories.
TRANSPORTS: dict[str, Callable[[GatewayHandler, GatewayConfig], Any]] = {
    "grpc": _grpc, "http": _http, "websocket": _websocket}


def register_transport(protocol: str,
                       factory: Callable[[GatewayHandler, GatewayConfig], Any]) -> None:
    """Add (or replace) the transport serving ``protocol``."""
    TRANSPORTS[protocol] = factory


def make_gateway(handler: GatewayHandler, config: GatewayConfig) -> Any:
    try:
        factory = TRANSPORTS[config.protocol]
    except KeyError:
        raise InvalidConfigError(f"no gateway for protocol {config.protocol!r} "
                                 f"(known: {sorted(TRANSPORTS)})") from None
    return factory(handler, config)


class GatewayGroup:
    """The gateways of one Flow; ``ports`` is known after :meth:`start`."""

    def __init__(self, router: Router, configs: Sequence[GatewayConfig], *,
                 monitoring: bool = False, port_monitoring: int | None = None,
                 monitoring_host: str = "0.0.0.0", registry: Any = None) -> None:
        if not configs:
            raise InvalidConfigError("a gateway group needs at least one protocol")
        self.router = router
        self.configs = tuple(configs)
        self.monitoring = monitoring
        self.port_monitoring = port_monitoring or 0
        self.monitoring_host = monitoring_host
        self.registry = registry
        self.metrics: Any = None
        self.gateways: list[Any] = []
        self._metrics_server: Any = None

    @property
    def ports(self) -> list[int]:
        return [g.port for g in self.gateways]

    @property
    def port(self) -> int:
        """The first gateway's port (``Flow.port``)."""
        return self.gateways[0].port if self.gateways else self.configs[0].port

    @property
    def protocols(self) -> list[str]:
        return [c.protocol for c in self.configs]

    async def start(self) -> None:
        """Bind and serve every protocol; on any failure, stop what started and raise."""
        if self.monitoring:
            from shoal.serve.gateway.monitoring import (  # noqa: PLC0415
                GatewayMetrics, MetricsServer,
            )

            self.metrics = GatewayMetrics(self.registry)
            server = MetricsServer(self.metrics.registry, self.port_monitoring,
                                   self.monitoring_host)
            try:
                server.start()
            except OSError as exc:
                raise FlowError(f"cannot serve /metrics on port {self.port_monitoring}: "
                                f"{exc.strerror}; choose another port_monitoring") from exc
            self._metrics_server = server
            self.port_monitoring = server.port
        try:
            for cfg in self.configs:
                gateway = make_gateway(GatewayHandler(self.router, cfg, self.metrics), cfg)
                await gateway.start()
                self.gateways.append(gateway)
        except BaseException:
            await self.stop(grace=0)
            raise

    async def stop(self, grace: float = 1.0) -> None:
        """Stop every gateway (in-flight requests get ``grace`` seconds) and /metrics."""
        gateways, self.gateways = self.gateways, []
        if gateways:
            await asyncio.gather(*(g.stop(grace) for g in gateways), return_exceptions=True)
        if self._metrics_server is not None:
            self._metrics_server.close()
            self._metrics_server = None


class BackgroundGateways:
    """A :class:`GatewayGroup` on its own event loop in a daemon thread.

    ``start()`` returns once every port listens (or raises what went wrong); ``stop()``
    stops the gateways and the thread. Also a context manager.
    """

    def __init__(self, group: GatewayGroup) -> None:
        self.group = group
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> BackgroundGateways:
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.group.start())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self.loop = loop
        self._thread = threading.Thread(target=run, name="shoal-gateway", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise FlowError(f"the gateways did not start within {timeout} s")
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    @property
    def ports(self) -> list[int]:
        return self.group.ports

    @property
    def port(self) -> int:
        return self.group.port

    def stop(self, grace: float = 1.0, timeout: float = 30.0) -> None:
        loop, thread = self.loop, self._thread
        if loop is None or thread is None:
            return
        self._thread = None
        fut = asyncio.run_coroutine_threadsafe(self.group.stop(grace), loop)
        try:
            fut.result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)

    def __enter__(self) -> BackgroundGateways:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
