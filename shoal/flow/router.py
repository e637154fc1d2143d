"""The request router: runs one DataRequest through the Flow's graph. No transport.

How a gateway uses it (``flow.router`` once the Flow is started)::

    router = flow.router                     # a RequestRouter
    await router.wait_ready()                # True once every deployment started
    resp = await router.process(req)         # on flow.loop (the Flow's event loop)
    resp = router.process_sync(req)          # from any other thread
    router.endpoints()                       # endpoints bound by some executor

``process`` never raises for an executor failure: the response has
``header.status == 'ERROR'`` and ``header.error`` (executor name, exception type, message,
traceback); a gateway maps it to its wire format and keeps serving. ``process`` must
run on ``flow.loop``; a gateway started through the registry in
:mod:`shoal.flow.gateways` is awaited on that loop, so it can call it directly.

Routing: the request enters the roots (``needs='gateway'``), each deployment gets the
responses of its ``needs`` (a join gets several and merges them by document id;
its executor also sees ``docs_matrix`` / ``docs_map``), ``when=`` drops the documents
that do not match the filter before a deployment, ``target_executor`` (a regex)
restricts which deployments run, and a deployment without a handler for the endpoint
passes the docs on. The leaves' responses are merged into the response.
"""
from __future__ import annotations

import asyncio
import re
import threading
from typing import TYPE_CHECKING, Any, Sequence

from shoal.document.request import ErrorInfo
from shoal.executors.handler import merge_requests
from shoal.flow.config import GATEWAY
from shoal.flow.replicas import copy_request

if TYPE_CHECKING:
    from shoal.document.request import DataRequest
    from shoal.flow.replicas import ReplicaSet
    from shoal.flow.topology import Topology

__all__ = ["RequestRouter"]


class RequestRouter:
    """Routes requests through started deployments (see the module docstring)."""

    def __init__(self, topology: Topology, replica_sets: dict[str, ReplicaSet],
                 loop: asyncio.AbstractEventLoop | None = None,
                 loop_thread: threading.Thread | None = None) -> None:
        self.topology = topology
        self.replica_sets = replica_sets
        self.loop = loop
        self._loop_thread = loop_thread
        self.is_ready = False
        self._inline: dict[str, bool] = {}
        self._consumers = {n: max(1, len(topology.successors[n])) for n in topology.order}
        self._consumers[GATEWAY] = len(topology.successors[GATEWAY])
        self._filters: dict[str, Any] = {}

    # --- introspection ---------------------------------------------------------------
    def endpoints(self) -> list[str]:
        """Every endpoint bound by some executor (``'__default__'`` not included)."""
        seen: dict[str, None] = {}
        for rs in self.replica_sets.values():
            for ep in rs.endpoints:
                if ep != "__default__":
                    seen[ep] = None
        return list(seen)

    @property
    def has_default(self) -> bool:
        """True if some executor serves every endpoint (a ``@requests`` without ``on=``)."""
        return any("__default__" in rs.endpoints for rs in self.replica_sets.values())

    async def wait_ready(self, timeout: float | None = None) -> bool:
        """True once the Flow is started (polls; routers start ready in practice)."""
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        while not self.is_ready:
            if deadline is not None and asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    # --- processing --------------------------------------------------------------------
    async def process(self, req: DataRequest) -> DataRequest:
        """Run ``req`` through the graph on the Flow loop; errors come back in the header."""
        try:
            timeout = req.header.timeout_ms / 1000 if req.header.timeout_ms else None
            if timeout:
                return await asyncio.wait_for(self._walk(req), timeout)
            return await self._walk(req)
        except asyncio.TimeoutError:
            req.set_error(ErrorInfo(name="RequestTimeoutError",
                                    message=f"request {req.header.request_id} did not finish "
                                            f"within {req.header.timeout_ms} ms"))
            return req
        except Exception as exc:  # noqa: BLE001 - a router bug must not kill the gateway
            from shoal.flow.inprocess import error_response  # noqa: PLC0415

            return error_response(req, exc, "")

    def process_sync(self, req: DataRequest) -> DataRequest:
        """Run ``req`` from a thread that is not the Flow loop's.

        When every deployment on the way is in-process with a sync handler, the request
        runs right here (no thread hop); otherwise it is handed to the Flow loop.
        """
        if self._can_inline(req.header.exec_endpoint):
            try:
                return self._walk_sync(req)
            except Exception as exc:  # noqa: BLE001
                from shoal.flow.inprocess import error_response  # noqa: PLC0415

                return error_response(req, exc, "")
        if self.loop is None:
            raise RuntimeError("the Flow is not started; use `with flow:`")
        if self._loop_thread is threading.current_thread():
            raise RuntimeError("process_sync() called on the Flow loop; await process()")
        return asyncio.run_coroutine_threadsafe(self.process(req), self.loop).result()

    def _can_inline(self, endpoint: str) -> bool:
        found = self._inline.get(endpoint)
        if found is None:
            found = all(rs.can_inline(endpoint) for rs in self.replica_sets.values())
            self._inline[endpoint] = found
        return found

    # --- graph walking -------------------------------------------------------------
    def _fan(self, req: DataRequest, n: int) -> list[DataRequest]:
        return [req] + [copy_request(req) for _ in range(n - 1)]

    def _prepare(self, node: str, ins: list[DataRequest],
                 target: str) -> tuple[ReplicaSet | None, list[DataRequest]]:
        """The replica set to call (None: pass through) and the filtered inputs."""
        rs = self.replica_sets[node]
        if target and not re.match(target, node):
            return None, ins
        when = rs.config.when
        if when:
            ins = [self._filter(node, r, when) for r in ins]
        if not rs.binds(ins[0].header.exec_endpoint):
            return None, ins
        return rs, ins

    def _filter(self, node: str, req: DataRequest, when: dict) -> DataRequest:
        from shoal.document.array import DocumentArray  # noqa: PLC0415

        pred = self._filters.get(node)
        if pred is None:
            from shoal.document.filters import compile_filter  # noqa: PLC0415

            pred = self._filters[node] = compile_filter(when)
        req.docs = DocumentArray([d for d in req.docs if pred(d)])
        return req

    def _done(self, node: str, resp: DataRequest) -> DataRequest:
        resp.routes.append(node)
        return resp

    def _walk_sync(self, req: DataRequest) -> DataRequest:
        topo = self.topology
        target = req.header.target_executor
        if topo.is_chain:
            cur = req
            for node in topo.order:
                rs, ins = self._prepare(node, [cur], target)
                if rs is not None:
                    cur = rs.process_sync(ins)
                    if cur.is_error:
                        return cur
                self._done(node, cur)
            return cur
        avail = {GATEWAY: self._fan(req, self._consumers[GATEWAY])}
        for node in topo.order:
            ins = [avail[src].pop() for src in topo.needs[node]]
            rs, ins = self._prepare(node, ins, target)
            resp = rs.process_sync(ins) if rs is not None else merge_requests(ins, keep_matrix=False)[0]
            if resp.is_error:
                return resp
            avail[node] = self._fan(self._done(node, resp), self._consumers[node])
        return self._collect([avail[leaf].pop() for leaf in topo.leaves], req)

    async def _walk(self, req: DataRequest) -> DataRequest:
        topo = self.topology
        target = req.header.target_executor
        if topo.is_chain:
            cur = req
            for node in topo.order:
                rs, ins = self._prepare(node, [cur], target)
                if rs is not None:
                    cur = await rs.process(ins)
                    if cur.is_error:
                        return cur
                self._done(node, cur)
            return cur
        avail = {GATEWAY: self._fan(req, self._consumers[GATEWAY])}
        tasks: dict[str, asyncio.Task[DataRequest]] = {}

        async def run(node: str) -> DataRequest:
            ins = []
            for src in topo.needs[node]:
                if src != GATEWAY:
                    upstream = await tasks[src]
                    if upstream.is_error:
                        return upstream
                ins.append(avail[src].pop())
            rs, ins = self._prepare(node, ins, target)
            resp = await rs.process(ins) if rs is not None else merge_requests(ins, keep_matrix=False)[0]
            if not resp.is_error:
                avail[node] = self._fan(self._done(node, resp), self._consumers[node])
            return resp

        for node in topo.order:
            tasks[node] = asyncio.ensure_future(run(node))
        results = await asyncio.gather(*tasks.values())
        for resp in results:
            if resp.is_error:
                return resp
        return self._collect([avail[leaf].pop() for leaf in topo.leaves], req)

    def _collect(self, leaves: Sequence[DataRequest], req: DataRequest) -> DataRequest:
        if not leaves:
            return req
        return merge_requests(list(leaves), keep_matrix=False)[0]
