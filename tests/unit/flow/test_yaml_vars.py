"""``${{ ENV.X }}`` / ``${{ CONTEXT.X }}`` in Flow and Executor YAML (Jina 3 syntax)."""
from __future__ import annotations

import textwrap

import pytest

from shoal.document.document import Document
from shoal.errors import ExecutorLoadError, InvalidConfigError
from shoal.executors import Executor, requests
from shoal.executors.loader import substitute_vars
from shoal.flow import Flow


class Greets(Executor):
    def __init__(self, greeting: str = "hello", times: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.greeting, self.times = greeting, times

    @requests
    def f(self, docs, **kwargs):
        for d in docs:
            d.text = self.greeting * self.times
            d.tags["times_type"] = type(self.times).__name__


FLOW = textwrap.dedent("""
    jtype: Flow
    with:
      protocol: ${{ ENV.SHOAL_T_PROTO }}
      port: ${{ ENV.SHOAL_T_PORT }}
    executors:
      - name: greet
        uses:
          jtype: Greets
          with:
            greeting: "${{ CONTEXT.word }}-${{ ENV.SHOAL_T_PROTO }}"
            times: ${{ CONTEXT.times }}
        replicas: ${{ENV.SHOAL_T_REPLICAS}}
""")


def test_flow_yaml_env_and_context_keep_types(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOAL_T_PROTO", "http")
    monkeypatch.setenv("SHOAL_T_PORT", "12345")
    monkeypatch.setenv("SHOAL_T_REPLICAS", "2")
    path = tmp_path / "flow.yml"
    path.write_text(FLOW)
    f = Flow.load_config(str(path), context={"word": "hi", "times": 2})
    assert f.gateway_args == {"protocol": "http", "port": 12345}
    assert "context" not in f.gateway_args
    assert f.deployments["greet"].replicas == 2
    f.gateway_args.clear()  # run in-process, no sockets
    with f:
        out = f.post("/", Document())
    assert out[0].text == "hi-httphi-http" and out[0].tags["times_type"] == "int"


def test_missing_env_and_context_name_the_variable(monkeypatch):
    monkeypatch.delenv("SHOAL_T_PROTO", raising=False)
    with pytest.raises(InvalidConfigError, match="SHOAL_T_PROTO.*not set"):
        Flow.load_config(FLOW)
    monkeypatch.setenv("SHOAL_T_PROTO", "http")
    monkeypatch.setenv("SHOAL_T_PORT", "1")
    monkeypatch.setenv("SHOAL_T_REPLICAS", "1")
    with pytest.raises(InvalidConfigError, match=r"'word'.*context=") as info:
        Flow.load_config(FLOW, context={"times": 1})
    assert "executors[0].uses.with.greeting" in str(info.value)


def test_executor_yaml_env_and_context(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOAL_T_TIMES", "3")
    path = tmp_path / "exec.yml"
    path.write_text("jtype: Greets\nwith:\n  greeting: ${{ CONTEXT.g }}\n"
                    "  times: ${{ ENV.SHOAL_T_TIMES }}\nmetas:\n  name: ${{ CONTEXT.g }}x\n")
    ex = Executor.load_config(str(path), context={"g": "yo"})
    assert (ex.greeting, ex.times, ex.metas.name) == ("yo", 3, "yox")
    monkeypatch.delenv("SHOAL_T_TIMES")
    with pytest.raises(ExecutorLoadError, match="SHOAL_T_TIMES"):
        Executor.load_config(str(path), context={"g": "yo"})


def test_executor_yaml_env_in_flow(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOAL_T_GREETING", "env-greeting")
    (tmp_path / "exec.yml").write_text("jtype: Greets\nwith:\n  greeting: ${{ ENV.SHOAL_T_GREETING }}\n")
    (tmp_path / "flow.yml").write_text("jtype: Flow\nexecutors:\n  - uses: exec.yml\n")
    with Flow.load_config(str(tmp_path / "flow.yml")) as f:
        assert f.post("/", Document())[0].text == "env-greeting"


@pytest.mark.parametrize(("value", "expected"), [
    ("8080", 8080), ("1.5", 1.5), ("true", True), ("null", None), ("", ""),
    ("hello", "hello"), ("a: b", "a: b"), ("[1, 2]", "[1, 2]"), ("- x", "- x"),
    ("'quoted'", "'quoted'"), ("!", "!"), ("<<", "<<"), ("2024-01-02", "2024-01-02"),
    ("&a", "&a"), ("~", None), ("0x1f", 31), ("!!python/object:os.system ls", "!!python/object:os.system ls"),
])
def test_env_values_are_scalars_never_yaml(monkeypatch, value, expected):
    monkeypatch.setenv("SHOAL_T_V", value)
    assert substitute_vars({"k": "${{ ENV.SHOAL_T_V }}"}) == {"k": expected}
    assert substitute_vars({"k": "<${{ ENV.SHOAL_T_V }}>"}) == {"k": f"<{value}>"}


def test_unknown_namespace_and_untouched_values():
    with pytest.raises(InvalidConfigError, match="not supported"):
        substitute_vars({"k": "${{ root.x }}"})
    tree = {"a": 1, "b": [True, None, "$HOME", "${x}"], "c": {"d": 2.5}}
    assert substitute_vars(tree) == tree
    assert substitute_vars(["${{ CONTEXT.v }}"], {"v": [1, 2]}) == [[1, 2]]
