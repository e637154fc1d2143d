"""What ``Flow.post`` and ``Client.post`` share: inputs into requests, and callbacks.

Turning ``post(inputs=...)`` into requests of ``request_size`` Documents:

``inputs`` may be a Document, a DocumentArray, a list (or any iterable) of Documents
or of values a Document accepts (text, dicts), a generator, a function returning any
of these, an async generator (or async iterable), or None — which sends one request
without Documents. ``request_size <= 0`` puts everything into one request (Jina).
An empty list or DocumentArray sends one request without Documents, as Jina's
``batch_iterator`` does (so ``post('/index', inputs=[])`` still calls the executors); an
empty generator sends nothing.

``copy_inputs=True`` (what ``Flow.post`` asks for) sends light copies of the Documents
(see :func:`copy_docs`), so an in-process executor never changes the caller's inputs.
"""
from __future__ import annotations

import inspect
from typing import Any, AsyncIterator, Callable, Iterable, Iterator

from shoal.document.array import ChunkArray, DocumentArray, MatchArray
from shoal.document.document import Document
from shoal.document.request import DataRequest
from shoal.document.score import NamedScore, NamedScoreMap
from shoal.errors import BadInputError

__all__ = ["RequestFactory", "is_async_inputs", "call_with_error", "flatten_responses",
           "check_post_keywords", "POST_NO_EFFECT", "CrudShortcuts", "Callback", "copy_doc", "copy_docs"]

Callback = Callable[..., Any]
_new = Document.__new__


def _copy_scores(raw: Any) -> Any:
    if type(raw) is not NamedScoreMap or not raw:  # None, empty, or an immutable pair
        return raw
    out = NamedScoreMap()
    for name, s in raw.items():
        dict.__setitem__(out, name, NamedScore(s.value, s.op_type, s.description, s.ref_id))
    return out


def copy_doc(d: Document) -> Document:
    """A light copy of ``d``: its own tags, scores, location and (recursively) chunks and
    matches; the content and embedding values (strings, bytes, arrays) are shared."""
    n = _new(Document)
    n._id = d._id  # noqa: SLF001 - one attribute store per slot is what keeps this cheap
    n.parent_id = d.parent_id
    n.granularity = d.granularity
    n.adjacency = d.adjacency
    n._text = d._text  # noqa: SLF001
    n._blob = d._blob  # noqa: SLF001
    n._tensor = d._tensor  # noqa: SLF001
    n._embedding = d._embedding  # noqa: SLF001
    n.uri = d.uri
    n.mime_type = d.mime_type
    tags = d._tags  # noqa: SLF001
    n._tags = None if tags is None else dict(tags)  # noqa: SLF001
    n.modality = d.modality
    n.offset = d.offset
    loc = d.location
    n.location = list(loc) if type(loc) is list else loc
    n.weight = d.weight
    # the rest is usually empty at post time: test inline, call only when there is work
    chunks, matches, scores, evals = d._chunks, d._matches, d._scores, d._evaluations  # noqa: SLF001
    n._chunks = ChunkArray(copy_docs(chunks), owner=n) if chunks else None  # noqa: SLF001
    n._matches = MatchArray(copy_docs(matches), owner=n) if matches else None  # noqa: SLF001
    n._scores = _copy_scores(scores) if scores else scores  # noqa: SLF001
    n._evaluations = _copy_scores(evals) if evals else evals  # noqa: SLF001
    return n


def copy_docs(docs: Iterable[Document]) -> list[Document]:
    """:func:`copy_doc` of each Document."""
    return [copy_doc(d) for d in docs]


def _resolve(inputs: Any) -> Any:
    if callable(inputs) and not isinstance(inputs, (Document, DocumentArray)):
        inputs = inputs()
    return inputs


def is_async_inputs(inputs: Any) -> bool:
    """True for an async generator / iterable (or a function returning one)."""
    if inspect.isasyncgenfunction(inputs):
        return True
    return hasattr(inputs, "__aiter__")


def _as_doc(value: Any) -> Document:
    return value if isinstance(value, Document) else Document(value)


def _as_doc_copy(value: Any) -> Document:
    return copy_doc(value) if isinstance(value, Document) else Document(value)


class RequestFactory:
    """Builds the DataRequests of one ``post`` (endpoint, parameters, target shared)."""

    def __init__(self, on: str, parameters: dict | None, request_size: int,
                 target_executor: str | None, timeout_ms: int = 0, *,
                 copy_inputs: bool = False) -> None:
        if not isinstance(request_size, int) or isinstance(request_size, bool):
            raise BadInputError(f"request_size={request_size!r} must be an int")
        if parameters is not None and not isinstance(parameters, dict):
            raise BadInputError(f"parameters must be a dict, not {type(parameters).__name__}")
        self.on = on or "/"
        self.parameters = parameters
        self.request_size = request_size if request_size > 0 else 0
        self.target = target_executor or ""
        self.timeout_ms = timeout_ms
        self._as_doc = _as_doc_copy if copy_inputs else _as_doc

    def make(self, docs: Any = None) -> DataRequest:
        """One request over ``docs`` (taken as they are)."""
        req = DataRequest(docs, endpoint=self.on, parameters=self.parameters,
                          target_executor=self.target)
        req.header.timeout_ms = self.timeout_ms
        return req

    def _whole(self, docs: DocumentArray) -> DocumentArray:
        if self._as_doc is _as_doc:
            return docs
        return DocumentArray._holding(copy_docs(docs))  # noqa: SLF001

    def iter_sync(self, inputs: Any) -> Iterator[DataRequest]:
        """Requests for sync ``inputs`` (see the module docstring)."""
        inputs = _resolve(inputs)
        if inputs is None:
            yield self.make()
            return
        if isinstance(inputs, Document):
            yield self.make([self._as_doc(inputs)])
            return
        if isinstance(inputs, (str, bytes, dict)):
            yield self.make([Document(inputs)])
            return
        if not isinstance(inputs, Iterable):
            raise BadInputError(
                f"inputs= must be a Document, an iterable of Documents, a generator or a "
                f"function returning one, not {type(inputs).__name__}")
        size = self.request_size
        if isinstance(inputs, DocumentArray) and (not size or len(inputs) <= size):
            yield self.make(self._whole(inputs) if len(inputs) else None)
            return
        if hasattr(inputs, "__len__") and not len(inputs):  # Jina: one empty request
            yield self.make()
            return
        batch: list[Document] = []
        for value in inputs:
            batch.append(self._as_doc(value))
            if size and len(batch) >= size:
                yield self.make(batch)
                batch = []
        if batch:
            yield self.make(batch)

    async def iter_async(self, inputs: Any) -> AsyncIterator[DataRequest]:
        """Requests for sync or async ``inputs``."""
        inputs = _resolve(inputs)
        if not hasattr(inputs, "__aiter__"):
            for req in self.iter_sync(inputs):
                yield req
            return
        size = self.request_size
        batch: list[Document] = []
        async for value in inputs:
            batch.append(self._as_doc(value))
            if size and len(batch) >= size:
                yield self.make(batch)
                batch = []
        if batch:
            yield self.make(batch)


def call_with_error(cb: Callback, resp: DataRequest, exc: BaseException | None) -> None:
    """``cb(resp, exc)`` if the callback takes two positional arguments, else ``cb(resp)``
    (Jina's ``on_error`` comes in both shapes)."""
    try:
        params = list(inspect.signature(cb).parameters.values())
        two = any(p.kind is p.VAR_POSITIONAL for p in params) or sum(
            p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params) >= 2
    except (TypeError, ValueError):  # builtins such as print
        two = False
    if two:
        cb(resp, exc)
    else:
        cb(resp)


#: Jina ``post`` keywords accepted without effect here (gRPC backoff tuning, compression,
#: call metadata, DocArray-v2 return types).
POST_NO_EFFECT = frozenset({"initial_backoff", "max_backoff", "backoff_multiplier",
                            "compression", "metadata", "return_type", "send_callback"})


def check_post_keywords(caller: str, kwargs: dict[str, Any], known: Iterable[str]) -> None:
    """BadInputError for a ``post`` keyword that would be ignored (with the close spelling);
    Jina's no-effect ones pass."""
    import difflib  # noqa: PLC0415

    for key in kwargs:
        if key in POST_NO_EFFECT:
            continue
        close = difflib.get_close_matches(key, [*known, *POST_NO_EFFECT], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise BadInputError(f"{caller}: unknown keyword {key!r}{hint} (it takes "
                            f"{', '.join(sorted(known))})")


def flatten_responses(responses: list[DataRequest]) -> DocumentArray:
    """All Documents of all responses, in order, as one array (what ``post`` returns)."""
    if len(responses) == 1:
        return responses[0].docs
    out = DocumentArray()
    for resp in responses:
        out.extend(resp.docs)
    return out


class CrudShortcuts:
    """``index`` / ``search`` / ``update`` / ``delete``: ``post`` to the endpoint of that name."""

    def post(self, on: str, inputs: Any = None, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    def index(self, inputs: Any = None, **kwargs: Any) -> Any:
        return self.post("/index", inputs, **kwargs)

    def search(self, inputs: Any = None, **kwargs: Any) -> Any:
        return self.post("/search", inputs, **kwargs)

    def update(self, inputs: Any = None, **kwargs: Any) -> Any:
        return self.post("/update", inputs, **kwargs)

    def delete(self, inputs: Any = None, **kwargs: Any) -> Any:
        return self.post("/delete", inputs, **kwargs)
