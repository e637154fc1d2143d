"""Replicas round robin; shards with ANY / ALL / per-endpoint polling; /search merge."""
from __future__ import annotations

import numpy as np

from shoal.document.document import Document
from shoal.executors import Executor, requests
from shoal.flow import Flow


class WhoAmI(Executor):
    @requests
    def f(self, docs, **kwargs):
        for d in docs:
            d.tags["replica"] = self.runtime_args.replica_id
            d.tags["shard"] = self.runtime_args.shard_id


def test_replicas_round_robin():
    with Flow().add(uses=WhoAmI, replicas=3) as f:
        out = f.post("/", [Document() for _ in range(6)], request_size=1)
    assert [d.tags["replica"] for d in out] == [0, 1, 2, 0, 1, 2]


def test_shards_any_and_all():
    with Flow().add(uses=WhoAmI, shards=2, polling="ANY") as f:
        out = f.post("/", [Document() for _ in range(4)], request_size=1)
        assert sorted(d.tags["shard"] for d in out) == [0, 0, 1, 1]
    calls = []

    class Count(Executor):
        @requests
        def f(self, docs, **kwargs):
            calls.append(self.runtime_args.shard_id)

    with Flow().add(uses=Count, shards=3, polling="all") as f:
        out = f.post("/", [Document(text="q")])
    assert sorted(calls) == [0, 1, 2]
    assert out.texts == ["q"]  # merged by id, not tripled


class ShardSearch(Executor):
    """Each shard holds 3 vectors; returns its top matches by cosine distance."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        sid = self.runtime_args.shard_id
        self.values = [sid * 0.1 + i * 0.3 for i in range(3)]

    @requests(on="/search")
    def search(self, docs, parameters, **kwargs):
        limit = int(parameters.get("limit", 3))
        for q in docs:
            ms = [Document(id=f"s{self.runtime_args.shard_id}-{i}", scores={"cosine": v})
                  for i, v in enumerate(self.values)][:limit]
            q.matches = ms

    @requests(on="/index")
    def index(self, docs, **kwargs):
        for d in docs:
            d.tags["indexed_by"] = self.runtime_args.shard_id


def test_search_all_merges_and_reranks_without_cutting():
    polling = {"/index": "ANY", "/search": "ALL"}
    with Flow().add(uses=ShardSearch, shards=2, polling=polling) as f:
        out = f.post("/search", Document(embedding=np.ones(4)), parameters={"limit": 2})
        q = out[0]
        values = [m.scores["cosine"].value for m in q.matches]
        assert values == sorted(values) and len(values) == 4  # limit is per shard (Jina)
        assert [m.id for m in q.matches] == ["s0-0", "s1-0", "s0-1", "s1-1"]
        full = f.post("/search", Document())[0]
        assert len(full.matches) == 6  # every shard's matches
        idx = f.post("/index", [Document() for _ in range(2)], request_size=1)
        assert sorted(d.tags["indexed_by"] for d in idx) == [0, 1]


def test_descending_scores_inferred_from_shards():
    class Sim(Executor):
        @requests
        def f(self, docs, **kwargs):
            sid = self.runtime_args.shard_id
            for q in docs:
                q.matches = [Document(id=f"{sid}-{i}", scores={"score": v})
                             for i, v in enumerate([0.9 - sid * 0.05, 0.5 - sid * 0.05])]

    with Flow().add(uses=Sim, shards=2, polling="ALL") as f:
        q = f.post("/search", Document())[0]
    assert [m.id for m in q.matches] == ["0-0", "1-0", "0-1", "1-1"]
