"""``GatewayConfig``: the validated front-door arguments of a Flow, one per protocol.

``Flow(protocol=['grpc', 'http'], port=[12345, 12346], cors=True, ...)`` becomes two
configs through :func:`gateway_configs`; everything else is shared between them.
Validation happens on construction, so a bad value fails at ``Flow(...)`` time with a
message that says what to pass instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from shoal.errors import InvalidConfigError

__all__ = ["GatewayConfig", "ExposedEndpoint", "PROTOCOLS", "normalize_protocol",
           "gateway_configs", "DEFAULT_MAX_REQUEST_BYTES", "DEFAULT_PREFETCH"]

#: Protocols a gateway speaks, with the spellings Jina accepts.
PROTOCOLS = ("grpc", "http", "websocket")
_ALIASES = {"grpc": "grpc", "http": "http", "https": "http", "websocket": "websocket",
            "websockets": "websocket", "ws": "websocket", "wss": "websocket"}
#: Requests bigger than this are refused (413 / RESOURCE_EXHAUSTED) unless configured.
DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024
#: Requests one client connection may have in flight before the gateway stops reading.
DEFAULT_PREFETCH = 1000


def normalize_protocol(protocol: Any) -> str:
    """``'GRPC'`` / ``'ws'`` / ``GatewayProtocolType.HTTP`` -> ``'grpc'`` / ``'websocket'`` / ``'http'``."""
    name = getattr(protocol, "name", protocol)  # an enum member
    if isinstance(name, str) and name.lower() in _ALIASES:
        return _ALIASES[name.lower()]
    raise InvalidConfigError(f"protocol={protocol!r}: use one of {list(PROTOCOLS)}")


@dataclass(frozen=True)
class ExposedEndpoint:
    """An executor endpoint published as its own HTTP route (``Flow.expose_endpoint``)."""

    exec_endpoint: str
    path: str = ""  # defaults to exec_endpoint
    summary: str | None = None
    description: str | None = None
    methods: tuple[str, ...] = ("POST",)
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.exec_endpoint, str) or not self.exec_endpoint:
            raise InvalidConfigError(f"expose_endpoint: {self.exec_endpoint!r} must be a "
                                     "non-empty endpoint like '/foo'")
        path = self.path or self.exec_endpoint
        if not path.startswith("/"):
            path = "/" + path
        object.__setattr__(self, "path", path)
        methods = tuple(m.upper() for m in self.methods) or ("POST",)
        unknown = [m for m in methods if m not in ("GET", "POST", "PUT", "DELETE", "PATCH")]
        if unknown:
            raise InvalidConfigError(f"expose_endpoint({self.exec_endpoint!r}): unknown HTTP "
                                     f"methods {unknown}")
        object.__setattr__(self, "methods", methods)
        object.__setattr__(self, "tags", tuple(self.tags))

    @classmethod
    def from_kwargs(cls, exec_endpoint: str, path: str | None = None,
                    **kwargs: Any) -> ExposedEndpoint:
        """Jina's ``expose_endpoint(exec_endpoint, path=None, summary=, methods=, ...)``."""
        known = {"summary", "description", "methods", "tags"}
        extra = set(kwargs) - known
        if extra:
            raise InvalidConfigError(f"expose_endpoint: unknown arguments {sorted(extra)}; "
                                     f"use {sorted(known)}")
        return cls(exec_endpoint, path or "", kwargs.get("summary"), kwargs.get("description"),
                   tuple(kwargs.get("methods") or ("POST",)), tuple(kwargs.get("tags") or ()))


def _opt_int(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidConfigError(f"{name}={value!r} must be an int >= {minimum}")


@dataclass(frozen=True)
class GatewayConfig:
    """One gateway: a protocol on a port, with its limits, TLS and HTTP options.

    * ``port=0`` lets the OS choose a free port; the chosen one is known after start.
    * ``prefetch`` bounds the requests one client connection (a gRPC stream or a
      WebSocket) has in flight; the gateway stops reading until one finishes. 0 means
      no bound.
    * ``max_request_bytes`` refuses larger requests (413 / RESOURCE_EXHAUSTED).
    * ``timeout`` (seconds) bounds every request; a client's own timeout, if shorter,
      wins (504 / DEADLINE_EXCEEDED).
    """

    protocol: str = "grpc"
    port: int = 0
    host: str = "0.0.0.0"
    cors: bool = False
    no_debug_endpoints: bool = False
    no_crud_endpoints: bool = False
    expose_endpoints: tuple[ExposedEndpoint, ...] = ()
    uvicorn_kwargs: Mapping[str, Any] = field(default_factory=dict)
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    prefetch: int = DEFAULT_PREFETCH
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    timeout: float | None = None
    title: str = "shoal gateway"
    description: str = "The HTTP front door of a shoal Flow (Jina-compatible JSON)."
    grpc_options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "protocol", normalize_protocol(self.protocol))
        _opt_int("port", self.port, 0)
        if self.port > 65535:
            raise InvalidConfigError(f"port={self.port} is not a TCP port (0-65535)")
        if not isinstance(self.host, str) or not self.host:
            raise InvalidConfigError(f"host={self.host!r} must be a host name or address")
        _opt_int("prefetch", self.prefetch, 0)
        _opt_int("max_request_bytes", self.max_request_bytes, 1)
        if self.timeout is not None and (isinstance(self.timeout, bool) or not isinstance(
                self.timeout, (int, float)) or self.timeout <= 0):
            raise InvalidConfigError(f"timeout={self.timeout!r} must be seconds > 0 or None")
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            raise InvalidConfigError("TLS needs both ssl_certfile and ssl_keyfile")
        if not isinstance(self.uvicorn_kwargs, Mapping):
            raise InvalidConfigError("uvicorn_kwargs must be a dict of uvicorn.Config arguments")
        object.__setattr__(self, "uvicorn_kwargs", MappingProxyType(dict(self.uvicorn_kwargs)))
        eps = tuple(e if isinstance(e, ExposedEndpoint)
                    else ExposedEndpoint.from_kwargs(**e) if isinstance(e, Mapping)
                    else ExposedEndpoint(str(e)) for e in self.expose_endpoints)
        object.__setattr__(self, "expose_endpoints", eps)
        object.__setattr__(self, "grpc_options", tuple(tuple(o) for o in self.grpc_options))

    @property
    def tls(self) -> bool:
        return bool(self.ssl_certfile)

    @property
    def timeout_ms(self) -> int:
        return int(self.timeout * 1000) if self.timeout else 0


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def gateway_configs(protocol: Any = "grpc", port: Any = None,
                    **options: Any) -> list[GatewayConfig]:
    """One :class:`GatewayConfig` per protocol: ``protocol=['grpc', 'http'], port=[p1, p2]``.

    ``port`` may be one int (one protocol), a list as long as ``protocol``, or None
    (free ports). ``options`` are the remaining :class:`GatewayConfig` fields, shared.
    """
    protocols = [normalize_protocol(p) for p in _as_list(protocol)] or ["grpc"]
    if len(set(protocols)) != len(protocols):
        raise InvalidConfigError(f"protocol={protocol!r} names a protocol twice")
    ports = _as_list(port)
    if not ports:
        ports = [0] * len(protocols)
    if len(ports) != len(protocols):
        raise InvalidConfigError(
            f"{len(protocols)} protocol(s) {protocols} need as many ports, got port={port!r}")
    ports = [0 if p is None else p for p in ports]
    for p in ports:
        _opt_int("port", p, 0)
    used = [p for p in ports if p]
    if len(set(used)) != len(used):
        raise InvalidConfigError(f"port={port!r}: each protocol needs its own port")
    eps = options.pop("expose_endpoints", ())
    if isinstance(eps, Mapping):  # Jina's {exec_endpoint: {summary: ...}} form
        eps = tuple(ExposedEndpoint.from_kwargs(k, **(v or {})) for k, v in eps.items())
    return [GatewayConfig(protocol=proto, port=p, expose_endpoints=tuple(eps), **options)
            for proto, p in zip(protocols, ports, strict=True)]

