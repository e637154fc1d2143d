"""Merging DocumentArrays that took different paths: joins, ALL-polled shards.

``reduce_docs`` is DocArray's ``reduce_all``: documents are matched by id; the first
array's order is kept and unseen documents are appended; for a document present in
several arrays the non-empty fields of later ones are set on the first, and their
``chunks`` / ``matches`` are reduced recursively (so matches from every shard end up
on the query). ``rerank_matches`` then sorts a query's matches from several shards by
score, without dropping any.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

from shoal.document.score import score_names, score_value

if TYPE_CHECKING:
    from shoal.document.array import DocumentArray
    from shoal.document.document import Document

__all__ = ["reduce_docs", "reduce_doc", "rerank_matches", "merge_results"]

_NESTED = ("chunks", "matches")
#: score names whose value is a distance (smaller is better), as DocArray's ``match``.
_DISTANCES = frozenset({"cosine", "euclidean", "sqeuclidean", "jaccard", "distance",
                        "l2", "hamming", "manhattan"})


def _same(doc: Document) -> Document:
    return doc


def reduce_doc(into: Document, other: Document, take: Callable[[Document], Document] = _same
               ) -> None:
    """Set the non-empty fields of ``other`` on ``into``; reduce chunks and matches.

    ``take`` is applied to each Document of ``other`` that ``into`` takes in (a copy,
    when ``other`` must stay as it was).
    """
    fields = other.non_empty_fields
    for name in fields() if callable(fields) else fields:
        if name in _NESTED:
            mine = getattr(into, name)
            if len(mine):
                reduce_into(mine, getattr(other, name), take)
            elif take is _same:
                setattr(into, name, getattr(other, name))
            else:
                setattr(into, name, [take(d) for d in getattr(other, name)])
        elif name in ("tags", "scores", "evaluations"):
            getattr(into, name).update(getattr(other, name))
        elif name != "id":
            setattr(into, name, getattr(other, name))


def reduce_into(into: DocumentArray, other: Sequence[Document],
                take: Callable[[Document], Document] = _same) -> None:
    """Reduce ``other`` into ``into`` in place (by id; new ids appended, through ``take``)."""
    index = {d.id: d for d in into}
    for doc in other:
        found = index.get(doc.id)
        if found is None:
            doc = take(doc)
            into.append(doc)
            index[doc.id] = doc
        elif found is not doc:
            reduce_doc(found, doc, take)


def reduce_docs(arrays: Sequence[DocumentArray], copy: bool = False) -> DocumentArray:
    """One DocumentArray from several, merged by id.

    By default the first array and its Documents are reused (and changed); with
    ``copy=True`` no Document of ``arrays`` is changed, the result holding light copies
    (:func:`shoal.document.posting.copy_doc`) wherever it would have changed one.
    """
    from shoal.document.array import DocumentArray  # noqa: PLC0415

    if not arrays:
        return DocumentArray()
    take: Callable[[Document], Document] = _same
    first = arrays[0]
    if copy:
        from shoal.document.posting import copy_doc, copy_docs  # noqa: PLC0415

        take = copy_doc
        first = DocumentArray._holding(copy_docs(first))  # noqa: SLF001
    for other in arrays[1:]:
        reduce_into(first, other, take)
    return first


def _score_of(doc: Document, name: str) -> float | None:
    return score_value(doc._scores, name)  # noqa: SLF001 - avoid creating an empty map


def _ascending(name: str, parts: Sequence[Sequence[Document]]) -> bool:
    """Whether smaller is better: read from how the shards sorted, else from the name."""
    for part in parts:
        values = [v for v in (_score_of(m, name) for m in part) if v is not None]
        for a, b in zip(values, values[1:], strict=False):
            if a != b:
                return a < b
    return name in _DISTANCES


def _rank_key(name: str, asc: bool) -> Callable[[Document], float]:
    missing = float("inf") if asc else float("-inf")

    def key(m: Document) -> float:
        v = _score_of(m, name)
        return missing if v is None else v

    return key


def rerank_matches(docs: DocumentArray, limit: int | None = None,
                   parts: dict[str, list[Sequence[Document]]] | None = None) -> None:
    """Sort each document's matches by their first score (stable); keep ``limit`` if given.

    ``parts`` (doc id -> each shard's matches) restricts the work to those documents and
    tells the sort direction (how the shards sorted); without it the score name decides
    (distances ascending, similarities descending). Matches without scores keep their
    order. Nothing is cut unless ``limit`` is given.
    """
    for doc in docs:
        matches = doc._matches  # noqa: SLF001
        if not matches or (parts is not None and doc.id not in parts):
            continue
        name = next((n for m in matches for n in score_names(m._scores)), None)  # noqa: SLF001
        ranked = list(matches)
        if name is not None:
            asc = _ascending(name, (parts or {}).get(doc.id) or [matches])
            ranked.sort(key=_rank_key(name, asc), reverse=not asc)
        if limit is not None:
            ranked = ranked[:limit]
        doc.matches = ranked


def merge_results(target: dict[str, Any], sources: Sequence[dict[str, Any]]) -> None:
    """Merge the ``__results__`` of several parameter dicts into ``target``."""
    for src in sources:
        res = src.get("__results__")
        if res and src is not target:
            target.setdefault("__results__", {}).update(res)
