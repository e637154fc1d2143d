"""``python -m shoal`` and the help of ``shoal flow`` / ``executor`` / ``ping`` (no sockets)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from shoal.cli.main import main


def test_python_dash_m_shoal_help_teaches():
    out = subprocess.run([sys.executable, "-m", "shoal", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for text in ("examples:", "shoal flow --uses flow.yml", "shoal executor --uses",
                 "shoal ping", "hello", "new"):
        assert text in out.stdout


@pytest.mark.parametrize(("command", "examples"), [
    ("flow", ["shoal flow --uses flow.yml", "${{ ENV.PORT }}", "curl"]),
    ("executor", ["--uses config.yml", "--uses my_module.MyExecutor", "--uses-with"]),
    ("ping", ["shoal ping localhost:12345", "--attempts"]),
    ("new", ["shoal new my-app && cd my-app && python app.py"]),
    ("hello", ["shoal hello --query", "--model hashing"]),
    ("executor", ["--replicas REPLICAS", "copies of the executor"]),
])
def test_subcommand_help_has_examples(capsys, command, examples):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for text in examples:
        assert text in out


def test_bad_arguments_are_clear(capsys, tmp_path):
    assert main(["flow", "--uses", str(tmp_path / "missing.yml")]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["executor", "--uses", "X", "--uses-with", "[1]"])
    assert "JSON object" in capsys.readouterr().err
    assert main(["ping", "a:1", "b:2"]) == 2
    assert "one ADDRESS" in capsys.readouterr().err
    assert main(["ping", "nohost"]) == 2  # was: Python-API wording about Client(port=...)
    assert "give the gateway's HOST:PORT" in capsys.readouterr().err


def test_ping_of_a_port_that_does_not_speak_grpc_suggests_the_protocol(capsys):
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    stop = threading.Event()

    def accept_and_drop():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=accept_and_drop, daemon=True)
    thread.start()
    try:
        assert main(["ping", f"127.0.0.1:{port}", "--timeout", "0.5"]) == 1
    finally:
        stop.set()
        thread.join()
        server.close()
    assert "add --protocol http" in capsys.readouterr().err
