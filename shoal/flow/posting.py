"""``post`` helpers shared by Flow and Deployment: batching inputs, callbacks, errors."""
from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from shoal.errors import BadInputError, ExecutorError

if TYPE_CHECKING:
    from shoal.document.request import DataRequest

__all__ = ["iter_requests", "run_callbacks", "error_of", "Callback"]

Callback = Callable[..., Any]


def _as_iterable(inputs: Any) -> Iterable[Any] | None:
    from shoal.document.array import DocumentArray  # noqa: PLC0415
    from shoal.document.document import Document  # noqa: PLC0415

    if inputs is None:
        return None
    if callable(inputs) and not isinstance(inputs, (Document, DocumentArray)):
        inputs = inputs()
    if isinstance(inputs, Document):
        return [inputs]
    if isinstance(inputs, (str, bytes, dict)):
        return [Document(inputs)]
    if isinstance(inputs, Iterable):
        return inputs
    raise BadInputError(f"inputs= must be a Document, an iterable of Documents, a generator "
                        f"or a function returning one, not {type(inputs).__name__}")


def _doc(value: Any) -> Any:
    from shoal.document.document import Document  # noqa: PLC0415

    return value if isinstance(value, Document) else Document(value)


def iter_requests(on: str, inputs: Any, parameters: dict | None, request_size: int,
                  target_executor: str | None = None) -> Iterator[DataRequest]:
    """Yield the requests of one ``post``: ``None`` inputs give one empty request,
    anything else is cut into requests of ``request_size`` documents (Jina semantics:
    an empty iterable sends nothing)."""
    from shoal.document.array import DocumentArray  # noqa: PLC0415
    from shoal.document.request import DataRequest  # noqa: PLC0415

    if not isinstance(request_size, int) or request_size < 1:
        raise BadInputError(f"request_size={request_size!r} must be an int >= 1")
    endpoint = on or "/"
    target = target_executor or ""
    docs = _as_iterable(inputs)
    if docs is None:
        yield DataRequest(endpoint=endpoint, parameters=parameters, target_executor=target)
        return
    if isinstance(docs, DocumentArray) and len(docs) <= request_size:
        if len(docs):
            yield DataRequest(DocumentArray(list(docs)), endpoint=endpoint,
                              parameters=parameters, target_executor=target)
        return
    batch: list[Any] = []
    for value in docs:
        batch.append(_doc(value))
        if len(batch) >= request_size:
            yield DataRequest(DocumentArray(batch), endpoint=endpoint, parameters=parameters,
                              target_executor=target)
            batch = []
    if batch:
        yield DataRequest(DocumentArray(batch), endpoint=endpoint, parameters=parameters,
                          target_executor=target)


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


def _call(cb: Callback, resp: DataRequest, exc: BaseException | None) -> None:
    try:
        sig = inspect.signature(cb)
        params = list(sig.parameters.values())
        two = any(p.kind is p.VAR_POSITIONAL for p in params) or len(
            [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]) >= 2
    except (TypeError, ValueError):  # builtins such as print
        two = False
    if two:
        cb(resp, exc)
    else:
        cb(resp)


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
                _call(on_error, resp, error)
                error = None
        elif on_done is not None:
            on_done(resp)
    finally:
        if on_always is not None:
            on_always(resp)
    return error
