"""post(inputs=...) shapes -> requests of request_size Documents."""
from __future__ import annotations

import asyncio

import pytest

from shoal.document.posting import RequestFactory
from shoal.document import Document, DocumentArray
from shoal.errors import BadInputError


def sizes(inputs, request_size=2) -> list[int]:
    return [len(r.docs) for r in RequestFactory("/x", None, request_size, None).iter_sync(inputs)]


def test_shapes():
    d = Document(text="a")
    assert sizes(None) == [0]
    assert sizes(d) == [1]
    assert sizes("text") == [1]
    assert sizes([d, d, d]) == [2, 1]
    assert sizes(DocumentArray.empty(5)) == [2, 2, 1]
    assert sizes(DocumentArray.empty(2)) == [2]
    assert sizes(lambda: (Document() for _ in range(3))) == [2, 1]
    assert sizes(Document() for _ in range(4)) == [2, 2]
    assert sizes([]) == [0]  # Jina: a sized empty input is one empty request
    assert sizes(["a", {"text": "b"}]) == [2]
    assert sizes(DocumentArray.empty(7), request_size=0) == [7]
    assert sizes(range(0)) == [0]
    assert sizes(d for d in []) == []  # an empty generator: none


def test_request_fields():
    f = RequestFactory("", {"a": 1}, 100, "exec.*", timeout_ms=250)
    (req,) = f.iter_sync([Document()])
    assert req.header.exec_endpoint == "/" and req.parameters == {"a": 1}
    assert req.header.target_executor == "exec.*" and req.header.timeout_ms == 250


def test_bad_inputs():
    with pytest.raises(BadInputError):
        list(RequestFactory("/", None, 2, None).iter_sync(42))
    with pytest.raises(BadInputError):
        RequestFactory("/", "not a dict", 2, None)  # type: ignore[arg-type]
    with pytest.raises(BadInputError):
        RequestFactory("/", None, 1.5, None)  # type: ignore[arg-type]


def test_async_inputs():
    async def agen():
        for i in range(5):
            yield Document(text=str(i))

    async def collect(inputs) -> list[list[str]]:
        f = RequestFactory("/", None, 2, None)
        return [r.docs.texts async for r in f.iter_async(inputs)]

    assert asyncio.run(collect(agen)) == [["0", "1"], ["2", "3"], ["4"]]
    assert asyncio.run(collect(agen())) == [["0", "1"], ["2", "3"], ["4"]]
    assert asyncio.run(collect([Document(text="s")])) == [["s"]]
