"""``external=True``: a deployment served elsewhere, reached through its gateway.

``Flow().add(external=True, host='10.0.0.5', port=12345)`` adds a deployment this Flow
does not run: each request that reaches it (endpoint, docs, parameters) is sent to the
shoal gateway at ``host:port`` — one served by ``shoal executor --uses X --port P``,
``MyExec.serve(port=P)``, a ``Deployment(port=P)`` or a whole ``Flow(port=P)`` — and the
answer goes on through this Flow's graph like any deployment's. ``protocol=`` picks the
remote gateway's protocol (``'grpc'`` default, ``'http'``, ``'websocket'``); ``tls=True``
connects with TLS.

The connection is a Client transport, which this layer may not import: the client layer
registers it with :func:`register_connector` (``import shoal`` does it). An error the
remote executor raised comes back as the same error (``ExecutorError`` naming this
deployment, with the remote traceback); an unreachable remote is a
``ConnectionFailedError`` response. A join into an external deployment sends the merged
docs (the remote executor sees no ``docs_matrix``). A remote that adds one entry to
``parameters['__results__']`` (one executor) has it under this deployment's name, as a
local executor would - so two remotes served under the same default name do not
overwrite each other in a join; a remote Flow adding several keeps their names.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

from shoal.document.request import ErrorInfo
from shoal.errors import ConnectionFailedError, FlowError, ShoalError
from shoal.executors.decorators import DEFAULT_ENDPOINT
from shoal.executors.handler import merge_requests
from shoal.flow.runtimes import WorkerSpec, register_runtime

if TYPE_CHECKING:
    from shoal.document.request import DataRequest
    from shoal.flow.config import RemoteAddress

__all__ = ["ExternalWorker", "Link", "Connector", "register_connector"]

#: Seconds between health checks while ``start`` waits (only with ``timeout_ready``).
_READY_POLL_S = 0.2


class Link(Protocol):
    """One connection to a remote gateway, used from one event loop (a Client transport)."""

    async def unary(self, req: DataRequest, timeout: float | None) -> DataRequest: ...
    async def is_ready(self, timeout: float) -> bool: ...
    async def close(self) -> None: ...


#: ``connector(host, port, protocol, tls)`` -> a :class:`Link`.
Connector = Callable[[str, int, str, bool], Link]
_CONNECTOR: list[Connector] = []


def register_connector(connector: Connector) -> None:
    """Set how external deployments connect (the client layer registers its transports)."""
    _CONNECTOR[:] = [connector]


def _connect(remote: RemoteAddress) -> Link:
    if not _CONNECTOR:
        raise FlowError("no connector for external deployments is registered; `import shoal` "
                        "(it registers the Client's transports)")
    return _CONNECTOR[0](remote.host, remote.port, remote.protocol, remote.tls)


class ExternalWorker:
    """The one 'replica' of an external deployment: forwards requests to its gateway.

    ``start`` opens nothing (the connection is made by the first request, and a remote
    that comes up later is reached then), unless ``timeout_ready`` is set: then it waits
    that long for the remote's health check.
    """

    inline = False

    def __init__(self, spec: WorkerSpec) -> None:
        if spec.config.remote is None:
            raise FlowError(f"{spec.config.name}: runtime 'external' needs external=True, "
                            "host= and port=")
        self.spec = spec
        self.label = spec.label
        self.remote: RemoteAddress = spec.config.remote
        self.endpoints: list[str] = [DEFAULT_ENDPOINT]  # the remote decides what it serves
        self._link: Link | None = None

    def can_inline(self, endpoint: str) -> bool:
        return False

    def process_sync(self, requests: Sequence[DataRequest]) -> DataRequest:
        raise RuntimeError("an external deployment is only reached through the Flow loop")

    async def start(self) -> None:
        self._link = _connect(self.remote)
        if self.spec.config.timeout_ready is not None:
            while not await self._link.is_ready(1.0):
                await asyncio.sleep(_READY_POLL_S)

    async def process(self, requests: Sequence[DataRequest]) -> DataRequest:
        req = merge_requests(requests, keep_matrix=False)[0]
        routes, target = list(req.routes), req.header.target_executor
        req.header.target_executor = ""  # matched here; the remote runs all it has
        timeout = req.header.timeout_ms / 1000 if req.header.timeout_ms else None
        try:
            if self._link is None:
                self._link = _connect(self.remote)
            resp = await self._link.unary(req, timeout)
        except ShoalError as exc:
            return self._failed(req, exc)
        except (OSError, asyncio.TimeoutError) as exc:
            return self._failed(req, ConnectionFailedError(str(exc) or type(exc).__name__))
        resp.header.target_executor = target
        resp.routes = routes
        self._own_result(req, resp)
        if resp.is_error and resp.header.error is not None:
            self._name_error(resp.header.error)
        return resp

    def _own_result(self, req: DataRequest, resp: DataRequest) -> None:
        """One result entry the remote added goes under this deployment's name."""
        before = (req.parameters or {}).get("__results__") or {}
        after = (resp.parameters or {}).get("__results__")
        if not isinstance(after, dict):
            return
        added = [k for k in after if k not in before]
        name = self.spec.config.name
        if len(added) == 1 and added[0] != name:
            after[name] = after.pop(added[0])

    def _failed(self, req: DataRequest, exc: ShoalError) -> DataRequest:
        req.set_error(ErrorInfo(
            name=type(exc).__name__, executor=self.spec.config.name,
            message=f"external deployment {self.spec.config.name!r} at {self.remote.url}: {exc}"))
        return req

    def _name_error(self, info: ErrorInfo) -> None:
        """Report a remote failure as this deployment's, keeping what the remote said."""
        remote_name = info.executor
        info.executor = self.spec.config.name
        if remote_name and remote_name not in ("gateway", info.executor):
            info.traceback = (f"(in executor {remote_name!r} served at {self.remote.url})\n"
                              + info.traceback)

    async def close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            await link.close()


register_runtime("external", ExternalWorker)
