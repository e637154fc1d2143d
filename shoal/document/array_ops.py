"""DocArray 0.21's batching, reducing, traversal, loading and evaluation helpers of
``DocumentArray``: ``batch_ids``, ``apply_batch``, ``reduce`` / ``reduce_all``,
``traverse`` / ``traverse_flat_per_path``, ``dataloader``, ``embed_and_evaluate`` and
``get_vocabulary``. The array's methods are thin wrappers over these functions.
"""
from __future__ import annotations

import itertools
import os
import random
from collections import Counter, deque
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from shoal.errors import BadInputError, EmptyArrayError

from shoal.document.document import Document
from shoal.document.selectors import leaves, parse_paths

if TYPE_CHECKING:  # pragma: no cover
    from shoal.document.array import DocumentArray

__all__ = ["batch_ids", "apply_batch", "stream_map", "reduce", "reduce_all", "traverse",
           "traverse_flat_per_path", "dataloader",
           "embed_and_evaluate", "get_vocabulary"]


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise BadInputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


# --- batching ---------------------------------------------------------------------------

def batch_ids(da: DocumentArray, batch_size: int, shuffle: bool = False) -> Iterator[list[str]]:
    """Lists of ``batch_size`` ids in array order (shuffled with ``shuffle``); the last
    list may be shorter. Ids are read from the store without loading Documents."""
    size = _positive_int(batch_size, "batch_size")
    ids = list(da._store.ids_at(list(range(len(da)))))
    if shuffle:
        random.shuffle(ids)

    def gen() -> Iterator[list[str]]:
        for start in range(0, len(ids), size):
            yield ids[start:start + size]

    return gen()


def stream_map(func: Callable[[Any], Any], items: Iterable[Any], backend: str = "thread",
               num_worker: int | None = None, pool: Any = None) -> Iterator[Any]:
    """Yield ``func(item)`` in input order, computed in a thread or process pool (or the
    caller's ``pool``: a ``multiprocessing`` pool or a ``concurrent.futures`` executor,
    left open). ``items`` is consumed lazily: at most ``2 * workers`` are in flight."""
    if pool is not None:
        if hasattr(pool, "imap"):
            yield from pool.imap(func, items)
        else:
            yield from _windowed(pool, func, items, 2 * (num_worker or os.cpu_count() or 1))
        return
    if backend not in ("thread", "process"):
        raise BadInputError(f"backend must be 'thread' or 'process', got {backend!r}")
    if num_worker is not None:
        _positive_int(num_worker, "num_worker")
    workers = num_worker or os.cpu_count() or 1
    pool_cls = ThreadPoolExecutor if backend == "thread" else ProcessPoolExecutor
    with pool_cls(max_workers=workers) as executor:
        yield from _windowed(executor, func, items, 2 * workers)


def _windowed(executor: Any, func: Callable[[Any], Any], items: Iterable[Any],
              window: int) -> Iterator[Any]:
    pending: deque = deque()
    for item in items:
        pending.append(executor.submit(func, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def apply_batch(da: DocumentArray, func: Callable[[DocumentArray], Any], batch_size: int,
                backend: str = "thread", num_worker: int | None = None, shuffle: bool = False,
                show_progress: bool = False, pool: Any = None) -> DocumentArray:
    """Run ``func`` on batches of ``da`` and write each returned batch back by id (as
    DocArray's ``self[ids] = batch``); ``func`` returning None means it changed the batch
    in place (thread backend). Returns ``da``."""
    from shoal.utils.progress import progress  # noqa: PLC0415

    size = _positive_int(batch_size, "batch_size")
    with progress(total=len(da), desc="apply_batch", unit="doc", enabled=show_progress) as bar:
        batches = da.batch(size, shuffle=shuffle)
        sent: deque = deque()

        def tracked() -> Iterator[DocumentArray]:
            for b in batches:
                sent.append(b)
                yield b

        for result in stream_map(func, tracked(), backend, num_worker, pool):
            given = sent.popleft()
            docs = list(given if result is None else _as_docs(result, "apply_batch's func"))
            if docs:
                positions = [da._store.position_of(d.id) for d in docs]
                da._on_add(docs)
                da._store.set_at(positions, docs)
            bar.update(len(given))
    return da


def _as_docs(value: Any, what: str) -> Sequence[Document]:
    from shoal.document.array import DocumentArray  # noqa: PLC0415

    if isinstance(value, DocumentArray):
        return list(value)
    if isinstance(value, (list, tuple)) and all(isinstance(d, Document) for d in value):
        return value
    raise BadInputError(
        f"{what} must return a DocumentArray (or a list of Documents, or None after changing "
        f"the batch in place), got {type(value).__name__}")


# --- reduce ----------------------------------------------------------------------------

_NOT_REDUCED = frozenset({"matches", "chunks", "id", "parent_id"})


def _reduce_doc(doc1: Document, doc2: Document) -> None:
    """Fill ``doc1``'s empty data fields from ``doc2`` (``doc1`` wins), then reduce their
    matches and chunks by id, recursively."""
    for field in set(doc2.non_empty_fields) - set(doc1.non_empty_fields) - _NOT_REDUCED:
        setattr(doc1, field, getattr(doc2, field))
    if doc2._matches:
        reduce(doc1.matches, doc2.matches)
    if doc2._chunks:
        reduce(doc1.chunks, doc2.chunks)


def reduce(da: DocumentArray, other: Iterable[Document]) -> DocumentArray:
    """Merge ``other`` into ``da`` in place, as DocArray's ``reduce``: a Document whose id
    is new is appended; one whose id is in ``da`` fills the empty fields of ``da``'s
    Document, and their matches and chunks are reduced the same way. Returns ``da``."""
    from shoal.document.array import DocumentArray  # noqa: PLC0415

    if isinstance(other, Document) or not isinstance(other, (DocumentArray, list, tuple)):
        raise BadInputError(
            f"reduce takes a DocumentArray (or a list of Documents), got {type(other).__name__}")
    other = list(other)
    if not all(isinstance(d, Document) for d in other):
        raise BadInputError("reduce takes Documents only")
    store = da._store
    known = [d.id for d in other if d.id in store]
    existing: dict[str, Document] = {}
    if known:
        for d in store.get_by_ids(list(dict.fromkeys(known))):
            existing[d.id] = d
    new: dict[str, Document] = {}
    for doc in other:
        target = existing.get(doc.id)
        if target is None:
            target = new.get(doc.id)
        if target is None:
            new[doc.id] = doc
        else:
            _reduce_doc(target, doc)
    da._write_back(list(existing.values()))
    if new:
        da.extend(list(new.values()))
    return da


def reduce_all(da: DocumentArray, others: Iterable[Iterable[Document]]) -> DocumentArray:
    """:func:`reduce` ``da`` with each of ``others`` in turn (the left-most wins)."""
    from shoal.document.array import DocumentArray  # noqa: PLC0415

    if isinstance(others, DocumentArray):
        raise BadInputError("reduce_all takes a list of DocumentArrays; use reduce for one")
    for other in others:
        reduce(da, other)
    return da


# --- traverse ---------------------------------------------------------------------------

def _checked_paths(traversal_paths: str, filter_fn: Any) -> list[Any]:
    """The parsed paths (checked now, not at the first ``next()``); a ``filter_fn`` that
    is not a function is a BadInputError."""
    paths = parse_paths(traversal_paths)
    if filter_fn is not None and not callable(filter_fn):
        raise BadInputError(f"filter_fn must be a function Document -> bool, got {filter_fn!r}")
    return paths


def traverse(da: DocumentArray, traversal_paths: str,
             filter_fn: Callable[[Document], bool] | None = None) -> Iterator[DocumentArray]:
    """One DocumentArray per leaf sequence the paths reach (DocArray's ``traverse``): for
    ``'c'`` one per root Document (its chunks, empty when it has none), for ``'r'`` the
    roots; ``filter_fn`` keeps the Documents it returns True for."""
    from shoal.document.array import DocumentArray  # noqa: PLC0415

    paths = _checked_paths(traversal_paths, filter_fn)

    def gen() -> Iterator[DocumentArray]:
        roots = list(da)
        for steps in paths:
            for leaf in leaves(roots, steps, filter_fn):
                yield DocumentArray._holding(list(leaf))

    return gen()


def traverse_flat_per_path(da: DocumentArray, traversal_paths: str,
                           filter_fn: Callable[[Document], bool] | None = None
                           ) -> Iterator[DocumentArray]:
    """One flat DocumentArray per comma-separated path of ``traversal_paths``."""
    from shoal.document.array import DocumentArray  # noqa: PLC0415

    paths = _checked_paths(traversal_paths, filter_fn)

    def gen() -> Iterator[DocumentArray]:
        roots = list(da)
        for steps in paths:
            yield DocumentArray._holding(
                list(itertools.chain.from_iterable(leaves(roots, steps, filter_fn))))

    return gen()


def traverse_flat(da: DocumentArray, traversal_paths: str,
                  filter_fn: Callable[[Document], bool] | None = None) -> DocumentArray:
    """Every Document the paths reach, in one array."""
    from shoal.document.array import DocumentArray  # noqa: PLC0415

    return DocumentArray._holding(list(itertools.chain.from_iterable(
        traverse_flat_per_path(da, traversal_paths, filter_fn))))


# --- dataloader ---------------------------------------------------------------------------

def dataloader(cls: type, path: Any, func: Callable[[DocumentArray], Any], batch_size: int,
               protocol: str = "protobuf", compress: str | None = None, backend: str = "thread",
               num_worker: int | None = None, pool: Any = None,
               show_progress: bool = False) -> Iterator[Any]:
    """Stream the file at ``path`` (written by ``save`` or DocArray's ``save_binary``) in
    arrays of ``batch_size`` and yield ``func(batch)`` for each, in order, computed in a
    pool; memory stays bounded by the batches in flight."""
    size = _positive_int(batch_size, "batch_size")
    if not callable(func):
        raise BadInputError(f"func must be a function DocumentArray -> anything, got {func!r}")
    batches = cls.load(path, batch_size=size, protocol=protocol, compress=compress,
                       show_progress=show_progress)
    return stream_map(func, batches, backend, num_worker, pool)


# --- embed and evaluate -----------------------------------------------------------------------

def _pair(value: Any) -> tuple[Any, Any]:
    return value if isinstance(value, tuple) else (value, value)


def embed_and_evaluate(
        da: DocumentArray, metrics: Sequence[str | Callable[..., float]] | str,
        index_data: DocumentArray | None = None, ground_truth: DocumentArray | None = None,
        metric_names: Sequence[str] | None = None, strict: bool = True,
        label_tag: str = "label", embed_models: Any = None, embed_funcs: Any = None,
        device: str = "cpu", batch_size: int | tuple[int, int] = 256, collate_fns: Any = None,
        distance: str | Callable[..., Any] = "cosine", limit: int | float | None = 20,
        normalization: tuple[float, float] | None = None, exclude_self: bool = False,
        use_scipy: bool = False, num_worker: int = 1, match_batch_size: int = 100_000,
        query_sample_size: int | None = 1_000, **kwargs: Any) -> dict[str, float]:
    """DocArray 0.21's ``embed_and_evaluate``: embed ``da`` (and ``index_data``), match
    them (``index_data`` in blocks of ``match_batch_size``, fused per query) and
    :meth:`evaluate` against ``ground_truth`` or ``label_tag`` labels. Queries are
    sampled down to ``query_sample_size``."""
    from shoal.document.array import DocumentArray  # noqa: PLC0415

    if len(da) == 0:
        raise EmptyArrayError("cannot evaluate an empty DocumentArray; add query Documents")
    if isinstance(metrics, str):
        metrics = [metrics]
    match_batch_size = _positive_int(match_batch_size, "match_batch_size")
    if not query_sample_size:
        query_sample_size = len(da)
    query_sample_size = _positive_int(query_sample_size, "query_sample_size")
    only_one = not index_data
    sampled = len(da) > query_sample_size
    if embed_funcs is None and embed_models is None:
        raise BadInputError(
            "embed_and_evaluate needs embed_models= (one or a pair) or embed_funcs= (a "
            "function DocumentArray -> None that sets embeddings, or a pair)")
    two_sided = isinstance(embed_funcs, tuple) or (embed_funcs is None and isinstance(embed_models, tuple))
    if only_one:
        index_data = DocumentArray(da, copy=True) if (sampled or two_sided) else da
    query_data = da.sample(query_sample_size) if sampled else da

    if ground_truth and sampled:
        ground_truth = DocumentArray([ground_truth[d.id] for d in query_data if d.id in ground_truth])
        if len(ground_truth) != len(query_data):
            raise BadInputError(
                "ground_truth does not hold a Document for every query Document (by id)")
    index_labels: dict[str, Any] | None = None
    if not ground_truth:
        if label_tag not in query_data[0].tags:
            raise BadInputError(
                f"give ground_truth= or label the Documents with tags[{label_tag!r}] "
                "(label_tag=) to evaluate")
        if label_tag not in index_data[0].tags:
            raise BadInputError(f"the index_data Documents miss labels (tags[{label_tag!r}])")
        index_labels = {}
        for d in index_data:
            if label_tag not in d.tags:
                raise BadInputError(f"index Document {d.id!r} has no tags[{label_tag!r}]")
            index_labels[d.id] = d.tags[label_tag]

    sizes, collates = _pair(batch_size), _pair(collate_fns)

    def embedder(side: int) -> Callable[[DocumentArray], None]:
        if embed_funcs is not None:
            return _pair(embed_funcs)[side]
        model = _pair(embed_models)[side]
        return lambda b: b.embed(model, batch_size=sizes[side], device=device,
                                 collate_fn=collates[side])

    embedder(0)(query_data)
    query_emb = query_data.embeddings
    if query_emb is None:
        raise EmptyArrayError("the query embedding left the Documents without embeddings")
    query_ids = query_data._store.ids_at(list(range(len(query_data))))
    local = DocumentArray._holding([Document(id=i, embedding=e) for i, e in zip(query_ids, query_emb)])
    name = distance if isinstance(distance, str) else getattr(distance, "__name__", "custom")
    sign = -1.0 if isinstance(distance, str) and _higher_is_better(distance) else 1.0
    best: list[list[tuple[float, Document]]] = [[] for _ in query_ids]
    limit_n = None if limit is None else int(limit)
    for batch in index_data.batch(match_batch_size):
        emb = batch.embeddings
        embedded_here = sampled or emb is None or float(np.asarray(emb[0]).reshape(-1)[0]) == 0
        if embedded_here:
            embedder(1)(batch)
        local.match(batch, metric=distance, limit=limit, exclude_self=exclude_self, only_id=True,
                    metric_name=name if isinstance(distance, str) else None,
                    normalization=normalization, use_scipy=use_scipy, num_worker=num_worker,
                    device=device)
        for row, q in zip(best, local):
            row.extend((sign * m.scores[name].value, m) for m in q.matches)
            row.sort(key=lambda t: t[0])  # stable: earlier blocks win ties, as in DocArray
            if limit_n is not None:
                del row[limit_n:]
        if embedded_here and index_data.storage == "memory":
            batch.embeddings = None  # DocArray frees the vectors it computed per block
    queries = list(query_data)
    for q, row in zip(queries, best):
        ms = [m for _, m in row]
        if index_labels is not None:
            for m in ms:
                m.tags = {label_tag: index_labels[m.id]}
        q.matches = ms
    query_data._write_back(queries)

    num_rel = None
    if not (ground_truth and ground_truth[0].matches) and label_tag in index_data[0].tags:
        num_rel = dict(Counter(d.tags[label_tag] for d in index_data))
        if only_one and exclude_self:
            num_rel = {k: v - 1 for k, v in num_rel.items()}
    result = query_data.evaluate(metrics=metrics, ground_truth=ground_truth,
                                 metric_names=metric_names, strict=strict, label_tag=label_tag,
                                 num_relevant_documents_per_label=num_rel, **kwargs)
    if sampled and da.storage != "memory":
        da._write_back(list(query_data))
    return result


def _higher_is_better(metric: str) -> bool:
    from shoal.document.distance import higher_is_better  # noqa: PLC0415

    return higher_is_better(metric)


# --- vocabulary --------------------------------------------------------------------------

def get_vocabulary(da: DocumentArray, min_freq: int = 1,
                   text_attrs: tuple[str, ...] = ("text",)) -> dict[str, int]:
    """Word -> index over the ``text_attrs`` of every Document (words seen at least
    ``min_freq`` times, in first-seen order); indices start at 2: 0 is padding, 1 unknown."""
    if isinstance(text_attrs, str):
        text_attrs = (text_attrs,)
    if isinstance(min_freq, bool) or not isinstance(min_freq, (int, np.integer)):
        raise BadInputError(f"min_freq must be an integer, got {min_freq!r}")
    counts: Counter = Counter()
    for d in da:
        counts.update(d.get_vocabulary(text_attrs=text_attrs))
    return {w: i for i, w in enumerate((w for w, c in counts.items() if c >= min_freq), start=2)}
