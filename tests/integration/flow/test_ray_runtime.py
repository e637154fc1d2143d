"""runtime='ray': replicas as Ray actors — order, results, errors, close, restarts, YAML."""
from __future__ import annotations

import os
import sys
import threading
import time

import pytest
from ray_executors import Broken, Tagger

import shoal.serve.runtime  # noqa: F401 - registers runtime='ray'
from shoal.document.document import Document
from shoal.errors import ExecutorError, ExecutorLoadError, InvalidConfigError, MissingExtraError
from shoal.flow import Deployment, Flow

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True,
             log_to_driver=False)
    yield ray
    ray.shutdown()


def _workers(flow: Flow, name: str) -> list:
    return flow._replica_sets[name].all_workers  # noqa: SLF001


def test_replicas_order_results_errors(ray_cluster):
    f = (Flow().add(name="tag", uses=Tagger, uses_with={"suffix": "a"}, replicas=3,
                    runtime="ray", env={"SHOAL_RAY_TEST_ENV": "yes"},
                    ray_actor_options={"num_cpus": 0})
         .add(name="local", uses=Tagger, uses_with={"suffix": "b"}))
    with f:
        workers = _workers(f, "tag")
        assert len({w.pid for w in workers}) == 3 and os.getpid() not in {w.pid for w in workers}
        out = f.post("/", [Document(text=str(i)) for i in range(30)], request_size=2)
        assert out.texts == [f"{i}ab" for i in range(30)]
        assert {d.tags["a"] for d in out} == {w.pid for w in workers}  # all replicas served
        resps = f.post("/stats", Document(), parameters={"who": "me"}, return_responses=True)
        results = resps[0].parameters["__results__"]
        assert set(results) == {"tag", "local"}
        assert results["tag"]["who"] == "me" and results["tag"]["env"] == "yes"
        assert results["tag"]["pid"] in {w.pid for w in workers}
        with pytest.raises(ExecutorError) as info:
            f.post("/fail", Document())
        assert info.value.executor == "tag" and info.value.exc_type == "KeyError"
        assert "missing thing" in info.value.exc_message and "KeyError" in info.value.traceback
        assert f.post("/", Document(text="x")).texts == ["xab"]  # keeps serving


def test_close_runs_in_every_replica_then_actors_are_killed(ray_cluster, tmp_path):
    f = Flow().add(name="closer", uses=Tagger, uses_with={"close_dir": str(tmp_path)},
                   replicas=2, runtime="ray")
    with f:
        handles = [w.actor for w in _workers(f, "closer")]
        f.post("/", Document())
    closed = sorted(p.name.rsplit("-", 1)[0] for p in tmp_path.iterdir())
    assert closed == ["closer-0", "closer-1"]
    for handle in handles:
        with pytest.raises(ray_cluster.exceptions.RayActorError):
            ray_cluster.get(handle.ready.remote(), timeout=20)


def test_killed_actor_fails_inflight_and_is_restarted(ray_cluster, tmp_path):
    marker = tmp_path / "sleeping"
    with Flow().add(name="victim", uses=Tagger, runtime="ray") as f:
        worker = _workers(f, "victim")[0]
        old = f.post("/pid", Document(), return_responses=True)[0].parameters["__results__"]
        errors: list[BaseException] = []

        def slow() -> None:
            try:
                f.post("/sleep", Document(), parameters={"seconds": 20, "marker": str(marker)})
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        thread = threading.Thread(target=slow)
        thread.start()
        deadline = time.time() + 20
        while not marker.exists() and time.time() < deadline:  # the request is in the actor
            time.sleep(0.02)
        ray_cluster.kill(worker.actor, no_restart=False)
        thread.join(20)
        assert len(errors) == 1 and isinstance(errors[0], ExecutorError)
        assert errors[0].executor == "victim" and "died while handling" in errors[0].exc_message
        assert worker.deaths == 1
        new = f.post("/pid", Document(), return_responses=True)[0].parameters["__results__"]
        assert new["victim"]["pid"] != old["victim"]["pid"]  # a new process, same deployment
        assert f.post("/", Document(text="z")).texts == ["z!"]


def test_a_replica_dead_for_good_leaves_the_rotation(ray_cluster):
    """max_restarts=0 and one of two actors killed: after the request that finds it dead,
    every request goes to the other replica (was: every other request failed, forever)."""
    f = Flow().add(name="pair", uses=Tagger, replicas=2, runtime="ray",
                   ray_actor_options={"max_restarts": 0})
    with f:
        workers = _workers(f, "pair")
        ray_cluster.kill(workers[0].actor, no_restart=True)
        failures = 0
        for i in range(8):
            try:
                assert f.post("/", Document(text=str(i))).texts == [f"{i}!"]
            except ExecutorError as exc:
                failures += 1
                assert "died while handling" in exc.exc_message
        assert failures <= 1 and workers[0].available is False and workers[1].available


def test_yaml_and_deployment(ray_cluster, tmp_path):
    yml = """
jtype: Flow
executors:
  - name: tag
    uses: ray_executors.Tagger
    uses_with: {suffix: y}
    replicas: 2
    runtime: ray
    ray_actor_options: {num_cpus: 0.5}
"""
    f = Flow.load_config(yml)
    cfg = f._configs[0]  # noqa: SLF001
    assert cfg.runtime == "ray" and cfg.extra["ray_actor_options"] == {"num_cpus": 0.5}
    f.save_config(str(tmp_path / "flow.yml"))
    again = Flow.load_config(str(tmp_path / "flow.yml"))._configs[0]  # noqa: SLF001
    assert again.runtime == "ray" and again.extra == cfg.extra
    with f:
        assert f.post("/", [Document(text="a"), Document(text="b")], request_size=1).texts == \
            ["ay", "by"]
    with Deployment(uses=Tagger, runtime="ray", ray_actor_options={"num_cpus": 0}) as dep:
        assert dep.post("/", Document(text="d")).texts == ["d!"]


def test_load_failure_and_bad_actor_options(ray_cluster):
    with pytest.raises(ExecutorLoadError, match="broken on purpose"):
        with Flow().add(name="broken", uses=Broken, runtime="ray"):
            pass
    with pytest.raises(InvalidConfigError, match="refused by Ray"):
        with Flow().add(uses=Tagger, runtime="ray", ray_actor_options={"num_cpuz": 1}):
            pass


@pytest.mark.parametrize("options, match", [
    ("num_cpus=1", "must be a dict"),
    ({"num_cpus": "one"}, "num_cpus='one' must be a number"),
    ({"resources": {"gpu_a": -1}}, "resources="),
    ({"max_restarts": 1.5}, "max_restarts=1.5 must be an int"),
    ({"name": "one"}, "one anonymous actor per replica"),
])
def test_actor_options_are_type_checked(options, match):
    with pytest.raises(InvalidConfigError, match=match):
        Flow().add(uses=Tagger, runtime="ray", ray_actor_options=options)


def test_actor_options_need_runtime_ray():
    with pytest.raises(InvalidConfigError, match="applies to runtime='ray'"):
        Flow().add(uses=Tagger, runtime="process", ray_actor_options={"num_cpus": 1})


def test_ray_address_is_not_a_deployment_option():
    with pytest.raises(InvalidConfigError, match="RAY_ADDRESS"):
        Flow().add(uses=Tagger, runtime="ray", ray_address="ray://head:10001")


def test_missing_ray_is_a_missing_extra_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    f = Flow().add(uses=Tagger, runtime="ray")
    with pytest.raises(MissingExtraError, match=r"pip install 'shoal\[ray\]'"):
        with f:
            pass


def test_ray_shut_down_under_an_open_flow_is_a_clear_error():
    """Was: the next post started a second, empty Ray cluster and failed with a raw
    'actor from a different cluster' error."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=1, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    f = Flow().add(name="t", uses=Tagger, runtime="ray")
    with f:
        assert f.post("/", Document(text="a")).texts == ["a!"]
        ray.shutdown()
        with pytest.raises(ExecutorError, match="Ray was shut down under this Flow"):
            f.post("/", Document(text="b"))
    assert not ray.is_initialized()
    # leave Ray up for any test of this module's ray_cluster fixture that runs later
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)


def test_an_actor_the_cluster_cannot_place_is_killed_at_the_flows_timeout(ray_cluster):
    """Was: the Flow's timeout_ready cancelled the start but left the pending actor, and
    closing then waited 10 s for its close() before killing it."""
    import asyncio

    from shoal.errors import DeploymentNotReadyError
    from shoal.flow.runtimes import WorkerSpec
    from shoal.serve.runtime.ray_worker import RayWorker

    with pytest.raises(DeploymentNotReadyError, match="timeout_ready=500 ms"):
        with Flow().add(uses=Tagger, runtime="ray", timeout_ready=500,
                        ray_actor_options={"num_cpus": 64}):
            pass
    cfg = Flow().add(uses=Tagger, runtime="ray", timeout_ready=-1,
                     ray_actor_options={"num_cpus": 64})._configs[0]  # noqa: SLF001
    worker = RayWorker(WorkerSpec(cfg))

    async def start_then_give_up() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(worker.start(), 0.5)

    asyncio.run(start_then_give_up())
    assert worker.actor is None  # killed at the cancellation; close() has nothing to wait on
