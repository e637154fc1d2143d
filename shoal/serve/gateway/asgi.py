"""Run an ASGI app (the HTTP and WebSocket gateways) with uvicorn on the current loop.

The listening socket is bound before uvicorn starts, so the port is known (``port=0``
picks a free one) and a port in use fails at ``start()`` with a clear message. uvicorn
runs as a task of the caller's event loop and never touches signal handlers: the Flow,
not the gateway, decides when to stop.
"""
from __future__ import annotations

import asyncio
import importlib.util
import logging
import socket
from typing import TYPE_CHECKING, Any

from shoal.errors import FlowError, MissingExtraError

if TYPE_CHECKING:
    from shoal.serve.gateway.config import GatewayConfig

__all__ = ["UvicornRunner", "bind_socket"]

log = logging.getLogger(__name__)
_IGNORED_KWARGS = ("app", "host", "port", "fd", "uds", "reload", "workers")


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket bound to ``host:port``; FlowError if it cannot be."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise FlowError(f"cannot listen on {host}:{port}: {exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.set_inheritable(True)
    except OSError as exc:
        sock.close()
        raise FlowError(f"cannot listen on {host}:{port}: {exc.strerror}; the port is in "
                        "use, choose another port") from exc
    return sock


def uvicorn_options(config: GatewayConfig) -> dict[str, Any]:
    """``uvicorn.Config`` arguments: quiet, TLS and size limit, then the user's kwargs."""
    opts: dict[str, Any] = {"log_level": "warning", "access_log": False, "lifespan": "off",
                            "ws_max_size": config.max_request_bytes,
                            "timeout_graceful_shutdown": 2, "server_header": False}
    if config.tls:
        opts["ssl_certfile"] = config.ssl_certfile
        opts["ssl_keyfile"] = config.ssl_keyfile
    for key, value in config.uvicorn_kwargs.items():
        if key in _IGNORED_KWARGS:
            log.warning("uvicorn_kwargs[%r] is ignored: the gateway sets it", key)
        else:
            opts[key] = value
    if opts.get("http") == "httptools" and importlib.util.find_spec("httptools") is None:
        log.warning("uvicorn_kwargs http='httptools' but httptools is not installed; "
                    "using h11 (pip install httptools)")
        opts["http"] = "h11"
    return opts


class UvicornRunner:
    """``start()`` serves ``app`` on ``config.host:config.port``; ``stop()`` stops."""

    def __init__(self, app: Any, config: GatewayConfig) -> None:
        self.app = app
        self.config = config
        self.port = config.port
        self._server: Any = None
        self._sock: socket.socket | None = None
        self._ticker: asyncio.Task | None = None

    async def start(self) -> None:
        try:
            import uvicorn  # noqa: PLC0415
        except ImportError as exc:
            raise MissingExtraError(
                f"the {self.config.protocol} gateway needs uvicorn: pip install 'shoal[serve]'"
            ) from exc
        ucfg = uvicorn.Config(self.app, **uvicorn_options(self.config))
        ucfg.load()
        sock = bind_socket(self.config.host, self.config.port)
        server = uvicorn.Server(ucfg)
        server.lifespan = ucfg.lifespan_class(ucfg)
        try:
            await server.startup(sockets=[sock])
        except BaseException:
            sock.close()
            raise
        self._sock, self._server = sock, server
        self.port = sock.getsockname()[1]
        self._ticker = asyncio.ensure_future(server.main_loop())

    async def stop(self, grace: float = 1.0) -> None:
        """Stop accepting, give open connections ``grace`` seconds, then close them."""
        server, self._server = self._server, None
        if server is None:
            return
        server.should_exit = True
        if self._ticker is not None:
            await self._ticker
            self._ticker = None
        if "timeout_graceful_shutdown" not in self.config.uvicorn_kwargs:
            server.config.timeout_graceful_shutdown = grace
        if self.config.tls:
            _drop_idle_http(server)
        await server.shutdown(sockets=[self._sock] if self._sock else None)
        self._sock = None


def _drop_idle_http(server: Any) -> None:
    """Abort the idle keep-alive HTTP connections of a TLS server: closing one waits for
    the client's TLS close_notify, which an idle client never sends, so uvicorn waited
    out its grace period and logged an error on every close. Requests still running, and
    WebSocket connections, are closed by uvicorn as usual."""
    for conn in list(server.server_state.connections):
        if not hasattr(conn, "cycle"):  # not an HTTP/1.1 connection (e.g. a WebSocket)
            continue
        cycle = conn.cycle
        transport = getattr(conn, "transport", None)
        if transport is not None and (cycle is None or cycle.response_complete):
            transport.abort()
