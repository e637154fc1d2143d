"""Executor: endpoint binding, arguments by name, metas, runtime_args, workspace, close."""
from __future__ import annotations

import asyncio

import pytest

from shoal.document.array import DocumentArray
from shoal.document.document import Document
from shoal.document.request import DataRequest
from shoal.errors import ExecutorLoadError
from shoal.executors import Executor, requests
from shoal.executors.handler import run_async, run_sync


class Multi(Executor):
    @requests(on=["/index", "/search"])
    def both(self, docs, **kwargs):
        docs.append(Document(text="both"))

    @requests(on="/other")
    async def other(self, docs, **kwargs):
        await asyncio.sleep(0)
        docs.append(Document(text="other"))

    @requests
    def default(self, docs, **kwargs):
        docs.append(Document(text="default"))


def _req(endpoint: str, docs=None, parameters=None) -> DataRequest:
    return DataRequest(DocumentArray(docs or []), endpoint=endpoint, parameters=parameters)


def test_bindings_on_list_single_and_default():
    ex = Multi()
    assert run_sync(ex, [_req("/index")]).docs.texts == ["both"]
    assert run_sync(ex, [_req("/search")]).docs.texts == ["both"]
    assert run_sync(ex, [_req("/anything")]).docs.texts == ["default"]
    resp = asyncio.run(run_async(ex, [_req("/other")]))
    assert resp.docs.texts == ["other"]


def test_no_binding_passes_docs_through():
    class OnlyIndex(Executor):
        @requests(on="/index")
        def index(self, docs, **kwargs):
            docs.append(Document())

    resp = run_sync(OnlyIndex(), [_req("/search", [Document(text="q")])])
    assert resp.docs.texts == ["q"]
    assert Executor().requests == {}


def test_arguments_by_name_without_kwargs():
    seen = {}

    class Named(Executor):
        @requests
        def f(self, parameters, docs_matrix):
            seen["parameters"] = parameters
            seen["matrix"] = docs_matrix

    req = _req("/", [Document(id="a")], parameters={"k": 1})
    run_sync(Named(), [req])
    # outside a join, Jina's one-row matrix (a merger written for Jina loops over it)
    assert seen["parameters"] == {"k": 1}
    assert [m.ids for m in seen["matrix"]] == [["a"]]


def test_an_executor_gets_its_own_parameters_and_jinas_tracing_context():
    """Was: without an '<name>__key' the request's own dict was passed, so a pop in one
    executor hid the key from the next ones and the response; tracing_context was a
    missing argument."""
    seen = {}

    class Pops(Executor):
        @requests
        def f(self, docs, parameters, tracing_context):
            seen["limit"] = parameters.pop("limit")
            seen["tracing"] = tracing_context
            parameters["added"] = 1

    req = _req("/", [Document()], parameters={"limit": 3})
    resp = run_sync(Pops(), [req])
    assert seen == {"limit": 3, "tracing": None}
    assert resp.parameters == {"limit": 3}


def test_return_semantics():
    class Ret(Executor):
        @requests(on="/replace")
        def replace(self, docs, **kwargs):
            return DocumentArray([Document(text="new")])

        @requests(on="/mutate")
        def mutate(self, docs, **kwargs):
            docs[0].text = "mutated"

        @requests(on="/dict")
        def result(self, docs, **kwargs):
            return {"n": len(docs)}

        @requests(on="/bad")
        def bad(self, **kwargs):
            return 42

    ex = Ret(runtime_args={"name": "ret"})
    assert run_sync(ex, [_req("/replace", [Document(text="a")])]).docs.texts == ["new"]
    assert run_sync(ex, [_req("/mutate", [Document(text="a")])]).docs.texts == ["mutated"]
    resp = run_sync(ex, [_req("/dict", [Document(text="a")])])
    assert resp.parameters["__results__"] == {"ret": {"n": 1}}
    assert resp.docs.texts == ["a"]
    with pytest.raises(TypeError, match="must return a DocumentArray"):
        run_sync(ex, [_req("/bad")])


def test_init_gets_uses_with_and_metas_before_body():
    class WithInit(Executor):
        def __init__(self, foo: str, bar: int, **kwargs):
            super().__init__(**kwargs)
            self.foo, self.bar = foo, bar

    ex = WithInit(foo="x", bar=2, metas={"name": "w", "description": "d"},
                  runtime_args={"replica_id": 1, "shard_id": 2, "replicas": 3, "shards": 4})
    assert (ex.foo, ex.bar) == ("x", 2)
    assert ex.metas.name == "w" and ex.metas.description == "d"
    ra = ex.runtime_args
    assert (ra.replica_id, ra.shard_id, ra.replicas, ra.shards, ra.name) == (1, 2, 3, 4, "w")


def test_init_without_super_or_kwargs_still_works():
    class NoSuper(Executor):
        def __init__(self, foo):
            self.foo = foo

        @requests
        def f(self, docs, **kwargs):
            docs.append(Document(text=self.foo))

    ex = NoSuper(foo="z", metas={"name": "n"})
    assert ex.metas.name == "n"
    assert run_sync(ex, [_req("/")]).docs.texts == ["z"]


def test_uses_requests_overrides_and_unknown_method_fails():
    class Plain(Executor):
        def my_index(self, docs, **kwargs):
            docs.append(Document(text="idx"))

    ex = Plain(requests={"/index": "my_index"})
    assert run_sync(ex, [_req("/index")]).docs.texts == ["idx"]
    with pytest.raises(ExecutorLoadError, match="nope"):
        Plain(requests={"/index": "nope"})


def test_uses_requests_moves_a_decorated_method_to_the_endpoints_given():
    """As Jina's _add_requests: was, the method kept its @requests endpoints too."""
    class Decorated(Executor):
        @requests
        def foo(self, docs, **kwargs):
            docs.append(Document(text="foo"))

        @requests(on="/other")
        def bar(self, docs, **kwargs):
            docs.append(Document(text="bar"))

    ex = Decorated(requests={"/index": "foo"})
    assert run_sync(ex, [_req("/index")]).docs.texts == ["foo"]
    assert run_sync(ex, [_req("/search")]).docs.texts == []  # no default handler any more
    assert run_sync(ex, [_req("/other")]).docs.texts == ["bar"]


def test_inherited_bindings_resolve_to_overrides():
    class Base(Executor):
        @requests(on="/x")
        def handle(self, docs, **kwargs):
            docs.append(Document(text="base"))

    class Child(Base):
        def handle(self, docs, **kwargs):
            docs.append(Document(text="child"))

    assert run_sync(Child(), [_req("/x")]).docs.texts == ["child"]


def test_workspace_created_on_demand(tmp_path):
    ex = Executor(metas={"name": "ws"}, workspace=str(tmp_path),
                  runtime_args={"shard_id": 1, "shards": 2, "replica_id": 1, "replicas": 2})
    assert not (tmp_path / "ws").exists()
    path = ex.workspace
    assert path == str(tmp_path / "ws" / "1" / "1")
    assert (tmp_path / "ws" / "1" / "1").is_dir()


def test_close_called_once():
    calls = []

    class Closing(Executor):
        def close(self):
            calls.append(1)

    ex = Closing()
    ex._shoal_close()
    ex._shoal_close()
    assert calls == [1]


def test_join_gets_docs_matrix_and_merged_docs():
    seen = {}

    class Join(Executor):
        @requests
        def join(self, docs, docs_matrix, docs_map, **kwargs):
            seen["matrix"] = [d.texts for d in docs_matrix]
            seen["map"] = sorted(docs_map)
            seen["docs"] = sorted(docs.texts)

    a = _req("/", [Document(id="1", text="a")])
    a.routes.append("left")
    b = _req("/", [Document(id="2", text="b")])
    b.routes.append("right")
    resp = run_sync(Join(), [a, b])
    assert seen == {"matrix": [["a"], ["b"]], "map": ["left", "right"], "docs": ["a", "b"]}
    assert sorted(resp.docs.texts) == ["a", "b"]


def test_executor_as_a_context_manager_closes_once_and_requests_on_is_checked():
    closed = []

    class Saves(Executor):
        def close(self):
            closed.append(1)

    with Saves() as ex:
        assert isinstance(ex, Saves)
    ex._shoal_close()  # noqa: SLF001 - a Flow closing it again: still once
    assert closed == [1]
    for bad in (5, [], ["/a", 3]):
        with pytest.raises(TypeError, match="endpoint such as '/index'"):
            requests(on=bad)


def test_a_failing_close_is_logged_and_the_other_replicas_still_close(caplog):
    from shoal.flow import Flow

    closed = []

    class Fails(Executor):
        def close(self):
            closed.append(self.runtime_args.replica_id)
            raise RuntimeError("could not save")

    with caplog.at_level("ERROR", logger="shoal.flow"):
        with Flow().add(name="f", uses=Fails, replicas=2):
            pass
    assert sorted(closed) == [0, 1]
    assert "could not save" in caplog.text and "close() raised" in caplog.text
