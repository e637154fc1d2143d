"""Mapping of error responses and transport statuses to shoal exceptions."""
from __future__ import annotations

from shoal.client.errors import error_from_status, response_error
from shoal.document.request import DataRequest, ErrorInfo
from shoal.errors import (
    BadInputError, ConnectionFailedError, DocumentNotFoundError, EndpointNotFoundError,
    ExecutorError, RequestTimeoutError, RequestTooLargeError,
)


def failed(name: str, executor: str = "ex") -> DataRequest:
    r = DataRequest()
    r.set_error(ErrorInfo(name=name, message="msg", executor=executor, traceback="tb"))
    return r


def test_response_errors_keep_the_server_type():
    exc = response_error(failed("ValueError"))
    assert isinstance(exc, ExecutorError)
    assert (exc.executor, exc.exc_type, exc.exc_message, exc.traceback) == ("ex", "ValueError",
                                                                             "msg", "tb")
    exc = response_error(failed("DocumentNotFoundError"))
    assert isinstance(exc, DocumentNotFoundError) and exc.executor == "ex"
    assert isinstance(response_error(failed("RequestTimeoutError", "")), RequestTimeoutError)


def test_status_mapping():
    assert isinstance(error_from_status("m", grpc_code="INVALID_ARGUMENT"), BadInputError)
    assert isinstance(error_from_status("m", grpc_code="NOT_FOUND"), EndpointNotFoundError)
    assert isinstance(error_from_status("m", grpc_code="UNAVAILABLE"), ConnectionFailedError)
    assert isinstance(error_from_status("m", http_status=413), RequestTooLargeError)
    assert isinstance(error_from_status("m", http_status=504), RequestTimeoutError)
    named = error_from_status("m", grpc_code="INVALID_ARGUMENT", name="MalformedDataError")
    assert type(named).__name__ == "MalformedDataError"
