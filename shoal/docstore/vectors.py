"""Vector search over a store: exact on the column, or through the synced ANN index.

Shared by the backends: they supply the (position, label) pairs passing a filter, the
dead labels and a label -> position lookup; this module decides how to search and maps
labels back to positions.
"""
from __future__ import annotations

import functools
import os
from typing import Any, Callable, Sequence

import numpy as np

from shoal.errors import BadInputError, EmptyArrayError, StoreError
from shoal.document.codec import gc_paused
from shoal.document.compute import matches_of
from shoal.document.distance import as_matrix, canonical_metric
from shoal.document.document import Document
from shoal.indexes import available_indexes, search_keywords
from shoal.utils.pipeline import overlapped, shared

from shoal.docstore.column import VectorColumn, search_column

__all__ = ["find_vectors", "search_plan", "searcher", "find_matches", "FIND_CHUNK",
           "ColumnRewritten"]

#: queries per search chunk in find_matches (the worker's range in a shared pipeline;
#: the calling thread searches a quarter of it at a time): see find_matches
FIND_CHUNK = int(os.environ.get("SHOAL_FIND_CHUNK", "128"))


def find_vectors(queries: np.ndarray, limit: int, metric: str, *, meta: dict[str, Any],
                 column: VectorColumn, block_size: int, index: Any,
                 filtered: Sequence[tuple[int, int | None]] | np.ndarray | None,
                 dead: Callable[[], np.ndarray | None],
                 positions_of: Callable[[np.ndarray], np.ndarray],
                 params: dict[str, Any], exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(scores, positions) of the ``limit`` best Documents per query, -1 padded.

    ``filtered`` is None for an unfiltered search, else the (position, label) of every
    Document passing the filter (pre-filtering: the result holds up to ``limit`` of them):
    pairs with label None, or an (n, 2) int64 array with label -1, for no embedding.
    ``index`` (an :class:`~shoal.docstore.indexing.IndexSync` or None) answers when its
    metric is the one asked and neither ``params`` (``exact=True``) nor ``exact`` (a
    search inside a write transaction) asks for exact search.
    """
    metric, index, params = search_plan(metric, index, params, exact=exact)
    use_index = index is not None
    queries = as_matrix(queries, what="query vectors")
    q = queries.shape[0]
    if filtered is not None:
        if not len(filtered):
            return np.full((q, limit), np.nan, np.float32), np.full((q, limit), -1, np.int64)
        if isinstance(filtered, np.ndarray):
            arr, unembedded = filtered, bool(filtered[:, 1].min() < 0)
        else:
            unembedded = any(lab is None for _, lab in filtered)
            arr = None if unembedded else np.asarray(filtered, dtype=np.int64)
        if unembedded or arr is None:
            raise EmptyArrayError("some Documents passing the filter have no embedding; embed them first")
        arr = arr[np.argsort(arr[:, 1])]
        allowed = np.ascontiguousarray(arr[:, 1])
        res = index.search(queries, limit, allowed=allowed, **params) if use_index else None
        if res is None:
            res = search_column(column, queries, limit, metric, labels=allowed, block_size=block_size)
        scores, labels = res
        idx = np.searchsorted(allowed, np.maximum(labels, 0))
        return scores, np.where(labels >= 0, arr[np.minimum(idx, len(arr) - 1), 0], -1)
    run, _, _ = searcher(limit, metric, meta=meta, column=column, block_size=block_size,
                         index=index if use_index else None, dead=dead, params=params)
    scores, labels = run(queries)
    return scores, positions_of(labels)


def search_plan(metric: str, index: Any, params: dict[str, Any], *, exact: bool = False
                ) -> tuple[str, Any, dict[str, Any]]:
    """(canonical metric, the index to ask or None, its search params): the index answers
    when its metric is the one asked and neither ``params`` (``exact=True``) nor the caller
    (``exact``: a search inside a write transaction) asks for exact search; exact search
    over the column takes no params (those given are for the index, and dropped). A
    parameter the store's index (any index, for a store without one) does not take is a
    BadInputError, however the search runs."""
    metric = canonical_metric(metric)
    params = dict(params)
    exact = bool(params.pop("exact", False)) or exact
    known = search_keywords(index.kind) if index is not None else _any_index_keywords()
    unknown = set(params) - known
    if unknown:
        what = f"this store's {index.kind!r} index" if index is not None else \
            "any index (this store has none: its searches are exact)"
        raise BadInputError(
            f"unknown search parameter(s) {sorted(unknown)} for {what}; it takes "
            f"{sorted(known)} (and exact=True for exact search)")
    if index is None or exact or index.metric != metric:
        return metric, None, {}
    return metric, index, params


@functools.lru_cache(maxsize=1)
def _any_index_keywords() -> frozenset[str]:
    """The search parameters of every registered index backend."""
    out: set[str] = set()
    for name in available_indexes():
        try:
            out |= search_keywords(name)
        except Exception:  # noqa: BLE001 - a backend whose library is missing takes none
            continue
    return frozenset(out)


def searcher(limit: int, metric: str, *, meta: dict[str, Any], column: VectorColumn,
             block_size: int, index: Any, dead: Callable[[], np.ndarray | None],
             params: dict[str, Any], one_thread: bool = False
             ) -> tuple[Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], bool, bool]:
    """``(queries -> (scores, labels) over every live vector, single-threaded)``: the
    checks, the index catching up and the dead labels read happen here, once, so the
    function returned touches only the index or the column (safe to run in another
    thread, GIL released).

    ``index`` is an :class:`~shoal.docstore.indexing.IndexSync` (its metric is ``metric``)
    or None for exact search over the column. With ``one_thread``, an index that takes
    ``num_threads`` per call (``threads_per_call``) is asked to use one thread, unless
    ``params`` says otherwise; the first bool returned tells whether it was, the second
    whether the ANN index answers (False: exact search over the column, which needs the
    store lock held while it runs)."""
    m = meta
    if m["count"] == 0:
        raise EmptyArrayError("cannot search an empty array; add Documents first")
    if m["vec_rows"] - m["n_dead"] != m["count"]:
        raise EmptyArrayError(
            f"{m['count'] - (m['vec_rows'] - m['n_dead'])} of {m['count']} Documents have no "
            "embedding; embed all of them (or search with a filter selecting those that have one)")
    ann = index.ready(m) if index is not None else None
    if ann is not None:
        single = one_thread and getattr(ann, "threads_per_call", False) and "num_threads" not in params
        if single:
            params = {**params, "num_threads": 1}
        return (lambda queries: ann.search(queries, limit, **params)), single, True
    gone = dead() if m["n_dead"] else None
    return (lambda queries: search_column(column, queries, limit, metric, dead=gone,
                                          block_size=block_size)), False, False


class ColumnRewritten(Exception):
    """The store's vector column was rewritten (a new epoch) since a search began: the
    labels it found name rows of the old column (raised by ``_match_docs_of_labels`` given
    the search's epoch; the search runs again)."""


#: searches of a find that see the column rewritten before this many tries give up
_TRIES = 3


def find_matches(store: Any, queries: np.ndarray, limit: int, metric: str, filter: dict | None,
                 metric_name: str | None, only_id: bool, block_size: int | None,
                 params: dict[str, Any], chunk: int = FIND_CHUNK) -> list[list[Document]]:
    """A disk store's ``find_matches`` (see the DocStore protocol): per query, the match
    Documents with scores.

    A filtered search goes through the store's ``find_vectors`` and ``get_at``
    (positions), in one ``read_snapshot`` (other processes' writes cannot shift the
    positions in between). An unfiltered one hands the vector labels found straight to
    ``store._match_docs_of_labels(sorted unique labels) -> (docs, fresh)`` (see
    :func:`~shoal.document.compute.matches_of`), chunk by chunk: a search of ``chunk``
    queries runs in a worker thread while the Documents of another are read (an index
    that can search single-threaded is run so by both threads, see
    :func:`~shoal.utils.pipeline.shared`; else one multi-threaded search runs ahead, see
    :func:`~shoal.utils.pipeline.overlapped`).

    Searches of several threads run in parallel: the store's lock (``store._lock``, the
    one its writes take) is held to plan the search (counters, the index caught up) and
    to read the Documents found, not during the native ANN search, which the index's own
    readers-writer lock guards against concurrent adds. A write landing in between is
    handled: a query that found a Document deleted or re-embedded since
    (``_match_docs_of_labels`` gives None for labels freed since) is searched again under
    the lock (:func:`_search_again`), so it still gets ``limit`` live matches; a column
    rewritten since (vacuum, clear, a new dimension: labels renumbered;
    ``_match_docs_of_labels(labels, epoch)`` raises :class:`ColumnRewritten` when the
    column is no longer at ``epoch``) makes the whole search run again. Exact search over
    the column (no ANN index) and filtered search keep the lock throughout. The store also
    provides ``_index``, ``_meta()``, ``column``, ``config.block_size`` and
    ``dead_labels(None)``."""
    name = metric_name or metric
    if filter is not None:  # one snapshot: the filter's positions name the rows read
        with store.read_snapshot():
            scores, positions = store.find_vectors(queries, limit, metric, filter, block_size,
                                                   **params)
            return matches_of(scores, positions, lambda ps: (store.get_at(ps), None), name,
                              only_id)
    metric, index, params = search_plan(  # in a write transaction: exact (see in_write_transaction)
        metric, store._index, params, exact=store.in_write_transaction)
    if not (type(queries) is np.ndarray and queries.dtype == np.float32 and queries.ndim == 2):
        queries = as_matrix(queries, what="query vectors")  # (DocumentArray.find checked its own)
    for _ in range(_TRIES):
        try:
            return _find_unfiltered(store, queries, limit, metric, name, only_id,
                                    block_size, index, params, chunk)
        except ColumnRewritten:
            continue
    raise StoreError(
        f"the store's vector column was rewritten (vacuum / clear / new dimension) during "
        f"each of {_TRIES} tries of this search; search again when the rewriting has ended")


def _find_unfiltered(store: Any, queries: np.ndarray, limit: int, metric: str, name: str,
                     only_id: bool, block_size: int | None, index: Any,
                     params: dict[str, Any], chunk: int) -> list[list[Document]]:
    """One try of an unfiltered :func:`find_matches` (raises ColumnRewritten to try again)."""
    lock = store._lock
    lock.acquire()
    held = True
    try:
        def plan(one_thread: bool, meta: dict[str, Any] | None = None
                 ) -> tuple[Callable[[np.ndarray], Any], bool, bool]:
            return searcher(limit, metric, meta=store._meta() if meta is None else meta, column=store.column,
                            block_size=block_size or store.config.block_size, index=index,
                            dead=lambda: store.dead_labels(None), params=params,
                            one_thread=one_thread)

        meta = store._meta()
        run, single, unlocked = plan(len(queries) > chunk // 4, meta)
        epoch = meta["epoch"]

        def rewritten() -> bool:  # under the lock
            return unlocked and store._meta()["epoch"] != epoch

        def fetch(labels: list[int]) -> tuple[list[Document | None], list[bool]]:
            return store._match_docs_of_labels(labels, epoch if unlocked else None)

        def consume(found: tuple[tuple[np.ndarray, np.ndarray], np.ndarray]
                    ) -> list[list[Document]]:
            (scores, labels), part = found
            with lock:
                try:
                    out = matches_of(scores, labels, fetch, name, only_id)
                    if unlocked and sum(map(len, out)) < np.count_nonzero(labels >= 0):
                        _search_again(out, labels, part, plan, fetch, name, only_id)
                    return out
                except ColumnRewritten:
                    raise
                except Exception:
                    if rewritten():  # the labels found name rows of an older column
                        raise ColumnRewritten from None
                    raise

        def search(part: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
            try:
                return run(part), part
            except Exception:
                if unlocked:  # e.g. refine reading a column file that vacuum just removed
                    with lock:
                        if rewritten():
                            raise ColumnRewritten from None
                raise

        if unlocked:  # an ANN search: let other threads search (and write) meanwhile
            lock.release()
            held = False
        with gc_paused():  # see gc_paused
            if single:
                parts = shared(queries, search, consume, big=chunk, small=max(1, chunk // 4))
            else:
                parts = overlapped([queries[i:i + chunk] for i in range(0, len(queries), chunk)],
                                   search, consume)
    finally:
        if held:
            lock.release()
    return parts[0] if len(parts) == 1 else [r for p in parts for r in p]


def _search_again(out: list[list[Document]], labels: np.ndarray, queries: np.ndarray,
                  plan: Callable[[bool], Any], fetch: Callable[[list[int]], Any], name: str,
                  only_id: bool) -> None:
    """Replace in ``out`` the matches of each query that lost some to a write landing
    after its ANN search (a Document deleted or re-embedded: its label freed) by a new
    search, so that it still gets ``limit`` live matches. Runs under the store lock: the
    index is caught up with the write first and no other write lands meanwhile. Kept
    short when the store cannot be searched any more (emptied, or holding Documents
    without an embedding)."""
    found = (labels >= 0).sum(axis=1).tolist()
    short = [i for i, (ms, n) in enumerate(zip(out, found)) if len(ms) < n]
    try:
        run, _, _ = plan(False)
    except EmptyArrayError:
        return
    scores, again = run(queries[short])
    for i, matches in zip(short, matches_of(scores, again, fetch, name, only_id)):
        out[i] = matches
