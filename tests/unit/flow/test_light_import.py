"""Importing the executor / flow / runtime layers pulls in no grpc, prometheus or yaml."""
from __future__ import annotations

import subprocess
import sys


def test_flow_import_is_light():
    code = ("import sys, shoal.executors, shoal.flow, shoal.serve.runtime; "
            "print(sorted(m for m in ('grpc', 'prometheus_client', 'yaml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_starting_an_in_process_flow_opens_no_socket_and_imports_no_grpc():
    code = ("import sys\n"
            "import shoal.serve.runtime\n"
            "from shoal.flow import Flow\n"
            "from shoal.document.document import Document\n"
            "import socket\n"
            "opened = []\n"
            "orig = socket.socket.__init__\n"
            "def spy(self, *a, **k):\n"
            "    opened.append(a)\n"
            "    orig(self, *a, **k)\n"
            "socket.socket.__init__ = spy\n"
            "with Flow().add().add() as f:\n"
            "    f.post('/', Document())\n"
            "inet = [a for a in opened if not a or a[0] != socket.AF_UNIX]\n"
            "print(len(inet), 'grpc' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["0", "False"]  # only the event loop's own socketpair
