"""Flow.post: inputs, batching, return values, callbacks, errors, lifecycle."""
from __future__ import annotations

import threading

import pytest

from shoal.document.array import DocumentArray
from shoal.document.document import Document
from shoal.errors import ExecutorError, FlowError
from shoal.executors import Executor, requests
from shoal.flow import Flow


class Tag(Executor):
    @requests
    def tag(self, docs, parameters, **kwargs):
        for d in docs:
            d.tags["seen"] = d.tags.get("seen", 0) + 1
        return {"size": len(docs)}

    @requests(on="/fail")
    def fail(self, docs, **kwargs):
        if any(d.text == "bad" for d in docs):
            raise ValueError("bad document")


@pytest.mark.parametrize("inputs, n", [
    (Document(), 1),
    ([Document(), Document()], 2),
    (DocumentArray.empty(3), 3),
    ((Document() for _ in range(4)), 4),
    (lambda: (Document() for _ in range(5)), 5),
])
def test_inputs_kinds(inputs, n):
    with Flow().add(uses=Tag) as f:
        docs = f.post("/", inputs)
    assert len(docs) == n
    assert all(d.tags["seen"] == 1 for d in docs)


def test_none_or_an_empty_list_sends_one_empty_request_an_empty_generator_nothing():
    """Jina's request_generator: None -> one request with parameters only; its
    batch_iterator yields an empty list (a sized input) once, an empty generator never."""
    with Flow().add(uses=Tag, name="t") as f:
        for empty in (None, [], DocumentArray()):
            resps = f.post("/", empty, return_responses=True)
            assert len(resps) == 1 and resps[0].parameters["__results__"] == {"t": {"size": 0}}
        assert f.post("/", (d for d in []), return_responses=True) == []


def test_request_size_batches_and_order():
    docs = [Document(text=str(i)) for i in range(25)]
    with Flow().add(uses=Tag) as f:
        resps = f.post("/", docs, request_size=10, return_responses=True)
        out = f.post("/", docs, request_size=10)
    assert [len(r.docs) for r in resps] == [10, 10, 5]
    assert out.texts == [str(i) for i in range(25)]


def test_callbacks_and_no_return_value():
    done, always = [], []
    with Flow().add(uses=Tag) as f:
        result = f.post("/", DocumentArray.empty(5), request_size=2,
                        on_done=done.append, on_always=always.append)
    assert result is None
    assert len(done) == 3 and len(always) == 3


def test_executor_error_raised_with_details_and_flow_keeps_serving():
    with Flow().add(uses=Tag, name="tagger") as f:
        with pytest.raises(ExecutorError) as info:
            f.post("/fail", Document(text="bad"))
        err = info.value
        assert err.executor == "tagger"
        assert err.exc_type == "ValueError"
        assert err.exc_message == "bad document"
        assert "raise ValueError" in err.traceback
        assert f.post("/fail", Document(text="good")).texts == ["good"]


def test_on_error_receives_response_instead_of_raise():
    errors, always = [], []
    with Flow().add(uses=Tag) as f:
        f.post("/fail", [Document(text="bad"), Document(text="ok")], request_size=1,
               on_error=lambda resp: errors.append(resp.header.error),
               on_always=always.append)
    assert len(errors) == 1 and errors[0].name == "ValueError"
    assert len(always) == 2


def test_on_error_with_two_arguments_gets_exception():
    got = []
    with Flow().add(uses=Tag) as f:
        f.post("/fail", Document(text="bad"), on_error=lambda resp, exc: got.append(exc))
    assert isinstance(got[0], ExecutorError)


def test_parameters_reach_executor():
    seen = {}

    class Params(Executor):
        @requests
        def f(self, parameters, **kwargs):
            seen.update(parameters)

    with Flow().add(uses=Params) as f:
        f.post("/", Document(), parameters={"hello": "world"})
    assert seen == {"hello": "world"}


def test_async_handlers_and_mixed_chain():
    class AsyncTag(Executor):
        @requests
        async def f(self, docs, **kwargs):
            for d in docs:
                d.text = (d.text or "") + "a"

    with Flow().add(uses=AsyncTag).add(uses=Tag).add(uses=AsyncTag) as f:
        out = f.post("/", DocumentArray.empty(30), request_size=7)
    assert out.texts == ["aa"] * 30
    assert all(d.tags["seen"] == 1 for d in out)


def test_post_before_start_fails_and_empty_flow_echoes():
    f = Flow()
    with pytest.raises(FlowError, match="not started"):
        f.post("/")
    with Flow() as f:
        assert f.post("/", Document(text="hi")).texts == ["hi"]
    with Flow().add() as f:  # a no-op executor
        assert f.post("/", Document(text="hi")).texts == ["hi"]


def test_close_called_once_on_exit():
    closed = []

    class Closing(Executor):
        def close(self):
            closed.append(self.runtime_args.replica_id)

    with Flow().add(uses=Closing, replicas=2):
        pass
    assert sorted(closed) == [0, 1]


def test_block_returns_when_event_set():
    stop = threading.Event()
    with Flow().add() as f:
        threading.Timer(0.05, stop.set).start()
        f.block(stop_event=stop)


def test_target_executor_only_runs_matching():
    class Mark(Executor):
        @requests
        def f(self, docs, **kwargs):
            for d in docs:
                d.tags.setdefault("by", []).append(self.runtime_args.name)

    with Flow().add(uses=Mark, name="a").add(uses=Mark, name="b") as f:
        out = f.post("/", Document(), target_executor="b")
    assert out[0].tags["by"] == ["b"]


def test_index_search_shortcuts():
    with Flow().add(uses=Tag) as f:
        assert len(f.index(Document())) == 1
        assert len(f.search(Document())) == 1


def test_parameters_for_a_specific_executor():
    seen = {}

    class Read(Executor):
        @requests
        def f(self, parameters, **kwargs):
            seen[self.runtime_args.name] = dict(parameters)

    with Flow().add(uses=Read, name="a").add(uses=Read, name="b") as f:
        f.post("/", Document(), parameters={"k": 0, "a__k": 1, "b": {"extra": True}})
    assert seen["a"] == {"k": 1, "b": {"extra": True}}
    assert seen["b"] == {"k": 0, "b": {"extra": True}, "extra": True}
