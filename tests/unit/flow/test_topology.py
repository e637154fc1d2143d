"""needs DAGs, joins, when= filters and build-time validation."""
from __future__ import annotations

import pytest

from shoal.document.document import Document
from shoal.errors import ExecutorLoadError, InvalidConfigError, TopologyError
from shoal.executors import Executor, requests
from shoal.flow import Flow
from shoal.flow.config import DeploymentConfig
from shoal.flow.topology import build_topology


class Append(Executor):
    def __init__(self, text: str = "", **kwargs):
        super().__init__(**kwargs)
        self.text = text

    @requests
    def f(self, docs, **kwargs):
        docs.append(Document(id=self.text, text=self.text))


class Joiner(Executor):
    @requests
    def join(self, docs, docs_matrix, **kwargs):
        return {"parts": sorted(len(m) for m in docs_matrix), "merged": len(docs)}


def test_branches_join_merge_by_id():
    f = (Flow().add(name="start", uses=Append, uses_with={"text": "s"})
         .add(name="a", uses=Append, uses_with={"text": "a"}, needs="start")
         .add(name="b", uses=Append, uses_with={"text": "b"}, needs="start")
         .add(name="join", uses=Joiner, needs=["a", "b"]))
    with f:
        resp = f.post("/", None, return_responses=True)[0]
    assert sorted(resp.docs.texts) == ["a", "b", "s"]  # 's' once: merged by id
    assert resp.parameters["__results__"]["join"] == {"parts": [2, 2], "merged": 3}


def test_seed_plot_topology_two_leaves_merge():
    f = Flow().add(name="e1").add(needs="e1").add(needs="e1")
    with f:
        assert f.post("/", Document(text="x")).texts == ["x"]


def test_needs_all():
    f = (Flow().add(name="a", uses=Append, uses_with={"text": "a"}, needs="gateway")
         .add(name="b", uses=Append, uses_with={"text": "b"}, needs="gateway")
         .needs_all(uses=Joiner))
    with f:
        resp = f.post("/", None, return_responses=True)[0]
    assert sorted(resp.docs.texts) == ["a", "b"]


def test_when_routes_only_matching_docs():
    class Mark(Executor):
        @requests
        def f(self, docs, **kwargs):
            for d in docs:
                d.tags["marked"] = True

    docs = [Document(id=str(i), tags={"x": i}) for i in range(4)]
    f = (Flow().add(name="big", uses=Mark, when={"tags__x": {"$gt": 1}}, needs="gateway")
         .add(name="all", needs="gateway")
         .add(name="join", needs=["big", "all"]))
    with f:
        out = f.post("/", docs)
    marked = {d.id: d.tags.get("marked", False) for d in out}
    assert marked == {"0": False, "1": False, "2": True, "3": True}


def test_when_drops_non_matching_in_a_chain():
    with Flow().add(when={"tags__keep": {"$eq": True}}) as f:
        out = f.post("/", [Document(tags={"keep": True}), Document(tags={"keep": False})])
    assert len(out) == 1


def test_unknown_needs_duplicate_name_uses_not_found_fail_at_add():
    with pytest.raises(TopologyError, match="not in this Flow"):
        Flow().add(name="a").add(needs="zzz")
    with pytest.raises(TopologyError, match="unique"):
        Flow().add(name="a").add(name="a")
    with pytest.raises(ExecutorLoadError):
        Flow().add(uses="NoSuchExecutorAnywhere")


def test_cycle_detected():
    cfgs = [DeploymentConfig(name="a", needs=("b",)), DeploymentConfig(name="b", needs=("a",))]
    with pytest.raises(TopologyError, match="cycle"):
        build_topology(cfgs)


def test_build_error_before_any_executor_runs():
    started = []

    class Starts(Executor):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            started.append(1)

    class Broken(Executor):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            raise RuntimeError("nope")

    closed = []

    class Closes(Executor):
        def close(self):
            closed.append(1)

    f = Flow().add(uses=Closes).add(uses=Broken)
    with pytest.raises(ExecutorLoadError, match="nope"):
        with f:
            pass
    assert closed == [1]  # what started was stopped


def test_in_process_timeout_ready_names_deployment():
    import time

    from shoal.errors import DeploymentNotReadyError

    class SlowStart(Executor):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            time.sleep(0.5)

    with pytest.raises(DeploymentNotReadyError, match="slowpoke"):
        with Flow().add(name="slowpoke", uses=SlowStart, timeout_ready=50):
            pass


def test_env_is_visible_to_in_process_executor():
    import os

    seen = []

    class ReadEnv(Executor):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            seen.append(os.environ.get("SHOAL_TEST_ENV"))

    try:
        with Flow().add(uses=ReadEnv, env={"SHOAL_TEST_ENV": "yes"}):
            pass
    finally:
        os.environ.pop("SHOAL_TEST_ENV", None)
    assert seen == ["yes"]


@pytest.mark.parametrize("value", ["abc", -5, 0, True, float("inf"), [1]])
def test_timeout_ready_must_be_milliseconds_or_minus_one(value):
    with pytest.raises(InvalidConfigError, match="timeout_ready="):
        Flow().add(uses=Executor, timeout_ready=value)


def test_timeout_ready_minus_one_waits_without_limit_and_round_trips_through_yaml():
    """Jina's -1 means wait forever; it was read as 'not given' (the runtime's 60 s)."""
    from shoal.serve.runtime.process import DEFAULT_TIMEOUT_READY

    f = Flow().add(name="a", uses=Executor, timeout_ready=-1).add(name="b", uses=Executor,
                                                                   timeout_ready=2500)
    a, b = f._configs  # noqa: SLF001
    assert a.ready_timeout(DEFAULT_TIMEOUT_READY) is None
    assert b.ready_timeout(DEFAULT_TIMEOUT_READY) == 2.5
    assert Flow().add(uses=Executor)._configs[0].ready_timeout(60.0) == 60.0  # noqa: SLF001
    g = Flow.load_config(f.save_config())
    assert [c.timeout_ready for c in g._configs] == [a.timeout_ready, 2.5]  # noqa: SLF001
    with f:
        assert f.post("/", []) is not None
