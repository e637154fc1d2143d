"""``post`` helpers shared by Flow and Deployment: batching inputs, callbacks, errors."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from shoal.document.posting import Callback, RequestFactory, call_with_error
from shoal.errors import ExecutorError

if TYPE_CHECKING:
    from shoal.document.request import DataRequest

__all__ = ["iter_requests", "run_callbacks", "error_of", "Callback"]


def iter_requests(on: str, inputs: Any, parameters: dict | None, request_size: int,
                  target_executor: str | None = None) -> Iterator[DataRequest]:
    """Yield the requests of one ``post`` (see :class:`shoal.document.posting.RequestFactory`).

    The Documents are light copies, so the caller's inputs stay as they were (Jina
    serialises them; an in-process executor would otherwise change them in place).
    """
    return RequestFactory(on, parameters, request_size, target_executor,
                          copy_inputs=True).iter_sync(inputs)


def error_of(resp: DataRequest) -> ExecutorError:
    """The ExecutorError describing a failed response."""
    info = resp.header.error
    name = info.name if info else "Error"
    message = info.message if info else "unknown error"
    executor = info.executor if info else ""
    where = f"executor {executor!r}" if executor else "the Flow"
    err = ExecutorError(f"{where} raised {name}: {message}", executor=executor, exc_type=name,
                        exc_message=message, traceback=info.traceback if info else "")
    return err


def run_callbacks(resp: DataRequest, on_done: Callback | None, on_error: Callback | None,
                  on_always: Callback | None) -> ExecutorError | None:
    """Call the Jina-style callbacks for one response; return the error to raise, if any.

    ``on_error`` gets ``(response)`` or ``(response, exception)`` depending on how many
    positional arguments it takes.
    """
    error = None
    try:
        if resp.is_error:
            error = error_of(resp)
            if on_error is not None:
                call_with_error(on_error, resp, error)
                error = None
        elif on_done is not None:
            on_done(resp)
    finally:
        if on_always is not None:
            on_always(resp)
    return error
