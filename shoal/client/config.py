"""``ClientConfig``: where and how a Client connects, parsed from Jina's spellings.

``Client(port=12345)``, ``Client(host='grpc://h:1234')``, ``Client(host='http://h:1234')``,
``Client(host='ws://h', port=1234)``, ``Client(host='h', port=1234, protocol='http',
tls=True)`` all land here. A scheme in ``host`` wins over ``protocol=``; ``grpcs``,
``https`` and ``wss`` switch TLS on.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from shoal.errors import InvalidConfigError

__all__ = ["ClientConfig", "parse_client_args", "PROTOCOLS"]

PROTOCOLS = ("grpc", "http", "websocket")
_SCHEMES = {"grpc": ("grpc", False), "grpcs": ("grpc", True), "http": ("http", False),
            "https": ("http", True), "ws": ("websocket", False), "wss": ("websocket", True),
            "websocket": ("websocket", False), "websockets": ("websocket", False)}


@dataclass(frozen=True)
class ClientConfig:
    """A validated connection target."""

    host: str = "0.0.0.0"
    port: int = 0
    protocol: str = "grpc"
    tls: bool = False
    root_certificates: str | None = None  # PEM file trusted for TLS (else the system's)

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise InvalidConfigError(f"protocol={self.protocol!r}: use one of {list(PROTOCOLS)}")
        if not isinstance(self.port, int) or isinstance(self.port, bool) \
                or not 0 < self.port < 65536:
            raise InvalidConfigError(
                f"port={self.port!r}: give the gateway's port, e.g. Client(port=12345) or "
                "Client(host='grpc://localhost:12345')")

    @property
    def connect_host(self) -> str:
        """The address to dial (``0.0.0.0`` / ``::``, a listening address, means this host)."""
        if self.host in ("0.0.0.0", "", "::", "[::]"):
            return "127.0.0.1"
        return self.host

    @property
    def address(self) -> str:
        """``host:port`` to dial (IPv6 literals in brackets)."""
        host = self.connect_host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{self.port}"

    def url(self, scheme: str, path: str = "") -> str:
        return f"{scheme}{'s' if self.tls else ''}://{self.address}{path}"


def _protocol_name(protocol: object) -> str:
    name = getattr(protocol, "name", protocol)  # an enum member
    if isinstance(name, str):
        found = _SCHEMES.get(name.lower())
        if found:
            return found[0]
    raise InvalidConfigError(f"protocol={protocol!r}: use one of {list(PROTOCOLS)}")


def parse_client_args(host: str | None = None, port: int | str | None = None,
                      protocol: object = None, tls: bool | None = None,
                      root_certificates: str | None = None) -> ClientConfig:
    """A :class:`ClientConfig` from Jina-style Client arguments (see the module docstring)."""
    host = host or "0.0.0.0"
    proto = _protocol_name(protocol) if protocol is not None else None
    secure = bool(tls)
    if "://" in host:
        parts = urlsplit(host)
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            raise InvalidConfigError(f"host={host!r}: unknown scheme {scheme!r}; use grpc://, "
                                     "http://, https://, ws:// or wss://")
        proto, scheme_tls = _SCHEMES[scheme]
        secure = secure or scheme_tls
        try:
            url_port = parts.port
        except ValueError as exc:
            raise InvalidConfigError(f"host={host!r}: {exc}") from None
        if url_port is not None:
            if port is not None and str(port) != str(url_port):
                raise InvalidConfigError(
                    f"host={host!r} names port {url_port} and port={port!r} was given too; "
                    "give the port once")
            port = url_port
        if parts.path not in ("", "/") or parts.query:
            raise InvalidConfigError(
                f"host={host!r}: a path or query after the address is not supported (the "
                "gateway's endpoints are at its root); give scheme://host:port")
        host = parts.hostname or "0.0.0.0"
    elif host.count(":") == 1 and port is None:  # 'localhost:12345'
        host, _, raw = host.partition(":")
        port = raw
    proto = proto or "grpc"
    if port is None:
        port = 443 if secure and proto != "grpc" else (80 if proto != "grpc" else 0)
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise InvalidConfigError(f"port={port!r} must be an integer") from None
    return ClientConfig(host=host, port=port, protocol=proto, tls=secure,
                        root_certificates=root_certificates)
