"""The DocStore protocol: where a DocumentArray keeps its Documents, and the registry of backends.

A :class:`~shoal.document.array.DocumentArray` *has* a store; every list, indexing and
attribute operation of the array is expressed through the handful of methods below,
so a backend that implements them gets the whole DocumentArray API.

Backends register a factory by name (``register_storage('sqlite', factory)``);
``DocumentArray(storage='sqlite', config={...})`` calls ``factory(config)``. The
in-memory store lives here because it is the default; disk backends live in
``shoal.docstore`` and register themselves when ``shoal`` is imported. Third-party
backends can be published under the entry-point group ``shoal.storages``.
"""
from __future__ import annotations

from importlib import metadata
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence, runtime_checkable

from shoal.errors import DocumentNotFoundError, DuplicateIdError, InvalidConfigError, UnknownBackendError

from shoal.document.document import Document

__all__ = ["DocStore", "MemoryStore", "register_storage", "open_store", "storage_names"]


@runtime_checkable
class DocStore(Protocol):
    """Required methods of a document store.

    Positions are always normalized by the array: ``0 <= p < len(store)``, and lists of
    positions are sorted ascending and unique where the method says so. Ids are unique
    in a store: ``extend`` of an id that exists raises :class:`DuplicateIdError` (or
    replaces the old Document in place when the store is configured with
    ``on_duplicate='overwrite'``), and leaves the store unchanged on error.

    - ``__len__()`` / ``__contains__(doc_id)``.
    - ``get_at(positions)`` -> Documents at those positions, in the order asked.
    - ``get_by_ids(ids)`` -> Documents with those ids, in the order asked; raises
      :class:`DocumentNotFoundError` naming the first missing id.
    - ``position_of(doc_id)`` -> int, or :class:`DocumentNotFoundError`.
    - ``ids_at(positions)`` -> the ids at those positions (slow default: ``get_at``).
    - ``iter_docs()`` -> every Document in order (disk stores read in blocks).
    - ``extend(docs)`` -> append in order; one transaction per batch: all in or all out.
    - ``set_at(positions, docs)`` -> replace the Documents at those positions (a new
      Document may carry a new id; the ids of the replaced Documents are freed first,
      the resulting ids must be unique).
    - ``insert(position, doc)``, ``delete_at(positions)`` (sorted, unique), ``clear()``.
    - ``sync()`` writes back Documents that were fetched and changed in place (a no-op
      where Documents are held by reference, as in memory); ``close()``.

    Optional fast paths and extras, looked up with ``getattr`` by the array (absent =
    generic code, or a no-op):

    - ``find_vectors(queries, limit, metric, filter, **params) -> (scores (Q,k), positions
      (Q,k))``: exact or indexed vector search, pre-filtered, positions -1 padded (disk
      stores also take ``exact=True`` and ``block_size=``).
    - ``find_matches(queries, limit, metric, filter, metric_name, only_id, **params) ->
      list[list[Document]]``: the same search returning, per query, up to ``limit`` match
      Documents (copies, scores set: see ``shoal.document.compute.matches_of``), so a
      store can skip the position round trip.
    - ``filter_positions(filter) -> list[int]``: positions of the Documents passing a
      filter, evaluated in the backend (SQL, a tag column...).
    - ``read_snapshot()``: a context manager under which every read sees one committed
      state, so positions read first still name the same rows when another process
      writes meanwhile (a filter's positions, then ``get_at`` of them).
    - ``embeddings_at(positions | None) -> ndarray``: the embedding column as one matrix.
    - ``default_metric``: the metric ``find`` / ``match`` use when given none (a disk
      store's configured metric, which its ANN index is built for; cosine when absent).
    - ``update_docs(docs)``: write back Documents changed in place, by id.
    - ``reorder(order)``: permute positions (reverse / sort).
    - ``vacuum()``: reclaim space of deleted Documents; ``rebuild_index(**kw)``.
    """

    def __len__(self) -> int: ...
    def __contains__(self, doc_id: object) -> bool: ...
    def get_at(self, positions: Sequence[int]) -> list[Document]: ...
    def get_by_ids(self, ids: Sequence[str]) -> list[Document]: ...
    def position_of(self, doc_id: str) -> int: ...
    def ids_at(self, positions: Sequence[int]) -> list[str]: ...
    def iter_docs(self) -> Iterator[Document]: ...
    def extend(self, docs: Iterable[Document]) -> None: ...
    def set_at(self, positions: Sequence[int], docs: Sequence[Document]) -> None: ...
    def insert(self, position: int, doc: Document) -> None: ...
    def delete_at(self, positions: Sequence[int]) -> None: ...
    def clear(self) -> None: ...
    def sync(self) -> None: ...
    def close(self) -> None: ...


class MemoryStore:
    """The default store: a Python list of Documents plus a lazily built id -> position map.

    Documents are held by reference, so changing a fetched Document changes the array.
    Config ``on_duplicate``: ``'allow'`` (default, list semantics as in DocArray: ids may
    repeat, ``da[id]`` gives the last one added - flattened matches of many queries share
    ids), ``'error'`` or ``'overwrite'`` (replace in place, as the disk stores can).
    """

    persistent = False

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        config = dict(config or {})
        self.on_duplicate = config.pop("on_duplicate", "allow")
        if self.on_duplicate not in ("allow", "error", "overwrite"):
            raise InvalidConfigError(
                f"on_duplicate must be 'allow', 'error' or 'overwrite', got {self.on_duplicate!r}"
            )
        if config:
            raise InvalidConfigError(
                f"unknown config key(s) for storage 'memory': {sorted(config)}; "
                "the memory store only takes 'on_duplicate'"
            )
        self.docs: list[Document] = []
        self._pos: dict[str, int] | None = None  # built on first id lookup

    @classmethod
    def holding(cls, docs: list[Document]) -> MemoryStore:
        """A default-config store over ``docs`` (the list itself, not copied)."""
        store = cls.__new__(cls)
        store.on_duplicate = "allow"
        store.docs = docs
        store._pos = None
        return store

    # -- id map -------------------------------------------------------------------
    def _positions(self) -> dict[str, int]:
        if self._pos is None:
            self._pos = {d.id: i for i, d in enumerate(self.docs)}
        return self._pos

    def __len__(self) -> int:
        return len(self.docs)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._positions()

    def get_at(self, positions: Sequence[int]) -> list[Document]:
        docs = self.docs
        return [docs[p] for p in positions]

    def get_by_ids(self, ids: Sequence[str]) -> list[Document]:
        pos = self._positions()
        docs = self.docs
        try:
            return [docs[pos[i]] for i in ids]
        except KeyError as exc:
            raise DocumentNotFoundError(f"no Document with id {exc.args[0]!r} in this array") from None

    def position_of(self, doc_id: str) -> int:
        try:
            return self._positions()[doc_id]
        except KeyError:
            raise DocumentNotFoundError(f"no Document with id {doc_id!r} in this array") from None

    def ids_at(self, positions: Sequence[int]) -> list[str]:
        docs = self.docs
        return [docs[p].id for p in positions]

    def iter_docs(self) -> Iterator[Document]:
        return iter(self.docs)

    def extend(self, docs: Iterable[Document]) -> None:
        new = docs if isinstance(docs, list) else list(docs)
        if not new:
            return
        if self.on_duplicate == "allow":
            if self._pos is not None:
                start = len(self.docs)
                self._pos.update(zip([d.id for d in new], range(start, start + len(new))))
            self.docs.extend(new)
            return
        pos = self._positions()
        start = len(self.docs)
        new_ids = [d.id for d in new]
        new_pos = dict(zip(new_ids, range(start, start + len(new))))
        clash = len(new_pos) != len(new) or not pos.keys().isdisjoint(new_pos)
        if not clash:
            self.docs.extend(new)
            pos.update(new_pos)
            return
        if self.on_duplicate == "error":
            dup = _first_duplicate(new_ids, pos)
            raise DuplicateIdError(
                f"a Document with id {dup!r} is already in the array; set da[{dup!r}] = doc "
                "to replace it, or open the array with config={'on_duplicate': 'overwrite'}"
            )
        for d in new:  # overwrite: replace in place, append the rest
            p = pos.get(d.id)
            if p is None:
                pos[d.id] = len(self.docs)
                self.docs.append(d)
            else:
                self.docs[p] = d

    def set_at(self, positions: Sequence[int], docs: Sequence[Document]) -> None:
        old_ids = [self.docs[p].id for p in positions]
        new_ids = [d.id for d in docs]
        pos = self._positions() if self.on_duplicate != "allow" else {}
        freed = set(old_ids)
        seen: set[str] = set()
        for i in new_ids:
            if pos and (i in seen or (i in pos and i not in freed)):
                raise DuplicateIdError(
                    f"cannot set: a Document with id {i!r} is already in the array at another "
                    "position; delete it first or give the new Document another id"
                )
            seen.add(i)
        for p, d in zip(positions, docs):
            self.docs[p] = d
        if old_ids != new_ids:
            self._pos = None

    def insert(self, position: int, doc: Document) -> None:
        if self.on_duplicate != "allow" and doc.id in self._positions():
            raise DuplicateIdError(
                f"a Document with id {doc.id!r} is already in the array; give it a new id"
            )
        self.docs.insert(position, doc)
        self._pos = None

    def delete_at(self, positions: Sequence[int]) -> None:
        if len(positions) == 1:
            del self.docs[positions[0]]
        else:
            drop = set(positions)
            self.docs = [d for i, d in enumerate(self.docs) if i not in drop]
        self._pos = None

    def clear(self) -> None:
        self.docs = []
        self._pos = {}

    def reorder(self, order: Sequence[int]) -> None:
        """Permute the Documents: position i gets the Document at ``order[i]``."""
        self.docs = [self.docs[i] for i in order]
        self._pos = None

    def sync(self) -> None:
        """Nothing to do: Documents are held by reference."""

    def close(self) -> None:
        """Nothing to release."""

    def __getstate__(self) -> dict[str, Any]:
        return {"on_duplicate": self.on_duplicate, "docs": self.docs}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.on_duplicate = state["on_duplicate"]
        self.docs = state["docs"]
        self._pos = None


def _first_duplicate(ids: list[str], existing: dict[str, int]) -> str:
    seen: set[str] = set()
    for i in ids:
        if i in existing or i in seen:
            return i
        seen.add(i)
    return ids[0]


_REGISTRY: dict[str, Callable[[dict[str, Any]], Any]] = {"memory": MemoryStore}
#: backends known by name whose module registers them on import (lazy)
_LAZY = {"sqlite": "shoal.docstore", "lmdb": "shoal.docstore", "postgres": "shoal.docstore",
         "annlite": "shoal.docstore"}


def register_storage(name: str, factory: Callable[[dict[str, Any]], Any]) -> None:
    """Make ``DocumentArray(storage=name, config=...)`` build its store with ``factory(config)``."""
    _REGISTRY[name] = factory


def storage_names() -> list[str]:
    """Every storage name that can be opened."""
    return sorted(set(_REGISTRY) | set(_LAZY))


def open_store(storage: str, config: dict[str, Any] | None) -> Any:
    """Build the store registered as ``storage`` (importing its module or entry point lazily)."""
    if storage not in _REGISTRY:
        if storage in _LAZY:
            import importlib  # noqa: PLC0415

            importlib.import_module(_LAZY[storage])
        else:
            for ep in metadata.entry_points(group="shoal.storages"):
                if ep.name == storage:
                    register_storage(storage, ep.load())
    factory = _REGISTRY.get(storage)
    if factory is None:
        raise UnknownBackendError(
            f"unknown storage {storage!r}; use one of {', '.join(storage_names())}"
        )
    return factory(config or {})
