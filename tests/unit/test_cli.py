import subprocess
import sys

from shoal.cli.main import main


def test_help_teaches(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "shoal hello" in out and "shoal new" in out


def test_hello_with_the_lexical_encoder(tmp_path, capsys):
    assert main(["hello", "--model", "hashing", "--limit", "200", "--workspace",
                 str(tmp_path / "ws"), "--query", "parse JSON text"]) == 0
    out = capsys.readouterr().out
    assert "parse JSON text" in out and "json." in out
    assert "embedded and indexed" in out
    assert main(["hello", "--model", "hashing", "--limit", "200", "--workspace",
                 str(tmp_path / "ws"), "--query", "parse JSON text"]) == 0
    out = capsys.readouterr().out
    assert "reused the store" in out and "json." in out  # the second run reopens the store


def test_new_creates_a_runnable_skeleton(tmp_path):
    assert main(["new", str(tmp_path / "app")]) == 0
    for rel in ("app.py", "flow.yml", "executor1/executor.py", "executor1/config.yml",
                "README.md"):
        assert (tmp_path / "app" / rel).exists()
    readme = (tmp_path / "app" / "README.md").read_text()
    assert readme.startswith("# app") and "shoal flow --uses flow.yml" in readme
    assert main(["new", str(tmp_path / "app")]) == 2  # refuses to overwrite
    run = subprocess.run([sys.executable, "app.py"], cwd=tmp_path / "app", capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    first = run.stdout.splitlines()[0]
    assert first.startswith("hello, world") and float(first.split()[-1]) < 1.0


def test_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "shoal.cli", "--version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.startswith("shoal ")
