"""Helpers for the gateway tests: a fake router and gateways on loopback ports."""
from __future__ import annotations

import asyncio
from typing import Any

from shoal.document.request import DataRequest, ErrorInfo
from shoal.errors import EndpointNotFoundError
from shoal.serve.gateway import BackgroundGateways, GatewayConfig, GatewayGroup

HOST = "127.0.0.1"


class FakeRouter:
    """A router without executors: appends '!' to every text, with special endpoints.

    ``/error`` fails like an executor would, ``/missing`` raises EndpointNotFoundError,
    ``/slow`` sleeps ``parameters['sleep']`` seconds, and ``max_inflight`` records the
    peak number of requests being processed at once.
    """

    def __init__(self) -> None:
        self.inflight = 0
        self.max_inflight = 0
        self.seen: list[str] = []

    async def process(self, req: DataRequest) -> DataRequest:
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            self.seen.append(req.header.request_id)
            ep = req.header.exec_endpoint
            if ep == "/slow":
                await asyncio.sleep(float(req.parameters.get("sleep", 0.3)))
            elif ep == "/error":
                req.set_error(ErrorInfo(name="ValueError", message="bad doc", executor="fakeexec",
                                        traceback="Traceback (most recent call last): ..."))
                return req
            elif ep == "/shoal-error":
                req.set_error(ErrorInfo(name="DocumentNotFoundError", message="no such id",
                                        executor="fakeexec"))
                return req
            elif ep == "/missing":
                raise EndpointNotFoundError("no executor serves '/missing'")
            for d in req.docs:
                d.text = (d.text or "") + "!"
            req.parameters["endpoint"] = ep
            req.routes.append("fake")
            return req
        finally:
            self.inflight -= 1


def serve(router: Any, *configs: GatewayConfig, **kwargs: Any) -> BackgroundGateways:
    return BackgroundGateways(GatewayGroup(router, configs, **kwargs)).start()


