"""One deployment at run time: shards x replicas of workers, polling and merging.

``ANY`` polling sends a request to one shard (round robin); ``ALL`` sends a copy to
every shard and merges the responses by document id (DocArray's ``reduce_all``, as
Jina): every shard's matches and chunks end up on the query. When several shards return
matches for the same query, those are sorted by their first score (the global ranking;
the direction read from how the shards sorted), none dropped — take ``matches[:k]`` for
a global top k. Replicas of a shard take requests round robin.
"""
from __future__ import annotations

import asyncio
import copy
import itertools
import logging
from typing import TYPE_CHECKING, Any, Sequence

from shoal.executors.decorators import DEFAULT_ENDPOINT
from shoal.executors.merge import merge_results, reduce_docs, rerank_matches

if TYPE_CHECKING:
    from shoal.document.request import DataRequest
    from shoal.flow.config import DeploymentConfig
    from shoal.flow.runtimes import Worker

__all__ = ["ReplicaSet", "copy_request"]


def copy_request(req: DataRequest) -> DataRequest:
    """An independent copy: same header values and parameters, deep-copied docs."""
    from shoal.document.array import DocumentArray  # noqa: PLC0415
    from shoal.document.request import DataRequest as _DR  # noqa: PLC0415

    new = _DR(endpoint=req.header.exec_endpoint, target_executor=req.header.target_executor,
              request_id=req.header.request_id)
    new.header.timeout_ms = req.header.timeout_ms
    new.parameters = copy.deepcopy(req.parameters)
    new.docs = DocumentArray([copy.deepcopy(d) for d in req.docs])
    new.routes = list(req.routes)
    return new


_log = logging.getLogger("shoal.flow")

class ReplicaSet:
    """The workers of one deployment: ``workers[shard][replica]``."""

    def __init__(self, config: DeploymentConfig, workers: list[list[Worker]]) -> None:
        self.config = config
        self.name = config.name
        self.workers = workers
        self._replica_rr = [itertools.cycle(range(len(reps))) for reps in workers]
        self._shard_rr = itertools.cycle(range(len(workers)))
        self._inline: dict[str, bool] = {}

    @property
    def all_workers(self) -> list[Worker]:
        return [w for reps in self.workers for w in reps]

    @property
    def endpoints(self) -> list[str]:
        return list(self.workers[0][0].endpoints) if self.workers and self.workers[0] else []

    def binds(self, endpoint: str) -> bool:
        """Whether the executor has a handler for ``endpoint`` (else docs pass through)."""
        eps = self.endpoints
        return endpoint in eps or DEFAULT_ENDPOINT in eps

    def can_inline(self, endpoint: str) -> bool:
        found = self._inline.get(endpoint)
        if found is None:  # several workers: pipelined, so replicas / shards run at once
            found = len(self.all_workers) == 1 and all(
                w.inline and w.can_inline(endpoint) for w in self.all_workers)
            self._inline[endpoint] = found
        return found

    def _pick(self, shard: int) -> Worker:
        """The next replica round robin, skipping one that says it is not ``available``
        (a Ray actor dead or restarting); when none is, the next one anyway (it answers
        with its error)."""
        reps = self.workers[shard]
        if len(reps) == 1:
            return reps[0]
        rr = self._replica_rr[shard]
        first = reps[next(rr)]
        if getattr(first, "available", True):
            return first
        for _ in range(len(reps) - 1):
            worker = reps[next(rr)]
            if getattr(worker, "available", True):
                return worker
        return first

    def _targets(self, endpoint: str) -> list[int]:
        if len(self.workers) == 1:
            return [0]
        if self.config.polling_for(endpoint) == "ALL":
            return list(range(len(self.workers)))
        return [next(self._shard_rr)]

    # --- processing ------------------------------------------------------------------
    def process_sync(self, requests: Sequence[DataRequest]) -> DataRequest:
        shards = self._targets(requests[0].header.exec_endpoint)
        if len(shards) == 1:
            return self._pick(shards[0]).process_sync(requests)
        copies = _copies(requests, len(shards))
        return _merge_all([self._pick(s).process_sync(c) for s, c in zip(shards, copies, strict=True)])

    async def process(self, requests: Sequence[DataRequest]) -> DataRequest:
        shards = self._targets(requests[0].header.exec_endpoint)
        if len(shards) == 1:
            return await self._pick(shards[0]).process(requests)
        copies = _copies(requests, len(shards))
        results = await asyncio.gather(*(self._pick(s).process(c)
                                         for s, c in zip(shards, copies, strict=True)))
        return _merge_all(list(results))

    async def close(self) -> None:
        for worker in self.all_workers:
            try:
                await worker.close()
            except Exception:  # noqa: BLE001 - closing the rest matters more; say what failed
                _log.exception("%s: close() raised; the other replicas are closed anyway",
                               worker.label)


def _copies(requests: Sequence[DataRequest], n: int) -> list[list[DataRequest]]:
    """``n`` independent lists of requests; the last reuses the originals."""
    return [[copy_request(r) for r in requests] for _ in range(n - 1)] + [list(requests)]


def _merge_all(responses: list[DataRequest]) -> DataRequest:
    """Merge the responses of ALL-polled shards (the first error wins)."""
    for resp in responses:
        if resp.is_error:
            return resp
    first = responses[0]
    parts: dict[str, list[Any]] = {}
    for resp in responses:
        for doc in resp.docs:
            if doc._matches:  # noqa: SLF001
                parts.setdefault(doc.id, []).append(list(doc._matches))  # noqa: SLF001
    first.docs = reduce_docs([r.docs for r in responses])
    merge_results(first.parameters, [r.parameters for r in responses[1:]])
    multi = {k: v for k, v in parts.items() if len(v) > 1}
    if multi:
        rerank_matches(first.docs, None, multi)
    return first
