"""The Executor / Flow examples of the seed notes that need no network, as written,
with ``from shoal import ...`` in place of ``from jina import ...`` / ``docarray``."""
from __future__ import annotations

import asyncio
from typing import Dict, List

from shoal import Deployment, Document, DocumentArray, Executor, Flow, requests


def test_request_executor_endpoints(capsys):
    class RequestExecutor(Executor):
        @requests(
            on=['/index', '/search']
        )  # foo will be bound to `/index` and `/search` endpoints
        def foo(self, **kwargs):
            print('Calling foo')

        @requests(on='/other')  # bar will be bound to `/other` endpoint
        async def bar(self, **kwargs):
            await asyncio.sleep(1.0)
            print('Calling bar')

    f = Flow().add(uses=RequestExecutor)

    with f:
        f.post(on='/index', inputs=[])
        f.post(on='/other', inputs=[])
        f.post(on='/search', inputs=[])
    # as in Jina (its batch_iterator yields an empty list once): one request each, without
    # Documents, so each endpoint is called
    assert capsys.readouterr().out == 'Calling foo\nCalling bar\nCalling foo\n'
    with f:
        f.post(on='/index', inputs=Document())
    assert capsys.readouterr().out == 'Calling foo\n'


def test_init_and_default_endpoint(capsys):
    class MyExecutor(Executor):
        def __init__(self, foo: str, bar: int, **kwargs):
            super().__init__(**kwargs)
            self.bar = bar
            self.foo = foo

    class MyExecutor2(Executor):
        @requests
        def foo(self, **kwargs):
            print(kwargs)

        @requests(on='/index')
        async def bar(self, **kwargs):
            await asyncio.sleep(0.01)
            print('Calling bar')

    with Flow().add(uses=MyExecutor, uses_with={'foo': 'x', 'bar': 1}).add(
            uses=MyExecutor2) as f:
        f.post('/index', Document())
        f.post('/anything', Document())
    out = capsys.readouterr().out
    assert 'Calling bar' in out and "'docs'" in out and "'parameters'" in out


def test_full_signature():
    class MyExecutor(Executor):
        @requests
        async def foo(
            self,
            docs: DocumentArray,
            parameters: Dict,
            docs_matrix: List[DocumentArray]
        ) -> DocumentArray | Dict | None:
            pass

    with Flow().add(uses=MyExecutor) as f:
        assert len(f.post('/', DocumentArray.empty(2))) == 2


def test_simplest_flow_on_done(capsys):
    class MyExecutor(Executor):
        @requests(on='/bar')
        def foo(self, docs, **kwargs):
            print(docs)

    f = Flow().add(name='myexec1', uses=MyExecutor)

    with f:
        f.post(on='/bar', inputs=Document(), on_done=print)
    out = capsys.readouterr().out
    assert 'DocumentArray' in out and 'DataRequest' in out


def test_chain_foo_bar():
    class FooExecutor(Executor):
        @requests
        def foo(self, docs: DocumentArray, **kwargs):
            docs.append(Document(text='foo was here'))

    class BarExecutor(Executor):
        @requests
        def bar(self, docs: DocumentArray, **kwargs):
            docs.append(Document(text='bar was here'))

    f = (
        Flow()
        .add(uses=FooExecutor, name='fooExecutor')
        .add(uses=BarExecutor, name='barExecutor')
    )  # Create the empty Flow
    with f:  # Using it as a Context Manager will start the Flow
        response = f.post(
            on='/search'
        )  # This sends a request to the /search endpoint of the Flow
        assert response.texts == ['foo was here', 'bar was here']


def test_plot(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    f = Flow().add(name='e1').add(needs='e1').add(needs='e1')
    f.plot('flow-2.svg')
    assert (tmp_path / 'flow-2.svg').read_text().startswith('<svg')


def test_gateway_flows_build_without_serving():
    class FooExec(Executor):
        @requests
        async def add_text(self, docs: DocumentArray, **kwargs):
            for d in docs:
                d.text += 'hello, world!'

    class BarExec(Executor):
        @requests
        async def add_text(self, docs: DocumentArray, **kwargs):
            for d in docs:
                d.text += 'goodbye!'

    f = Flow(port=12345).add(uses=FooExec, replicas=3).add(uses=BarExec, replicas=2)
    assert f.port == 12345 and f.num_deployments == 2
    g = Flow(protocol='http').add(uses=FooExec)
    g.expose_endpoint('/foo', summary='my endpoint')
    Flow(protocol='http', no_debug_endpoints=True, no_crud_endpoints=True)
    Flow(cors=True, protocol='http')
    Flow(protocol='http', uvicorn_kwargs={'loop': 'asyncio', 'http': 'httptools'})
    Flow(port=1234, ssl_certfile='path/to/certfile.crt', ssl_keyfile='path/to/keyfile.crt')
    # the same executors, in process, through post
    with Flow().add(uses=FooExec, replicas=3).add(uses=BarExec, replicas=2) as f:
        docs = f.post('/', DocumentArray(Document(text='') for _ in range(2)))
    assert docs.texts == ['hello, world!goodbye!'] * 2


def test_deployment():
    class FooExecutor(Executor):
        @requests
        def foo(self, docs: DocumentArray, **kwargs):
            docs.append(Document(text='foo was called'))

    with Deployment(uses=FooExecutor, replicas=2) as dep:
        assert dep.post(on='/').texts == ['foo was called']
