"""SIGTERM while ``Flow.block()`` / ``Deployment.block()``: executors are closed, as on Ctrl-C."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = textwrap.dedent("""
    import signal, sys, threading, time
    from shoal import Deployment, Executor, Flow, requests

    class E(Executor):
        @requests
        def f(self, docs, **kwargs):
            pass

        def close(self):
            with open(sys.argv[1], "a") as fh:
                fh.write("closed\\n")

    before = signal.getsignal(signal.SIGTERM)
    kind = sys.argv[2]
    ctx = Flow().add(uses=E) if kind == "flow" else Deployment(uses=E)
    def announce():  # once block() has installed its handler
        while signal.getsignal(signal.SIGTERM) is before:
            time.sleep(0.01)
        print("ready", flush=True)

    with ctx as f:
        threading.Thread(target=announce, daemon=True).start()
        f.block(announce=False)
    print("restored" if signal.getsignal(signal.SIGTERM) is before else "not restored",
          flush=True)
""")


@pytest.mark.parametrize("kind", ["flow", "deployment"])
def test_sigterm_in_block_closes_executors(tmp_path: Path, kind: str) -> None:
    log = tmp_path / "close.log"
    script = tmp_path / "serve.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), str(log), kind], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert out.strip() == "restored"
    assert log.read_text() == "closed\n"
