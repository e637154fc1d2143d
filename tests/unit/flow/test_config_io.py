"""YAML round trip, plot, Deployment, gateway kwargs / registry, monitoring, seed examples."""
from __future__ import annotations

import textwrap

import pytest

from shoal.document.array import DocumentArray
from shoal.document.document import Document
from shoal.executors import Executor, requests
from shoal.flow import Deployment, Flow, register_gateway
from shoal.flow.gateways import get_gateway


class Hello(Executor):
    def __init__(self, greeting: str = "hello", **kwargs):
        super().__init__(**kwargs)
        self.greeting = greeting

    @requests
    def f(self, docs, **kwargs):
        for d in docs:
            d.text = self.greeting


def test_yaml_round_trip(tmp_path):
    f = (Flow(protocol="http", port=12345)
         .add(name="a", uses=Hello, uses_with={"greeting": "hi"}, replicas=2)
         .add(name="b", uses="Hello", needs="a", shards=2, polling={"/search": "ALL"}))
    path = tmp_path / "flow.yml"
    f.save_config(str(path))
    g = Flow.load_config(str(path))
    assert g.gateway_args == {"protocol": "http", "port": 12345}
    assert list(g.deployments) == ["a", "b"]
    # a class saved with its module, so a fresh process can import it
    assert g.deployments["a"].replicas == 2
    assert g.deployments["a"].uses == f"{Hello.__module__}.Hello"
    assert g.deployments["b"].uses == "Hello"
    assert g.deployments["b"].polling == {"/search": "ALL"}
    assert g.save_config() == f.save_config()


def test_load_jina_yaml_with_executor_file(tmp_path):
    (tmp_path / "enc.py").write_text(textwrap.dedent("""
        from shoal.executors import Executor, requests

        class FileEncoder(Executor):
            @requests
            def f(self, docs, **kwargs):
                for d in docs:
                    d.tags['enc'] = True
    """))
    (tmp_path / "enc.yml").write_text("jtype: FileEncoder\npy_modules:\n  - enc.py\n")
    (tmp_path / "flow.yml").write_text(textwrap.dedent("""
        jtype: Flow
        executors:
          - name: encoder
            uses: enc.yml
          - name: greet
            uses:
              jtype: Hello
              with:
                greeting: yo
    """))
    with Flow.load_config(str(tmp_path / "flow.yml")) as f:
        out = f.post("/", Document())
    assert out[0].tags["enc"] is True and out[0].text == "yo"


def test_plot_writes_svg(tmp_path):
    f = Flow().add(name="e1").add(needs="e1").add(needs="e1")
    path = tmp_path / "flow.svg"
    svg = f.plot(str(path))
    text = path.read_text()
    assert text == svg and text.startswith("<svg")
    for name in ("e1", "executor1", "executor2", "gateway"):
        assert f'data-name="{name}"' in text
    assert text.count('class="edge"') == 5


def test_deployment_standalone():
    with Deployment(uses=Hello, replicas=2, uses_with={"greeting": "dep"}) as dep:
        assert dep.post("/", DocumentArray.empty(3)).texts == ["dep"] * 3
    with pytest.raises(TypeError):
        Deployment(uses=Hello).add(uses=Hello)


def test_gateway_kwargs_kept_and_port():
    f = Flow(protocol="http", port=23456, cors=True, no_debug_endpoints=True,
             uvicorn_kwargs={"loop": "asyncio"}, ssl_certfile="c", ssl_keyfile="k")
    f.expose_endpoint("/foo", summary="my endpoint")
    assert f.port == 23456 and f.protocol == "http"
    assert f.gateway_args["cors"] is True
    assert f._exposed_endpoints == {"/foo": {"summary": "my endpoint"}}
    g = Flow()
    assert isinstance(g.port, int) and g.port == g.port


def test_gateway_hook_called_only_when_asked():
    started, stopped = [], []

    class Handle:
        async def stop(self):
            stopped.append(1)

    async def starter(flow, args):
        started.append((args.protocol, args.port, args.options.get("cors"),
                        flow.router is not None))
        return Handle()

    register_gateway("fakeproto", starter)
    try:
        with Flow().add():
            pass
        assert started == []
        with Flow(protocol="fakeproto", port=34567, cors=True).add() as f:
            assert f.post("/", Document(text="x")).texts == ["x"]
        assert started == [("fakeproto", 34567, True, True)] and stopped == [1]
    finally:
        from shoal.flow import gateways

        gateways._GATEWAYS.pop("fakeproto", None)
    assert get_gateway("fakeproto") is None


def test_monitoring_per_flow_registry():
    with Flow(monitoring=True).add(uses=Hello, name="h") as f:
        f.post("/x", DocumentArray.empty(2), request_size=1)
        assert f.metrics.value("process_request_seconds", executor="h", endpoint="/x") == 2
    with Flow().add(uses=Hello) as f:
        assert f.metrics is None


def test_seed_uses_by_name_with_metas_and_requests(tmp_path, capsys):
    class MyExecutor(Executor):
        def __init__(self, parameter_1, parameter_2, **kwargs):
            super().__init__(**kwargs)
            print(f"parameter_1 = {parameter_1}")
            print(f"parameter_2 = {parameter_2}")

        def my_index(self, docs: DocumentArray, **kwargs):
            print("in my_index, bound to /index")

        def my_search(self, docs: DocumentArray, **kwargs):
            print("in my_search, bound to /search")

        def foo(self, docs: DocumentArray, **kwargs):
            print("in foo, bound to /random")

    with Flow().add(
        uses="MyExecutor",
        uses_with={"parameter_1": "foo", "parameter_2": "bar"},
        uses_metas={"name": "MyExecutor", "description": "does a thing",
                    "py_modules": ["executor.py"]},
        uses_requests={"/index": "my_index", "/search": "my_search", "/random": "foo"},
        workspace=str(tmp_path / "some_custom_path"),
    ) as f:
        f.post("/index", Document())
        f.post("/random", Document())
    out = capsys.readouterr().out
    assert "parameter_1 = foo" in out and "parameter_2 = bar" in out
    assert "in my_index, bound to /index" in out and "in foo, bound to /random" in out


def test_add_returns_a_copy_like_jina():
    f = Flow()
    g = f.add(name="x")
    assert f.num_deployments == 0 and g.num_deployments == 1


def test_yaml_forward_needs_and_cycles():
    from shoal.errors import TopologyError

    ok = textwrap.dedent("""
        jtype: Flow
        executors:
          - name: b
            needs: a
          - name: a
            needs: gateway
    """)
    f = Flow.load_config(ok)
    assert f.topology.order == ("a", "b")
    cyclic = textwrap.dedent("""
        jtype: Flow
        executors:
          - name: a
            needs: b
          - name: b
            needs: a
    """)
    with pytest.raises(TopologyError, match="cycle"):
        Flow.load_config(cyclic)


def test_a_saved_flow_of_an_imported_class_loads_in_a_fresh_process(tmp_path):
    """Was: 'uses: Tagged' without its module, 'no Executor class of that name'."""
    import subprocess
    import sys

    (tmp_path / "tagged_exec_mod.py").write_text(
        "from shoal import Executor, requests\n"
        "class Tagged(Executor):\n"
        "    @requests\n"
        "    def f(self, docs, **kwargs):\n"
        "        for d in docs:\n"
        "            d.text = 'tagged'\n")
    code = ("import sys; sys.path.insert(0, {d!r})\n"
            "from tagged_exec_mod import Tagged\n"
            "from shoal import Flow\n"
            "Flow().add(uses=Tagged).save_config({p!r})\n").format(
        d=str(tmp_path), p=str(tmp_path / "f.yml"))
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert "uses: tagged_exec_mod.Tagged" in (tmp_path / "f.yml").read_text()
    load = ("from shoal import Flow, Document\n"
            "with Flow.load_config('f.yml') as f:\n"
            "    print(f.post('/', Document()).texts)\n")
    out = subprocess.run([sys.executable, "-c", load], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "['tagged']" in out.stdout
