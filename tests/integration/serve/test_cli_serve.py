"""``shoal flow`` / ``shoal executor`` serve until SIGTERM / Ctrl-C; ``shoal ping`` checks."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from shoal.client import Client
from shoal.document import Document
from shoal.flow.flow import free_port

pytestmark = pytest.mark.timeout(90)

EXECUTOR = textwrap.dedent("""
    from shoal import Executor, requests

    class Suffix(Executor):
        def __init__(self, suffix: str = '!', **kwargs):
            super().__init__(**kwargs)
            self.suffix = suffix

        @requests
        def add(self, docs, **kwargs):
            for d in docs:
                d.text = (d.text or '') + self.suffix
""")


def shoal(*args: str, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "shoal", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})


def stop(proc: subprocess.Popen, sig: int) -> tuple[int, str]:
    proc.send_signal(sig)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return proc.returncode, out


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "suffix_exec.py").write_text(EXECUTOR)
    (tmp_path / "exec.yml").write_text(
        "jtype: Suffix\nwith:\n  suffix: ${{ ENV.SUFFIX }}\npy_modules:\n  - suffix_exec.py\n")
    (tmp_path / "flow.yml").write_text(textwrap.dedent("""
        jtype: Flow
        with:
          protocol: http
          port: ${{ ENV.FLOW_PORT }}
        executors:
          - name: first
            uses: exec.yml
          - name: second
            uses:
              jtype: Suffix
              with: {suffix: '?'}
    """))
    return tmp_path


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen]]:
    running: list[subprocess.Popen] = []
    yield running
    for proc in running:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_flow_from_yaml_serves_until_sigterm(project, procs, wait_for_line):
    port = free_port()
    proc = shoal("flow", "--uses", "flow.yml", cwd=project,
                 env={"FLOW_PORT": str(port), "SUFFIX": "!"})
    procs.append(proc)
    assert f"http://0.0.0.0:{port}" in wait_for_line(proc, "serving Flow")
    with Client(host="127.0.0.1", port=port, protocol="http") as c:
        assert c.post("/", Document(text="a")).texts == ["a!?"]
    code, out = stop(proc, signal.SIGTERM)
    assert code == 0 and "stopped" in out


def test_executor_serves_and_ping_checks(project, procs, wait_for_line):
    port = free_port()
    proc = shoal("executor", "--uses", "exec.yml", "--port", str(port), "--protocol", "grpc",
                 cwd=project, env={"SUFFIX": "+"})
    procs.append(proc)
    wait_for_line(proc, "serving Executor")
    ping = subprocess.run([sys.executable, "-m", "shoal", "ping", f"localhost:{port}"],
                          capture_output=True, text=True, timeout=60)
    assert ping.returncode == 0 and "is ready" in ping.stdout
    with Client(host="127.0.0.1", port=port) as c:
        assert c.post("/", Document(text="b")).texts == ["b+"]
    code, out = stop(proc, signal.SIGINT)
    assert code == 0 and "stopped" in out
    ping = subprocess.run([sys.executable, "-m", "shoal", "ping", "flow", f"localhost:{port}",
                           "--timeout", "0.5"], capture_output=True, text=True, timeout=60)
    assert ping.returncode == 1 and "did not answer" in ping.stderr


def test_executor_from_module_class_over_websocket(project, procs, wait_for_line):
    port = free_port()
    proc = shoal("executor", "--uses", "suffix_exec.Suffix", "--port", str(port),
                 "--protocol", "websocket", "--uses-with", '{"suffix": "#"}', cwd=project)
    procs.append(proc)
    wait_for_line(proc, "serving Executor")
    with Client(host="127.0.0.1", port=port, protocol="websocket") as c:
        assert c.post("/", Document(text="c")).texts == ["c#"]
    assert stop(proc, signal.SIGTERM)[0] == 0


def test_console_script_flow_imports_module_class_from_cwd_and_prints_the_bound_port(
        project, procs, wait_for_line):
    """`shoal flow` (the console script, which does not put the folder on sys.path as
    `python -m` does) with `uses: module.Class`, on port 0: was 'cannot import module',
    and the printed address said :0."""
    script = Path(sys.executable).with_name("shoal")
    if not script.exists():
        pytest.skip("no shoal console script beside this interpreter")
    (project / "mc.yml").write_text(
        "jtype: Flow\nwith:\n  protocol: grpc\n  port: 0\nexecutors:\n"
        "  - name: s\n    uses: suffix_exec.Suffix\n")
    proc = subprocess.Popen([str(script), "flow", "--uses", "mc.yml"], cwd=project, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    procs.append(proc)
    line = wait_for_line(proc, "serving Flow")
    port = int(line.split("grpc://0.0.0.0:")[1].split()[0])
    assert port > 0
    with Client(host="127.0.0.1", port=port) as c:
        assert c.post("/", Document(text="a")).texts == ["a!"]
    code, _ = stop(proc, signal.SIGTERM)
    assert code == 0
