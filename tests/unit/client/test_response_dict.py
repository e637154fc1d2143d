"""Responses as Jina's on_done callbacks read them: to_dict(), to_json(), status, docs."""
from __future__ import annotations

import json

import numpy as np

from shoal.document.array import DocumentArray
from shoal.document.document import Document
from shoal.document.request import DataRequest, ErrorInfo
from shoal.executors import Executor, requests
from shoal.flow import Flow


class Counts(Executor):
    @requests
    def count(self, docs, parameters, **kwargs):
        for d in docs:
            d.embedding = np.array([1.0, 2.0], dtype="float32")
        return {"count": len(docs), "seen": parameters.get("k")}


def test_on_done_reads_to_dict_parameters_and_docs():
    got = []

    def on_done(resp):
        got.append((resp.to_dict()["parameters"], resp.parameters, resp.docs.texts,
                    resp.status.code))

    with Flow().add(uses=Counts, name="counter") as f:
        f.post("/", [Document(text="a"), Document(text="b")], parameters={"k": 1},
               on_done=on_done)
    params, direct, texts, code = got[0]
    assert params["__results__"]["counter"] == {"count": 2, "seen": 1}
    assert params == json.loads(json.dumps(direct))
    assert texts == ["a", "b"] and code == "OK"


def test_to_dict_and_to_json_shape():
    req = DataRequest(DocumentArray([Document(id="x", text="t",
                                              embedding=np.array([1.5, 2.5]))]),
                      endpoint="/search", parameters={"p": 1})
    d = req.to_dict()
    assert set(d) == {"header", "parameters", "routes", "data"}
    assert d["header"]["exec_endpoint"] == "/search"
    assert d["header"]["request_id"] == req.request_id
    assert d["data"] == [{"id": "x", "text": "t", "embedding": [1.5, 2.5]}]
    assert json.loads(req.to_json()) == d


def test_status_ok_and_error():
    req = DataRequest()
    assert req.status.code == req.status.SUCCESS and req.status.exception is None
    req.set_error(ErrorInfo(name="ValueError", message="bad", executor="e1"))
    st = req.status
    assert st.code == st.ERROR == "ERROR"
    assert st.exception.executor == "e1" and st.description == "ValueError: bad"
    assert req.to_dict()["header"]["status"]["exception"]["name"] == "ValueError"
