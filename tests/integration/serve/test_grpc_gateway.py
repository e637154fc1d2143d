"""The gRPC gateway spoken to with plain grpcio: health, statuses, in-band stream errors."""
from __future__ import annotations

import grpc
import pytest

from shoal.document import Document, DocumentArray
from shoal.document.codec import request_from_bytes, request_to_bytes
from shoal.document.request import DataRequest
from shoal.serve.gateway.health import decode_response, encode_request, SERVING

pytestmark = pytest.mark.timeout(60)


def channel(gateway) -> grpc.Channel:
    return grpc.insecure_channel(f"127.0.0.1:{gateway.port}")


def post(ch: grpc.Channel, payload: bytes, **kwargs) -> bytes:
    return ch.unary_unary("/shoal.Gateway/Post")(payload, **kwargs)


@pytest.mark.parametrize("gateway", ["grpc"], indirect=True)
def test_standard_health_service(gateway):
    with channel(gateway) as ch:
        check = ch.unary_unary("/grpc.health.v1.Health/Check")
        assert decode_response(check(encode_request(""))) == SERVING
        assert decode_response(check(encode_request("shoal.Gateway"))) == SERVING
        with pytest.raises(grpc.RpcError) as info:
            check(encode_request("nope"))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        watch = ch.unary_stream("/grpc.health.v1.Health/Watch")(encode_request(""))
        assert decode_response(next(watch)) == SERVING
        watch.cancel()


@pytest.mark.parametrize("gateway", [{"protocol": "grpc", "max_request_bytes": 4000,
                                      "timeout": 0.3}], indirect=True)
def test_unary_statuses(gateway):
    def code_of(payload: bytes) -> tuple[grpc.StatusCode, str]:
        with pytest.raises(grpc.RpcError) as info:
            post(ch, payload)
        meta = dict(info.value.trailing_metadata() or ())
        return info.value.code(), meta.get("shoal-error", "")

    with channel(gateway) as ch:
        ok = request_from_bytes(post(ch, request_to_bytes(DataRequest([Document(text="a")]))))
        assert ok.docs.texts == ["a!"]
        assert code_of(b"\xff\xff\xff garbage") == (grpc.StatusCode.INVALID_ARGUMENT,
                                                     "MalformedDataError")
        assert code_of(request_to_bytes(DataRequest(endpoint="/missing"))) == (
            grpc.StatusCode.NOT_FOUND, "EndpointNotFoundError")
        big = DataRequest([Document(text="x" * 10_000)])
        assert code_of(request_to_bytes(big))[0] == grpc.StatusCode.RESOURCE_EXHAUSTED
        slow = DataRequest(endpoint="/slow", parameters={"sleep": 2})
        assert code_of(request_to_bytes(slow)) == (grpc.StatusCode.DEADLINE_EXCEEDED,
                                                   "RequestTimeoutError")
        # an executor failure is an answer, not a failed call
        err = request_from_bytes(post(ch, request_to_bytes(DataRequest(endpoint="/error"))))
        assert err.is_error and err.header.error.executor == "fakeexec"
        ok = request_from_bytes(post(ch, request_to_bytes(DataRequest([Document(text="b")]))))
        assert ok.docs.texts == ["b!"]


@pytest.mark.parametrize("gateway", ["grpc"], indirect=True)
def test_stream_answers_every_request_and_survives_bad_ones(gateway):
    reqs = [DataRequest(DocumentArray([Document(text=str(i))])) for i in range(20)]
    payloads = [request_to_bytes(r) for r in reqs]
    payloads.insert(5, b"\xff\xff not a request")
    payloads.insert(9, request_to_bytes(DataRequest(endpoint="/error")))
    with channel(gateway) as ch:
        call = ch.stream_stream("/shoal.Gateway/Call")
        answers = [request_from_bytes(raw) for raw in call(iter(payloads))]
    assert len(answers) == 22
    by_id = {a.header.request_id: a for a in answers if not a.is_error}
    assert set(by_id) == {r.header.request_id for r in reqs}
    assert all(by_id[r.header.request_id].docs.texts == [r.docs[0].text + "!"] for r in reqs)
    errors = sorted(a.header.error.name for a in answers if a.is_error)
    assert errors == ["MalformedDataError", "ValueError"]
