"""``Flow().add(external=True, host=..., port=...)`` forwards to an executor served by
``shoal executor`` in another process (its gRPC gateway), inside chains and joins."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

import shoal  # noqa: F401 - registers the external connector
from shoal import Document, Executor, Flow, requests
from shoal.errors import ExecutorError
from shoal.flow.flow import free_port

pytestmark = pytest.mark.timeout(90)

REMOTE = textwrap.dedent("""
    from shoal import Executor, requests

    class Remote(Executor):
        @requests
        def mark(self, docs, parameters, **kwargs):
            if parameters.get('boom'):
                raise ValueError('remote went boom')
            for d in docs:
                d.text = (d.text or '') + 'R'
                d.tags['pid'] = __import__('os').getpid()
            return {'seen': len(docs), 'x': parameters.get('x')}
""")


class Local(Executor):
    @requests
    def mark(self, docs, parameters, **kwargs):
        for d in docs:
            d.text = (d.text or '') + 'L'
        return {'upstream': sorted(parameters.get('__results__') or {})}


@pytest.fixture(scope="module")
def remote_port(tmp_path_factory: pytest.TempPathFactory, wait_for_line) -> Iterator[int]:
    """``shoal executor --uses remote_exec.Remote --name remote`` on a free gRPC port."""
    project: Path = tmp_path_factory.mktemp("remote")
    (project / "remote_exec.py").write_text(REMOTE)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "shoal", "executor", "--uses", "remote_exec.Remote", "--port",
         str(port), "--protocol", "grpc", "--name", "remote"],
        cwd=project, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=dict(os.environ))
    try:
        wait_for_line(proc, "serving Executor")
        yield port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def test_a_chain_runs_the_remote_then_the_local_executor(remote_port):
    flow = (Flow().add(external=True, host="127.0.0.1", port=remote_port, name="ext")
            .add(uses=Local, name="loc"))
    with flow:
        resp = flow.post("/search", [Document(text="a"), Document(text="b")],
                         parameters={"x": 7}, return_responses=True)[0]
    assert resp.docs.texts == ["aRL", "bRL"]  # the remote, then the local one
    assert all(d.tags["pid"] != os.getpid() for d in resp.docs)  # ran in the other process
    assert resp.parameters["x"] == 7
    # the remote's one result entry is this Flow's deployment's, as a local one's would be
    assert resp.parameters["__results__"]["ext"] == {"seen": 2, "x": 7}
    assert resp.parameters["__results__"]["loc"] == {"upstream": ["ext"]}
    assert resp.routes == ["ext", "loc"]


def test_an_error_in_the_remote_comes_back_as_executor_error(remote_port):
    with Flow().add(external=True, port=remote_port, name="ext").add(uses=Local) as flow:
        with pytest.raises(ExecutorError) as info:
            flow.post("/", Document(), parameters={"boom": True})
    err = info.value
    assert err.exc_type == "ValueError" and "remote went boom" in str(err)
    assert err.executor == "ext" and "remote" in err.traceback


def test_an_external_deployment_in_a_join(remote_port):
    flow = (Flow().add(uses=Local, name="left")
            .add(external=True, port=remote_port, name="ext", needs="gateway")
            .needs(["left", "ext"], name="join"))
    with flow:
        docs = flow.post("/", Document(id="d1", text="q"))
    assert len(docs) == 1 and docs[0].id == "d1" and docs[0].tags["pid"] != os.getpid()
    assert docs[0].text in ("qL", "qR")  # merged by id: one branch's text wins


def test_two_externals_served_under_one_name_keep_both_results_in_a_join(remote_port):
    """Was: both came back as the remote's own name, and the join kept one of them."""
    flow = (Flow().add(external=True, port=remote_port, name="a")
            .add(external=True, port=remote_port, name="b", needs="gateway")
            .needs(["a", "b"], name="join"))
    with flow:
        resp = flow.post("/", Document(text="q"), return_responses=True)[0]
    assert {"a", "b"} <= set(resp.parameters["__results__"])


def test_a_flow_from_yaml_reaches_the_remote(remote_port):
    flow = Flow.load_config(textwrap.dedent(f"""
        jtype: Flow
        executors:
          - name: ext
            external: true
            host: 127.0.0.1
            port: {remote_port}
    """))
    with flow:
        assert flow.post("/", Document(text="y")).texts == ["yR"]


def test_an_unreachable_remote_is_a_connection_error():
    with Flow().add(external=True, port=free_port(), name="ext") as flow:
        with pytest.raises(ExecutorError) as info:
            flow.post("/", Document())
    assert info.value.exc_type == "ConnectionFailedError" and "ext" in str(info.value)


def test_the_exported_executor_command_serves(tmp_path, wait_for_line):
    """The container args of ``to_kubernetes_yaml`` run as is (on another port)."""
    from shoal.flow.export import executor_args

    (tmp_path / "remote_exec.py").write_text(REMOTE)
    (tmp_path / "remote.yml").write_text("jtype: Remote\npy_modules:\n  - remote_exec.py\n")
    flow = Flow().add(uses=str(tmp_path / "remote.yml"), name="rem")
    args = executor_args(flow.deployments["rem"], str(tmp_path))
    port = free_port()
    args[args.index("--port") + 1] = str(port)
    proc = subprocess.Popen([sys.executable, "-m", "shoal", *args], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_line(proc, "serving Executor")
        with Flow().add(external=True, port=port, name="rem") as f:
            resp = f.post("/", Document(text="k"), return_responses=True)[0]
        assert resp.docs.texts == ["kR"] and "rem" in resp.parameters["__results__"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
