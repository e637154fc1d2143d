"""runtime='process': worker processes over gRPC, errors, restarts, clean shutdown."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import shoal.serve.runtime  # noqa: F401 - registers runtime='process'
from shoal.document.document import Document
from shoal.errors import DeploymentNotReadyError, ExecutorError, ExecutorLoadError
from shoal.executors import Executor, requests
from shoal.flow import Flow

pytestmark = pytest.mark.timeout(60)


class Suffix(Executor):
    def __init__(self, suffix: str = "!", **kwargs):
        super().__init__(**kwargs)
        self.suffix = suffix

    @requests
    def add(self, docs, **kwargs):
        for d in docs:
            d.text = (d.text or "") + self.suffix
            d.tags.setdefault("pids", []).append(os.getpid())

    @requests(on="/fail")
    def fail(self, docs, **kwargs):
        raise KeyError("missing thing")

    @requests(on="/stats")
    async def stats(self, docs, **kwargs):
        return {"pid": os.getpid(), "replica": self.runtime_args.replica_id}


class Slow(Executor):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        time.sleep(30)


class Broken(Executor):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        raise RuntimeError("broken on purpose")


class Join(Executor):
    @requests
    def join(self, docs, docs_matrix, **kwargs):
        return {"parts": sorted(len(m) for m in docs_matrix), "total": len(docs)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie counts as dead
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def _pids(flow: Flow) -> list[int]:
    return [w.pid for rs in flow._replica_sets.values() for w in rs.all_workers
            if getattr(w, "pid", None)]


def test_chain_replicas_errors_and_shutdown():
    f = (Flow().add(name="p1", uses=Suffix, uses_with={"suffix": "a"}, runtime="process",
                    replicas=2)
         .add(name="local", uses=Suffix, uses_with={"suffix": "b"})
         .add(name="p2", uses=Suffix, uses_with={"suffix": "c"}, runtime="process"))
    with f:
        pids = _pids(f)
        assert len(pids) == 3 and os.getpid() not in pids
        out = f.post("/", [Document(text=str(i)) for i in range(10)], request_size=3)
        assert out.texts == [f"{i}abc" for i in range(10)]
        worker_pids = {d.tags["pids"][0] for d in out}
        assert len(worker_pids) == 2  # both replicas served
        resps = f.post("/stats", Document(), return_responses=True)
        assert set(resps[0].parameters["__results__"]) == {"p1", "local", "p2"}
        with pytest.raises(ExecutorError) as info:
            f.post("/fail", Document())
        assert info.value.executor == "p1" and info.value.exc_type == "KeyError"
        assert "missing thing" in info.value.exc_message and "KeyError" in info.value.traceback
        assert f.post("/", Document(text="x")).texts == ["xabc"]  # keeps serving
    deadline = time.time() + 10
    while any(_alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)


def test_killed_worker_is_reported_and_restarted():
    with Flow().add(name="victim", uses=Suffix, runtime="process") as f:
        worker = f._replica_sets["victim"].workers[0][0]
        old = worker.pid
        os.kill(old, signal.SIGKILL)
        errors = []
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                out = f.post("/", Document(text="y"))
                if worker.restarts:
                    break
            except ExecutorError as exc:
                errors.append(exc)
            time.sleep(0.05)
        assert worker.restarts == 1 and worker.last_exit_code == -signal.SIGKILL
        assert worker.pid != old
        for exc in errors:
            assert "exit code -9" in exc.exc_message and exc.executor == "victim"
        assert out.texts == ["y!"]
        assert f.post("/", Document(text="z")).texts == ["z!"]


def test_load_error_names_deployment_and_leaves_no_orphans():
    f = Flow().add(name="ok", uses=Suffix, runtime="process").add(
        name="bad", uses=Broken, runtime="process")
    with pytest.raises(ExecutorLoadError, match="bad.*broken on purpose"):
        f.start()
    assert not f.is_started


def test_not_ready_in_time_names_deployment():
    f = Flow().add(name="sleepy", uses=Slow, runtime="process", timeout_ready=1500)
    t0 = time.time()
    with pytest.raises(DeploymentNotReadyError, match="sleepy"):
        with f:
            pass
    assert time.time() - t0 < 20


def test_join_and_shards_all_across_processes():
    f = (Flow().add(name="a", uses=Suffix, uses_with={"suffix": "a"}, runtime="process",
                    needs="gateway")
         .add(name="b", uses=Suffix, uses_with={"suffix": "b"}, runtime="process", shards=2,
              polling="ALL", needs="gateway")
         .add(name="j", uses=Join, needs=["a", "b"], runtime="process"))
    with f:
        resp = f.post("/", [Document(id="d1", text="t")], return_responses=True)[0]
    assert resp.parameters["__results__"]["j"] == {"parts": [1, 1], "total": 1}


_SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {testdir!r})
    import shoal.serve.runtime
    from shoal.flow import Flow
    from test_process_runtime import Suffix
    f = Flow().add(uses=Suffix, runtime='process', replicas=2)
    with f:
        print(' '.join(str(w.pid) for w in f._replica_sets['executor0'].all_workers),
              flush=True)
        f.block()
    print('stopped', flush=True)
""")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_ctrl_c_or_killed_parent_leaves_no_orphans(tmp_path, sig):
    script = tmp_path / "serve.py"
    script.write_text(_SCRIPT.format(testdir=os.path.dirname(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env,
                            text=True)
    try:
        line = proc.stdout.readline()
        pids = [int(p) for p in line.split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        proc.send_signal(sig)
        proc.wait(timeout=30)  # no hang
        deadline = time.time() + 15
        while any(_alive(p) for p in pids) and time.time() < deadline:
            time.sleep(0.05)
        assert not any(_alive(p) for p in pids)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_monitoring_in_a_worker_process():
    import urllib.request

    from shoal.flow.flow import free_port

    port = free_port()
    with Flow(monitoring=True).add(name="mon", uses=Suffix, runtime="process",
                                   port_monitoring=port) as f:
        f.post("/", Document(text="m"))
        deadline = time.time() + 10
        while True:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
    assert 'shoal_process_request_seconds_count{endpoint="/",executor="mon"} 1.0' in body


_UNGUARDED = textwrap.dedent("""
    import shoal.serve.runtime
    from shoal.executors import Executor, requests
    from shoal.flow import Flow
    from shoal.document.document import Document

    class InScript(Executor):
        @requests
        def f(self, docs, **kwargs):
            for d in docs:
                d.text = 'from script'

    with Flow().add(uses=InScript, runtime='process') as f:  # no __main__ guard
        print(f.post('/', Document()).texts[0], flush=True)
""")


def test_script_without_main_guard_does_not_fork_bomb(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text(_UNGUARDED)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=45)
    assert proc.returncode != 0
    assert "__main__" in proc.stderr
