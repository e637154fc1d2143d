"""Which Documents were handed out by a disk store, so in-place changes can be written back.

Documents read from disk are copies. The tracker keeps each one (by id) with the
stored row it was decoded from; :meth:`FetchTracker.changed` re-encodes them and returns
the ones that differ, which the store writes back on ``sync()`` / ``close()``. While a
Document is tracked, reading the same id again returns the *same object* (so
``da[0].text = 'x'; da[0].text`` sees the change), unless the stored row changed under it
(another process wrote it), in which case the fresh copy replaces it.

At most ``capacity`` Documents are tracked; when that is exceeded the store syncs and
the tracker starts over, so iterating a store larger than RAM stays bounded.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Iterable, NamedTuple, Sequence, TypeVar

import numpy as np

from shoal.document.document import Document
from shoal.errors import EmptyArrayError

from shoal.docstore.rows import IN_BLOB, Row, column_vector, decode, decode_rows, encode, set_embeddings

__all__ = ["FetchTracker", "Stored", "hint_unsaved_embeddings", "materialize", "materialize_one",
           "fresh_documents", "attach_embeddings", "match_documents"]


#: Stored embeddings read at once by ``FetchTracker.changed``.
_COMPARE_BLOCK = 4096


class Stored(NamedTuple):
    """What a tracked Document was decoded from."""

    blob: bytes
    text: str | None
    tags: str | None
    label: int | None


class FetchTracker:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._docs: dict[str, tuple[Document, Stored]] = {}

    def __len__(self) -> int:
        return len(self._docs)

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def lookup(self, doc_id: str, stored: Stored) -> Document | None:
        """The tracked Document for ``doc_id`` if the store still holds ``stored`` for it."""
        hit = self._docs.get(doc_id)
        if hit is None:
            return None
        if hit[1] != stored:
            del self._docs[doc_id]
            return None
        return hit[0]

    def add(self, doc: Document, stored: Stored) -> None:
        if self.capacity > 0:
            self._docs[doc._id] = (doc, stored)

    def full(self) -> bool:
        return self.capacity > 0 and len(self._docs) > self.capacity

    def forget(self, ids: Iterable[str]) -> None:
        for i in ids:
            self._docs.pop(i, None)

    def clear(self) -> None:
        self._docs.clear()

    def changed(self, vectors_at: Callable[[np.ndarray], np.ndarray]
                ) -> list[tuple[str, Document, Row]]:
        """(id it was read with, Document, its new row) for every tracked Document changed since it was read.

        ``vectors_at(labels)`` gives the stored column rows the Documents' embeddings are
        compared against, all in one read (one round trip to a remote column). A Document
        whose id was changed in place counts as changed (it is written back under the id
        it was read with, see the stores).
        """
        out: list[tuple[str, Document, Row]] = []
        compare: list[tuple[str, Document, Row, int]] = []  # same but for the embedding
        for doc_id, (doc, st) in self._docs.items():
            row = encode(doc)
            blob, text, tags, label = st
            same = doc._id == doc_id and row.blob == blob and row.text == text and row.tags == tags
            if same and not row.in_blob:
                if label is None:
                    same = row.vector is None
                elif row.vector is not None:
                    compare.append((doc_id, doc, row, label))
                    continue
                else:
                    same = False
            if not same:
                out.append((doc_id, doc, row))
        for start in range(0, len(compare), _COMPARE_BLOCK):  # bounded memory
            part = compare[start:start + _COMPARE_BLOCK]
            stored = vectors_at(np.array([c[3] for c in part], dtype=np.int64))
            out.extend((doc_id, doc, row) for (doc_id, doc, row, _), vec
                       in zip(part, stored) if not np.array_equal(row.vector, vec))
        return out

    def unsaved_embeddings(self) -> int:
        """How many tracked Documents were given an embedding in place that is not saved
        (their stored row has no vector in the column, their new row would have one)."""
        return sum(1 for d, st in self._docs.values()
                   if st[3] is None and column_vector(d._embedding)[0] is not None)

    def ids(self) -> list[str]:
        return list(self._docs)

    def entries(self) -> list[tuple[str, Document, Stored]]:
        return [(i, d, s) for i, (d, s) in self._docs.items()]


F = TypeVar("F", bound=Callable[..., Any])


def hint_unsaved_embeddings(method: F) -> F:
    """Wrap a store's search method: when it finds Documents without an embedding and some
    Documents fetched from the store were given one in place but not saved (e.g. ``for d
    in da: d.embedding = ...`` without ``da.sync()``), the error says so and what to do."""
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except EmptyArrayError as exc:
            with self._lock:
                n = self.tracker.unsaved_embeddings()
            if not n:
                raise
            raise EmptyArrayError(
                f"{exc}. {n} Documents read from this store were given an embedding in place "
                "that is not saved yet: call da.sync() first (a change made in place is saved "
                "by da.sync(), da.close() or the end of a `with da:` block)") from None
    return wrapper  # type: ignore[return-value]


def materialize(rows: Iterable[tuple], tracker: Any, column: Any,
                refresh: Callable[[], Any], fresh: list[bool] | None = None) -> list[Document]:
    """Documents of stored rows ``(id, label, flags, text, tags, blob)``.

    A Document the ``tracker`` holds for an unchanged row is returned as is (the same
    object); others are decoded, get their embedding from the vector ``column`` and are
    tracked. ``refresh()`` brings the column up to the committed row count when a label
    is past what it knows (another process wrote since).

    With a ``fresh`` list (search results, handed out as copies), decoded Documents are
    not tracked and ``fresh`` gets, per Document, whether it is a new object the caller
    owns (True) or the tracked one, possibly changed in place and not yet synced (False).
    """
    docs: list[Document] = []
    need: list[tuple[Document, int]] = []
    tracking = tracker.capacity > 0
    track = tracking and fresh is None
    for doc_id, label, flags, txt, tags, blob in rows:
        st = (blob, txt, tags, label)  # a plain tuple equal to Stored(...): cheaper per read
        d = tracker.lookup(doc_id, st) if tracking else None
        if d is None:
            d = decode(blob, txt, tags, doc_id)
            if label is not None and not flags & IN_BLOB:
                need.append((d, label))
            if track:
                tracker.add(d, st)
            elif fresh is not None:
                fresh.append(True)
        elif fresh is not None:
            fresh.append(False)
        docs.append(d)
    if need:
        top = need[0][1] if len(need) == 1 else max(lab for _, lab in need)
        if top >= column.rows:
            refresh()
        if len(need) == 1:
            need[0][0]._embedding = column.row(need[0][1])
        else:
            m = column.take(np.fromiter((lab for _, lab in need), np.int64, len(need)))
            for (d, _), v in zip(need, m):
                d._embedding = v
    return docs


def materialize_one(doc_id: str, row: tuple, tracker: FetchTracker, column: Any,
                    refresh: Callable[[], Any]) -> Document:
    """:func:`materialize` of one stored row ``(label, flags, text, tags, blob)`` of
    ``doc_id``, tracked: the ``da[id]`` path, without the lists.

    The tracked Document when the tracker holds one for this unchanged row, else a newly
    decoded one (embedding read from the ``column``), tracked when the tracker is enabled."""
    label, flags, txt, tags, blob = row
    st = (blob, txt, tags, label)
    held = tracker._docs
    hit = held.get(doc_id)
    if hit is not None:
        if hit[1] == st:
            return hit[0]
        del held[doc_id]  # the stored row changed under it (another writer): read it again
    d = decode(blob, txt, tags, doc_id)
    if label is not None and not flags & IN_BLOB:
        if label >= column.rows:
            refresh()
        d._embedding = column.row(label)
    if tracker.capacity > 0:
        held[doc_id] = (d, st)
    return d


def fresh_documents(rows: Sequence[tuple], column: Any, refresh: Callable[[], Any]) -> list[Document]:
    """New, untracked Documents of stored rows ``(id, label, flags, text, tags, blob)`` with
    their column embeddings read in one ``take``: the read path of search results when no
    Document is tracked (nothing handed out can have changed in place)."""
    docs, labels, want = decode_rows(rows)
    if want:
        attach_embeddings(docs, want, np.asarray(labels, dtype=np.int64)[want], column, refresh)
    return docs


def attach_embeddings(docs: list[Document], want: list[int], labels: np.ndarray, column: Any,
                      refresh: Callable[[], Any], ascending: bool = False) -> None:
    """Give ``docs[want[j]]`` the column row of ``labels[j]``, read in one ``take``;
    ``refresh()`` first when a label is past the rows the column knows (another process
    wrote since). ``ascending``: the labels are sorted (the last is the largest)."""
    if (labels[-1] if ascending else labels.max()) >= column.rows:
        refresh()
    set_embeddings(docs, want, column.take(labels))


def match_documents(rows: Sequence[tuple], tracker: FetchTracker, column: Any,
                    refresh: Callable[[], Any]) -> tuple[list[Document], list[bool]]:
    """The Documents of stored rows ``(id, label, flags, text, tags, blob)`` found by a
    search, and which are new objects the caller owns (``fetch`` of
    :func:`~shoal.document.compute.matches_of`).

    With nothing tracked, every one is decoded fresh (:func:`fresh_documents`); else a
    Document handed out earlier may have been changed in place and not synced yet, so the
    tracked one is returned (the search sees the change, see :func:`materialize`)."""
    if len(tracker):
        fresh: list[bool] = []
        return materialize(rows, tracker, column, refresh, fresh), fresh
    docs = fresh_documents(rows, column, refresh)
    return docs, [True] * len(docs)


def spread(docs: list[Document], fresh: list[bool], keep: list[int] | None,
           n: int) -> tuple[list[Document | None], list[bool]]:
    """``(docs, fresh)`` of the labels at ``keep`` laid out over all ``n`` labels asked
    for, None (not fresh) at the others: labels freed since the search that found them.
    ``keep`` None: every label has its Document, returned as is."""
    if keep is None:
        return docs, fresh
    out: list[Document | None] = [None] * n
    new = [False] * n
    for i, d, f in zip(keep, docs, fresh):
        out[i], new[i] = d, f
    return out, new
