"""DocumentArray: a list of Documents with bulk attributes, traversal, search and I/O.

The array *has* a store (:mod:`shoal.document.store`): in memory by default, or on
disk with ``DocumentArray(storage='sqlite' | 'lmdb', config=...)`` - the same API.
"""
from __future__ import annotations

import contextlib

import random
import weakref
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from shoal.errors import (
    BadInputError, DimensionMismatchError, DocumentNotFoundError, EmptyArrayError,
)
from shoal.document.distance import as_matrix, canonical_metric

from shoal.document import compute, evaluation
from shoal.document.document import FIELDS, Document, _is_tensor
from shoal.document.docarray_kwargs import normalize_scores, split_docarray_kwargs
from shoal.document.filters import compile_filter
from shoal.document.selectors import traverse
from shoal.document.store import MemoryStore, open_store

__all__ = ["DocumentArray", "ChunkArray", "MatchArray"]

_BULK = {"texts": "text", "blobs": "blob", "ids": "id", "uris": "uri",
         "contents": "content", "tags": "tags"}
_set_attr = object.__setattr__


class DocumentArray:
    """A list-like container of Documents.

    ``DocumentArray()``, ``DocumentArray([d1, d2])``, ``DocumentArray(generator)``,
    ``DocumentArray.empty(10)``, or on disk:
    ``DocumentArray(storage='sqlite', config={'connection': 'data.db'})``.

    Index with an int, slice, id, list of ids or ints, a boolean mask, a traversal path
    (``da['@c']``), or ``da[:, 'text']`` for an attribute column.
    """

    __slots__ = ("_store", "__weakref__", "__dict__")

    def __init__(self, docs: Any = None, storage: str = "memory",
                 config: dict[str, Any] | None = None, *, copy: bool = False,
                 show_progress: bool = False) -> None:
        self._store = MemoryStore(config) if storage == "memory" else open_store(storage, config)
        if docs is not None:
            if isinstance(docs, Document):
                docs = [docs]
            elif isinstance(docs, DocumentArray) and copy:
                docs = [d.copy() for d in docs]
            if storage == "memory":
                self._extend_memory(docs)
            else:
                self.extend(docs, show_progress=show_progress)

    def _extend_memory(self, docs: Iterable[Any]) -> None:
        if not isinstance(docs, list):
            docs = list(docs)
        if docs and not all(type(d) is Document for d in docs):
            docs = [_as_document(d) for d in docs]
        self._on_add(docs)
        self._store.extend(docs)

    @classmethod
    def _holding(cls, docs: list[Document]) -> DocumentArray:
        """An in-memory array over ``docs``, a list of Documents taken as is (no checks)."""
        da = cls.__new__(cls)
        _set_attr(da, "_store", MemoryStore.holding(docs))  # not the bulk-attribute __setattr__
        return da

    @classmethod
    def empty(cls, size: int = 0, **kwargs: Any) -> DocumentArray:
        """An array of ``size`` empty Documents."""
        return cls((Document() for _ in range(size)), **kwargs)

    @property
    def storage(self) -> str:
        """The storage backend's name."""
        return getattr(self._store, "name", "memory")

    # --- hooks for chunk / match arrays --------------------------------------------
    def _on_add(self, docs: Sequence[Document]) -> None:
        """Called with Documents about to be added (sets parent links in subclasses)."""

    # --- size and iteration ------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._store)

    def __iter__(self) -> Iterator[Document]:
        return self._store.iter_docs()

    def __bool__(self) -> bool:
        return len(self._store) > 0

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Document):
            return item.id in self._store
        return item in self._store

    def __repr__(self) -> str:
        if getattr(self._store, "closed", False):
            return f"<DocumentArray (closed {self.storage} store) at {id(self)}>"
        return f"<DocumentArray (length={len(self)}) at {id(self)}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DocumentArray):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None

    def __add__(self, other: Iterable[Document]) -> DocumentArray:
        out = DocumentArray(list(self))
        out.extend(other)
        return out

    def __iadd__(self, other: Iterable[Document]) -> DocumentArray:
        self.extend(other)
        return self

    # --- positions ------------------------------------------------------------------
    def _norm(self, i: int) -> int:
        n = len(self._store)
        j = int(i) + n if i < 0 else int(i)
        if not 0 <= j < n:
            raise DocumentNotFoundError(f"index {i} is out of range for an array of length {n}")
        return j

    def _positions(self, key: Any) -> list[int]:
        """Positions selected by a slice, a list of ints / ids, or a boolean mask."""
        n = len(self._store)
        if isinstance(key, slice):
            return list(range(*key.indices(n)))
        if isinstance(key, np.ndarray) and key.dtype == bool or (
            isinstance(key, (list, tuple)) and key and all(isinstance(k, (bool, np.bool_)) for k in key)
        ):
            mask = np.asarray(key, dtype=bool)
            if mask.shape != (n,):
                raise BadInputError(
                    f"a boolean mask must have one entry per Document ({n}), got {mask.shape[0]}"
                )
            return np.flatnonzero(mask).tolist()
        if isinstance(key, np.ndarray):
            key = key.tolist()
        if (isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], (str, list))
                and not isinstance(key[0], (str, int, np.integer))):
            raise BadInputError(  # da[:, 'colour']: a field selector with a name that is none
                f"unknown Document field in da[..., {key[1]!r}]; fields are "
                f"{', '.join(sorted(_FIELD_NAMES))}, or 'tags__<key>' for a tag")
        if isinstance(key, (list, tuple, range)):
            return [self._store.position_of(k) if isinstance(k, str) else self._norm(k)
                    for k in key]
        raise BadInputError(
            f"cannot index a DocumentArray with {type(key).__name__}; use an int, slice, id, "
            "list of ids or ints, a boolean mask, a traversal path like '@c' or (key, 'field')"
        )

    # --- get -----------------------------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, np.integer)):
            return self._store.get_at([self._norm(key)])[0]
        if isinstance(key, str):
            if key.startswith("@"):
                return DocumentArray(self._traversed(key))
            return self._store.get_by_ids([key])[0]
        if key is Ellipsis:
            return self.flatten()
        if _is_attribute_key(key):
            return self._get_attributes(key[0], key[1])
        if isinstance(key, (list, tuple)) and key and all(isinstance(k, str) for k in key):
            return DocumentArray(self._store.get_by_ids(list(key)))
        return DocumentArray(self._store.get_at(self._positions(key)))

    def _select_docs(self, key: Any) -> list[Document]:
        if isinstance(key, (int, np.integer)):
            return self._store.get_at([self._norm(key)])
        if isinstance(key, str):
            return self._traversed(key) if key.startswith("@") else self._store.get_by_ids([key])
        if key is Ellipsis:
            return self._flat_docs()
        return self._store.get_at(self._positions(key))

    def _traversed(self, selector: str) -> list[Document]:
        """The Documents an ``'@...'`` selector reaches (DocArray's ``'@.[title]'``
        multimodal paths too)."""
        return traverse(self, selector)

    def _get_attributes(self, key: Any, fields: str | Sequence[str]) -> Any:
        docs = self._select_docs(key)
        single = isinstance(key, (int, np.integer)) or (isinstance(key, str) and not key.startswith("@"))
        if isinstance(fields, str):
            values = [_get_field(d, fields) for d in docs]
            return values[0] if single else _stacked(values, fields)
        columns = [[_get_field(d, f) for d in docs] for f in fields]
        return [c[0] for c in columns] if single else [_stacked(c, f) for c, f in zip(columns, fields)]

    # --- set -----------------------------------------------------------------------------
    def __setitem__(self, key: Any, value: Any) -> None:
        if _is_attribute_key(key):
            self._set_attributes(key[0], key[1], value)
            return
        if isinstance(key, (int, np.integer)):
            doc = _as_document(value)
            self._on_add([doc])
            self._store.set_at([self._norm(key)], [doc])
            return
        if isinstance(key, str) and not key.startswith("@"):
            doc = _as_document(value)
            self._on_add([doc])
            self._store.set_at([self._store.position_of(key)], [doc])
            return
        positions = self._positions(key)
        docs = [_as_document(v) for v in value]
        if len(docs) != len(positions):
            raise BadInputError(
                f"cannot set {len(docs)} Documents into {len(positions)} positions; give one each"
            )
        self._on_add(docs)
        self._store.set_at(positions, docs)

    def _set_attributes(self, key: Any, fields: str | Sequence[str], values: Any) -> None:
        docs = self._select_docs(key)
        single = isinstance(key, (int, np.integer)) or (isinstance(key, str) and not key.startswith("@"))
        if isinstance(fields, str):
            fields, values = [fields], [values]
        columns = []
        for field, column in zip(fields, values):
            if single:
                column = [column]
            elif field == "embedding" and not isinstance(column, list):
                column = _rows(column, len(docs))
            column = list(column)
            if len(column) != len(docs):
                raise BadInputError(
                    f"got {len(column)} values for {field!r} but {len(docs)} Documents were "
                    "selected; give one value per Document"
                )
            columns.append((field, column))
        # a disk store may refuse the values (NaN, another dimension...): then the Documents
        # it handed out get their old values back, so nothing is left to fail on sync
        before = None if isinstance(self._store, MemoryStore) else [
            (field, [_get_field(d, field) for d in docs]) for field, _ in columns]
        for field, column in columns:
            for d, v in zip(docs, column):
                _set_field(d, field, v)
        try:
            self._write_back(docs)
        except BaseException:
            for field, column in before or ():
                for d, v in zip(docs, column):
                    _set_field(d, field, v)
            raise

    # --- delete --------------------------------------------------------------------------
    def __delitem__(self, key: Any) -> None:
        if isinstance(key, (int, np.integer)):
            positions = [self._norm(key)]
        elif isinstance(key, str):
            positions = [self._store.position_of(key)]
        elif key is Ellipsis:
            self.clear()
            return
        else:
            positions = sorted(set(self._positions(key)))
        if positions:
            self._store.delete_at(positions)

    # --- list protocol --------------------------------------------------------------------
    def append(self, doc: Document) -> None:
        """Add one Document at the end."""
        doc = _as_document(doc)
        self._on_add([doc])
        self._store.extend([doc])

    def extend(self, docs: Iterable[Any], *, batch_size: int = 10_000,
               show_progress: bool = False) -> None:
        """Add Documents at the end; an iterable is streamed in batches (one transaction each)."""
        if isinstance(docs, Document):
            docs = [docs]
        if isinstance(self._store, MemoryStore) and not show_progress:
            self._extend_memory(docs)
            return
        from shoal.utils.progress import progress  # noqa: PLC0415

        total = len(docs) if hasattr(docs, "__len__") else None
        with progress(total=total, desc="extend", unit="doc", enabled=show_progress) as bar:
            for batch in _chunked(docs, batch_size):
                batch = [_as_document(d) for d in batch]
                self._on_add(batch)
                self._store.extend(batch)
                bar.update(len(batch))

    def insert(self, index: int, doc: Document) -> None:
        """Insert a Document before position ``index``."""
        doc = _as_document(doc)
        n = len(self._store)
        pos = max(0, min(n, index + n if index < 0 else index))
        self._on_add([doc])
        self._store.insert(pos, doc)

    def pop(self, index: int | str = -1) -> Document:
        """Remove and return the Document at ``index`` (or with that id)."""
        pos = self._store.position_of(index) if isinstance(index, str) else self._norm(index)
        doc = self._store.get_at([pos])[0]
        self._store.delete_at([pos])
        return doc

    def remove(self, doc: Document | str) -> None:
        """Remove the Document (or the one with that id)."""
        del self[doc.id if isinstance(doc, Document) else doc]

    def index(self, doc: Document | str) -> int:
        """Position of the Document (or id)."""
        return self._store.position_of(doc.id if isinstance(doc, Document) else doc)

    def count(self, doc: Document) -> int:
        return sum(1 for d in self if d == doc)

    def clear(self) -> None:
        """Remove every Document."""
        self._store.clear()

    def reverse(self) -> None:
        """Reverse in place."""
        self._reorder(list(range(len(self) - 1, -1, -1)))

    def sort(self, key: Callable[[Document], Any] | None = None, reverse: bool = False) -> None:
        """Sort in place by ``key(doc)``."""
        docs = list(self)
        order = sorted(range(len(docs)), key=(lambda i: key(docs[i])) if key else None,
                       reverse=reverse)
        self._reorder(order)

    def _reorder(self, order: list[int]) -> None:
        reorder = getattr(self._store, "reorder", None)
        if reorder is not None:
            reorder(order)
            return
        docs = self._store.get_at(order)
        self._store.set_at(list(range(len(order))), docs)

    # --- bulk attributes -------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        field = _BULK.get(name)
        if field is None:
            raise AttributeError(f"'DocumentArray' object has no attribute {name!r}")
        return [getattr(d, field) for d in self]

    def __setattr__(self, name: str, value: Any) -> None:
        field = _BULK.get(name)
        if field is None:
            object.__setattr__(self, name, value)
            return
        self._set_attributes(slice(None), field, value)

    @property
    def embeddings(self) -> np.ndarray | None:
        """All embeddings as one (N, D) matrix, or None when no Document has one."""
        fast = getattr(self._store, "embeddings_at", None)
        if fast is not None:
            return fast(None)
        return _stack_embeddings([d._embedding for d in self])

    @embeddings.setter
    def embeddings(self, value: Any) -> None:
        self._set_attributes(slice(None), "embedding", value)

    @property
    def tensors(self) -> Any:
        """All tensors stacked along a new first axis (numpy or torch, as they are), as
        DocArray's ``da.tensors``: None when no Document has one, a list when the first
        has none but others do."""
        return _unravel([d.tensor for d in self], "tensor")

    @tensors.setter
    def tensors(self, value: Any) -> None:
        self._set_attributes(slice(None), "tensor", value)

    def _embedding_matrix(self, positions: np.ndarray | None) -> np.ndarray:
        """The float32 (N, D) matrix of embeddings at ``positions`` (all if None)."""
        fast = getattr(self._store, "embeddings_at", None)
        if fast is not None:
            matrix = fast(positions)
        else:
            docs = self._store.get_at(positions.tolist()) if positions is not None else list(self)
            matrix = _stack_embeddings([d._embedding for d in docs])
        if matrix is None:
            raise EmptyArrayError(
                "the array has no embeddings to search; call .embed(model) or set .embeddings first"
            )
        return as_matrix(matrix, what="embeddings", allow_empty=True)

    def _filter_positions(self, filter: dict) -> list[int]:
        fast = getattr(self._store, "filter_positions", None)
        if fast is not None:
            return fast(filter)
        pred = compile_filter(filter)
        return [i for i, d in enumerate(self) if pred(d)]

    def _write_back(self, docs: Sequence[Document]) -> None:
        """Persist Documents changed in place (nothing to do for an in-memory array)."""
        if isinstance(self._store, MemoryStore) or not docs:
            return
        update = getattr(self._store, "update_docs", None)
        if update is not None:
            update(list(docs))
            return
        self._store.set_at([self._store.position_of(d.id) for d in docs], list(docs))

    # --- traversal ----------------------------------------------------------------------------
    def traverse_flat(self, traversal_paths: str,
                      filter_fn: Callable[[Document], bool] | None = None) -> DocumentArray:
        """Documents reached by a traversal path (``'r'``, ``'c'``, ``'cm'``, ``'r,c'``,
        ``'r.[title]'``...), kept where ``filter_fn(doc)`` is True when given."""
        if filter_fn is not None:
            from shoal.document import array_ops  # noqa: PLC0415

            return array_ops.traverse_flat(self, traversal_paths, filter_fn)
        return DocumentArray(traverse(self, traversal_paths))

    def traverse(self, traversal_paths: str,
                 filter_fn: Callable[[Document], bool] | None = None) -> Iterator[DocumentArray]:
        """DocArray's ``traverse``: one array per leaf sequence the paths reach (``'c'``:
        each root's chunks, one array per root), filtered by ``filter_fn``."""
        from shoal.document import array_ops  # noqa: PLC0415

        return array_ops.traverse(self, traversal_paths, filter_fn)

    def traverse_flat_per_path(self, traversal_paths: str,
                               filter_fn: Callable[[Document], bool] | None = None
                               ) -> Iterator[DocumentArray]:
        """One flat array per comma-separated path (``'r,c'``: the roots, then all chunks)."""
        from shoal.document import array_ops  # noqa: PLC0415

        return array_ops.traverse_flat_per_path(self, traversal_paths, filter_fn)

    def flatten(self) -> DocumentArray:
        """Every Document at every level in one array, as DocArray orders it: a Document's
        chunks, then its matches (each recursively), then the Document itself."""
        return DocumentArray._holding(self._flat_docs())

    def _flat_docs(self) -> list[Document]:
        out: list[Document] = []
        visited: set[str] = set()
        # (doc, expanded): a Document is emitted after its children, which are expanded
        # once per id (DocArray's visited set), so a cycle of ids cannot loop forever
        stack = [(d, False) for d in reversed(list(self))]
        while stack:
            d, expanded = stack.pop()
            if expanded or d.id in visited:
                out.append(d)
                continue
            visited.add(d.id)
            stack.append((d, True))
            for children in (d._matches, d._chunks):
                if children:
                    stack.extend((c, False) for c in reversed(list(children)))
        return out

    # --- batching and parallel work -----------------------------------------------------------
    def batch(self, batch_size: int, shuffle: bool = False,
              show_progress: bool = False) -> Iterator[DocumentArray]:
        """Yield consecutive arrays of ``batch_size`` Documents (the last may be shorter)."""
        if batch_size <= 0:
            raise BadInputError(f"batch_size must be positive, got {batch_size}")
        n = len(self)
        order = list(range(n))
        if shuffle:
            random.shuffle(order)
        from shoal.utils.progress import progress  # noqa: PLC0415

        with progress(total=n, desc="batch", unit="doc", enabled=show_progress) as bar:
            for start in range(0, n, batch_size):
                part = order[start:start + batch_size]
                yield DocumentArray(self._store.get_at(part))
                bar.update(len(part))

    def apply(self, func: Callable[[Document], Document | None], backend: str = "thread",
              num_worker: int | None = None, show_progress: bool = False) -> DocumentArray:
        """Apply ``func`` to every Document in place (``func`` may return a new Document)."""
        results = list(self.map(func, backend, num_worker, show_progress))
        docs = list(self)
        new = [r if isinstance(r, Document) else d for d, r in zip(docs, results)]
        self._store.set_at(list(range(len(new))), new)
        return self

    def map(self, func: Callable[[Document], Any], backend: str = "thread",
            num_worker: int | None = None, show_progress: bool = False) -> Iterator[Any]:
        """Yield ``func(doc)`` for every Document, computed in a thread or process pool."""
        from shoal.document.parallel import pool_map  # noqa: PLC0415

        return pool_map(func, list(self), backend, num_worker, show_progress)

    def map_batch(self, func: Callable[[DocumentArray], Any], batch_size: int,
                  backend: str = "thread", num_worker: int | None = None,
                  show_progress: bool = False) -> Iterator[Any]:
        """Yield ``func(batch)`` for batches of ``batch_size``, in a pool."""
        from shoal.document.parallel import pool_map  # noqa: PLC0415

        return pool_map(func, list(self.batch(batch_size)), backend, num_worker, show_progress)

    def batch_ids(self, batch_size: int, shuffle: bool = False) -> Iterator[list[str]]:
        """Yield lists of ``batch_size`` ids (the last may be shorter), read without
        loading the Documents."""
        from shoal.document import array_ops  # noqa: PLC0415

        return array_ops.batch_ids(self, batch_size, shuffle)

    def apply_batch(self, func: Callable[[DocumentArray], Any], batch_size: int,
                    backend: str = "thread", num_worker: int | None = None,
                    shuffle: bool = False, show_progress: bool = False,
                    pool: Any = None) -> DocumentArray:
        """Apply ``func`` to batches of ``batch_size`` in a pool; the DocumentArray it
        returns (or the batch, when it returns None) is written back by id. Returns self."""
        from shoal.document import array_ops  # noqa: PLC0415

        return array_ops.apply_batch(self, func, batch_size, backend, num_worker, shuffle,
                                     show_progress, pool)

    def reduce(self, other: DocumentArray) -> DocumentArray:
        """Merge ``other`` in place: new ids appended; for an id in both, this array's
        Document keeps its set fields and takes the others' (matches and chunks reduced
        the same way, by id). Returns self."""
        from shoal.document import array_ops  # noqa: PLC0415

        return array_ops.reduce(self, other)

    def reduce_all(self, others: Sequence[DocumentArray]) -> DocumentArray:
        """:meth:`reduce` with each of ``others`` in turn (the left-most wins). Returns self."""
        from shoal.document import array_ops  # noqa: PLC0415

        return array_ops.reduce_all(self, others)

    @classmethod
    def dataloader(cls, path: Any, func: Callable[[DocumentArray], Any], batch_size: int,
                   protocol: str = "protobuf", compress: str | None = None,
                   backend: str = "thread", num_worker: int | None = None, pool: Any = None,
                   show_progress: bool = False) -> Iterator[Any]:
        """Stream a saved file in arrays of ``batch_size`` and yield ``func(batch)`` for
        each, in order, computed in a thread / process pool (bounded memory)."""
        from shoal.document import array_ops  # noqa: PLC0415

        return array_ops.dataloader(cls, path, func, batch_size, protocol, compress, backend,
                                    num_worker, pool, show_progress)

    def shuffle(self, seed: int | None = None) -> DocumentArray:
        """A new array with the same Documents in random order."""
        docs = list(self)
        random.Random(seed).shuffle(docs)
        return DocumentArray(docs)

    def sample(self, k: int, seed: int | None = None) -> DocumentArray:
        """A new array of ``k`` Documents drawn without replacement."""
        n = len(self)
        if not 0 <= k <= n:
            raise BadInputError(f"cannot sample {k} Documents from an array of {n}")
        return DocumentArray(self._store.get_at(sorted(random.Random(seed).sample(range(n), k))))

    def split_by_tag(self, tag: str) -> dict[Any, DocumentArray]:
        """Arrays of Documents grouped by ``tags[tag]`` (Documents without it are skipped)."""
        groups: dict[Any, list[Document]] = {}
        for d in self:
            if d._tags and tag in d._tags:
                groups.setdefault(d._tags[tag], []).append(d)
        return {k: DocumentArray(v) for k, v in groups.items()}

    # --- compute ---------------------------------------------------------------------------------
    def _metric_or_default(self, metric: str | None) -> str:
        """``metric`` canonical, or when None the store's configured one (``config['metric']``
        of a disk store, whose ANN index is built for it), else cosine."""
        if metric is None:
            metric = getattr(self._store, "default_metric", "cosine")
        return canonical_metric(metric)

    def embed(self, embed_model: Any, device: str = "cpu", device_id: int = 0,
              batch_size: int = 256, to_numpy: bool = False, collate_fn: Any = None, *,
              show_progress: bool = False, normalize: bool = False) -> DocumentArray:
        """Fill every ``.embedding`` with ``embed_model``, ``batch_size`` Documents at a time
        (DocArray's signature; see :func:`shoal.document.compute.embed`). ``device='cuda'``
        with ``device_id`` is ``'cuda:<device_id>'``. Embeddings are always stored as
        float32 numpy rows (the stores' vector columns), so ``to_numpy`` changes nothing."""
        if device == "cuda":
            device = f"cuda:{device_id}"
        compute.embed(self, embed_model, device, batch_size, collate_fn, show_progress,
                      normalize)
        return self

    def match(self, darray: DocumentArray, metric: str | Callable[..., Any] | None = None,
              limit: int | float | None = 20, exclude_self: bool = False, only_id: bool = False,
              batch_size: int | None = None, filter: dict | None = None,
              metric_name: str | None = None, show_progress: bool = False,
              **params: Any) -> None:
        """For each Document here, store its ``limit`` nearest Documents of ``darray`` as
        ``.matches`` with ``scores[metric_name or metric].value`` (see shoal.document.distance
        for what each metric's score means). Queries are scored ``batch_size`` at a time.
        ``metric`` None: the metric ``darray`` is configured with (see :meth:`find`); a
        function ``(queries, embeddings) -> distances`` as in DocArray; ``params`` as for
        :meth:`find`. Against an empty ``darray`` nothing is matched (as in DocArray)."""
        if len(self) == 0 or len(darray) == 0:
            return
        limit, filter = _checked_limit(limit), filter or None
        limit = len(darray) if limit is None else min(limit, len(darray))  # no (Q, 10**12) pad
        want = limit + 1 if exclude_self else limit
        from shoal.utils.progress import progress  # noqa: PLC0415

        with progress(total=len(self), desc="match", unit="query", enabled=show_progress) as bar:
            for start, stop in compute.iter_query_blocks(len(self), batch_size):
                queries = self._store.get_at(list(range(start, stop)))
                q = _stack_embeddings([d._embedding for d in queries], "query Documents")
                if q is None:
                    raise EmptyArrayError(
                        "the query Documents have no embeddings; call .embed(model) first"
                    )
                q = as_matrix(q, what="query embeddings")
                rows = darray._search(q, want, metric, filter, metric_name, only_id, params)
                if exclude_self:
                    rows = compute.exclude_self_rows([d.id for d in queries], rows, limit)
                else:
                    rows = [r[:limit] for r in rows]
                for d, ms in zip(queries, rows):
                    d.matches = ms
                self._write_back(queries)
                bar.update(len(queries))

    def _search(self, queries: np.ndarray, want: int, metric: str | Callable[..., Any] | None,
                filter: dict | None, metric_name: str | None, only_id: bool,
                params: dict[str, Any]) -> list[list[Document]]:
        """The ``want`` best matches of each query row in this array (find / match), with
        DocArray's ``normalization`` applied when ``params`` has it."""
        params, normalization = split_docarray_kwargs(params)
        if callable(metric):
            name = metric_name or getattr(metric, "__name__", "custom")
            rows, ranges = compute.custom_matches(self, queries, want, metric, filter, name,
                                                  only_id)
        else:
            metric = self._metric_or_default(metric)
            name = metric_name or metric
            rows = compute.search_matches(self, queries, want, metric, filter, metric_name,
                                          only_id, **params)
            ranges = None
            if normalization is not None:
                ranges = compute.score_bounds(self, queries, metric, filter)
        if normalization is not None:
            normalize_scores(rows, name, normalization, ranges)
        return rows

    def find(self, query: Any = None, limit: int | float | None = 20,
             metric: str | Callable[..., Any] | None = None,
             filter: dict | None = None, exclude_self: bool = False, only_id: bool = False,
             metric_name: str | None = None, **params: Any) -> Any:
        """Search this array.

        - ``find(doc_or_vector)`` -> a DocumentArray of the best matches (scores set);
        - ``find(DocumentArray | 2-D ndarray)`` -> one DocumentArray per query;
        - ``find(filter={...})`` or ``find({...})`` -> the Documents passing the filter;
        - ``find(vector, filter={...})`` -> the best ``limit`` Documents among those passing
          the filter (pre-filtering: never fewer than ``limit`` when that many pass).

        ``limit=None`` ranks every Document (as :meth:`match` does); ``filter={}`` is no
        filter (``find({})``: every Document, up to ``limit``).

        ``metric`` None is the store's configured metric (``config['metric']``: what its
        ANN index is built for; cosine in memory). Another metric is searched exactly over
        the vector column, as is a function ``(queries, embeddings) -> (Q, N) distances``
        (DocArray's custom metric: lowest first, scores named after the function). Index parameters (``ef``, ``nprobe``, ``refine``...) go in
        ``params``, as do DocArray's ``normalization=(a, b)``, ``use_scipy``, ``device``,
        ``num_worker`` (see :mod:`shoal.document.docarray_kwargs`).
        """
        if isinstance(query, dict) and filter is None:
            query, filter = None, query
        limit = _checked_limit(limit)
        if query is None:
            if filter is None:
                raise BadInputError("find needs a query (Document, vector, array) or a filter")
            snapshot = getattr(self._store, "read_snapshot", contextlib.nullcontext)
            with snapshot():  # a disk store: the positions name the rows read (see its docs)
                positions = self._filter_positions(filter) if filter else list(range(len(self)))
                found = self._store.get_at(positions[:limit] if limit else positions)
            return DocumentArray(found)
        filter = filter or None  # DocArray's filter={}: no filter
        single = isinstance(query, Document) or (_is_tensor(query) and np.ndim(query) == 1) \
            or (isinstance(query, (list, tuple)) and query and not isinstance(query[0], (list, tuple, np.ndarray, Document)))
        if isinstance(query, Document):
            if query._embedding is None:
                raise EmptyArrayError("the query Document has no embedding; embed it first")
            vectors = as_matrix(query._embedding, what="query embedding")
            ids = [query.id]
        elif isinstance(query, DocumentArray) or (isinstance(query, list) and query and isinstance(query[0], Document)):
            emb = _stack_embeddings([d._embedding for d in query], "query Documents")
            if emb is None:
                raise EmptyArrayError("the query Documents have no embeddings; embed them first")
            vectors = as_matrix(emb, what="query embeddings")
            ids = [d.id for d in query]
        else:
            vectors = as_matrix(query, what="query vectors")
            ids = [None] * len(vectors)
        if (filter is not None or callable(metric) or not hasattr(self._store, "find_matches")) \
                and len(self) == 0:
            raise EmptyArrayError("cannot search an empty array; add Documents first")  # else the store says so
        if limit is None:
            limit = max(1, len(self))
        elif limit > _CLAMP_FROM:  # no (Q, 10**12) padded result (len costs a store read)
            limit = min(limit, max(1, len(self)))
        want = limit + 1 if exclude_self else limit
        rows = self._search(vectors, want, metric, filter, metric_name, only_id, params)
        if exclude_self:
            rows = compute.exclude_self_rows(ids, rows, limit)
        rows = [r[:limit] if len(r) > limit else r for r in rows]
        holding = DocumentArray._holding
        results = [holding(r) for r in rows]
        return results[0] if single else results

    def evaluate(self, metrics: Sequence[str | Callable[..., float]] | str = ("precision_at_k",),
                 ground_truth: DocumentArray | None = None,
                 hash_fn: Callable[[Document], Any] | None = None,
                 metric_names: Sequence[str] | None = None, strict: bool = True,
                 label_tag: str = "label",
                 num_relevant_documents_per_label: dict | None = None,
                 **kwargs: Any) -> dict[str, float]:
        """Evaluate each Document's ``.matches`` against ``ground_truth`` (or labels) with
        DocArray 0.21's metrics; returns the mean per metric (``k=``, ``max_rel=`` go to
        the metrics: see :func:`shoal.document.evaluation.evaluate`)."""
        return evaluation.evaluate(self, metrics, ground_truth, hash_fn, metric_names, strict, label_tag,
                        num_relevant_documents_per_label, **kwargs)

    def embed_and_evaluate(self, metrics: Sequence[str | Callable[..., float]] | str,
                           index_data: DocumentArray | None = None,
                           ground_truth: DocumentArray | None = None,
                           metric_names: Sequence[str] | None = None, strict: bool = True,
                           label_tag: str = "label", embed_models: Any = None,
                           embed_funcs: Any = None, device: str = "cpu",
                           batch_size: int | tuple[int, int] = 256, collate_fns: Any = None,
                           distance: str | Callable[..., Any] = "cosine",
                           limit: int | float | None = 20,
                           normalization: tuple[float, float] | None = None,
                           exclude_self: bool = False, use_scipy: bool = False,
                           num_worker: int = 1, match_batch_size: int = 100_000,
                           query_sample_size: int | None = 1_000,
                           **kwargs: Any) -> dict[str, float]:
        """Embed (``embed_models`` or ``embed_funcs``, one or a (query, index) pair),
        match against ``index_data`` (default: self) in blocks and :meth:`evaluate`;
        see :func:`shoal.document.array_ops.embed_and_evaluate`."""
        from shoal.document import array_ops  # noqa: PLC0415

        return array_ops.embed_and_evaluate(
            self, metrics, index_data, ground_truth, metric_names, strict, label_tag,
            embed_models, embed_funcs, device, batch_size, collate_fns, distance, limit,
            normalization, exclude_self, use_scipy, num_worker, match_batch_size,
            query_sample_size, **kwargs)

    def get_vocabulary(self, min_freq: int = 1,
                       text_attrs: tuple[str, ...] = ("text",)) -> dict[str, int]:
        """Word -> index (from 2; 0 is padding, 1 unknown) of words seen ``min_freq``
        times or more in ``text_attrs``, in first-seen order."""
        from shoal.document import array_ops  # noqa: PLC0415

        return array_ops.get_vocabulary(self, min_freq, text_attrs)

    def plot_image_sprites(self, output: Any = None, canvas_size: int = 512, min_size: int = 16,
                           channel_axis: int = -1, image_source: str = "tensor",
                           skip_empty: bool = False, show_progress: bool = False,
                           show_index: bool = False, fig_size: Any = None,
                           keep_aspect_ratio: bool = False) -> str:
        """Every Document's image in one square PNG grid (DocArray's sprite), written to
        ``output`` (or a temp file) and its path returned; ``fig_size`` (a matplotlib
        figure's size in DocArray) has no effect: nothing is shown on screen."""
        from shoal.document.plot import plot_image_sprites  # noqa: PLC0415

        return plot_image_sprites(self, output, canvas_size, min_size, channel_axis,
                                  image_source, skip_empty, show_progress, show_index,
                                  keep_aspect_ratio)

    def plot_embeddings(self, title: str = "MyDocumentArray", path: Any = None,
                        image_sprites: bool = False, min_image_size: int = 16,
                        channel_axis: int = -1, start_server: bool = True,
                        host: str = "127.0.0.1", port: int | None = None,
                        image_source: str = "tensor",
                        exclude_fields_metas: Sequence[str] | None = None,
                        colored_attr: str | None = None) -> str:
        """Write a PNG scatter of the embeddings' 2-D PCA (matplotlib, the ``bench``
        extra) and return its path: ``path`` a .png file or a folder (``{title}.png``;
        a temp folder when None); ``colored_attr`` a tag colouring the points.
        DocArray's ``start_server``, ``host``, ``port`` and ``exclude_fields_metas`` are
        taken and have no effect: no server is started."""
        from shoal.document.plot import plot_embeddings  # noqa: PLC0415

        return plot_embeddings(self, title, path, image_sprites, min_image_size, channel_axis,
                               image_source, colored_attr, exclude_fields_metas)

    # --- serialization (see shoal.document.codec / fileio) ----------------------------------
    def to_bytes(self, protocol: str = "protobuf", compress: str | None = None) -> bytes:
        """Bytes of the whole array: protobuf by default; ``protocol='pickle'`` only on request."""
        from shoal.document.codec import docs_to_bytes  # noqa: PLC0415

        return docs_to_bytes(self, protocol=protocol, compress=compress)

    @classmethod
    def from_bytes(cls, data: bytes, protocol: str = "protobuf",
                   compress: str | None = None) -> DocumentArray:
        from shoal.document.codec import docs_from_bytes  # noqa: PLC0415

        return cls(docs_from_bytes(data, protocol=protocol, compress=compress))

    def to_base64(self, protocol: str = "protobuf", compress: str | None = None) -> str:
        from shoal.document.codec import docs_to_base64  # noqa: PLC0415

        return docs_to_base64(self, protocol=protocol, compress=compress)

    @classmethod
    def from_base64(cls, data: str | bytes, protocol: str = "protobuf",
                    compress: str | None = None) -> DocumentArray:
        from shoal.document.codec import docs_from_base64  # noqa: PLC0415

        return cls(docs_from_base64(data, protocol=protocol, compress=compress))

    def to_dict(self, **kwargs: Any) -> list[dict[str, Any]]:
        """A list of JSON-ready dicts, one per Document."""
        from shoal.document.codec import docs_to_dicts  # noqa: PLC0415

        return docs_to_dicts(self, **kwargs)

    to_list = to_dict

    @classmethod
    def from_dict(cls, items: list[dict[str, Any]]) -> DocumentArray:
        from shoal.document.codec import docs_from_dicts  # noqa: PLC0415

        return cls(docs_from_dicts(items))

    from_list = from_dict

    def to_json(self, **kwargs: Any) -> str:
        from shoal.document.codec import docs_to_json  # noqa: PLC0415

        return docs_to_json(self, **kwargs)

    @classmethod
    def from_json(cls, data: str | bytes) -> DocumentArray:
        from shoal.document.codec import docs_from_json  # noqa: PLC0415

        return cls(docs_from_json(data))

    def to_protobuf(self) -> Any:
        from shoal.document.codec import docs_to_protobuf  # noqa: PLC0415

        return docs_to_protobuf(self)

    @classmethod
    def from_protobuf(cls, pb: Any) -> DocumentArray:
        from shoal.document.codec import docs_from_protobuf  # noqa: PLC0415

        return cls(docs_from_protobuf(pb))

    def save(self, path: Any, file_format: str = "binary", protocol: str = "protobuf",
             compress: str | None = None, show_progress: bool = False) -> None:
        """Write to ``path``: ``'binary'`` (a streamed record file), ``'json'`` or ``'csv'``."""
        from shoal.document import fileio  # noqa: PLC0415

        if file_format == "binary":
            fileio.save_docs(self, path, protocol=protocol, compress=compress,
                             show_progress=show_progress)
        elif file_format == "json":
            fileio.save_json(self, path)
        elif file_format == "csv":
            fileio.save_csv(self, path)
        else:
            raise BadInputError(f"file_format must be 'binary', 'json' or 'csv', got {file_format!r}")

    @classmethod
    def load(cls, path: Any, file_format: str = "binary", batch_size: int | None = None,
             protocol: str | None = None, compress: str | None = None,
             show_progress: bool = False, **kwargs: Any) -> Any:
        """Read a file written by :meth:`save`. With ``batch_size`` (binary only) yield
        arrays of that many Documents instead, so a file bigger than RAM can be streamed.
        ``protocol='pickle'`` must be passed explicitly to read a pickled file."""
        from shoal.document import fileio  # noqa: PLC0415

        if file_format == "binary":
            if batch_size:
                return (cls(batch) for batch in fileio.iter_load(
                    path, batch_size=batch_size, protocol=protocol, show_progress=show_progress))
            return cls(fileio.load_docs(path, protocol=protocol, compress=compress,
                                        show_progress=show_progress))
        if file_format == "json":
            return cls(fileio.load_json(path))
        if file_format == "csv":
            return cls(fileio.load_csv(path, **kwargs))
        raise BadInputError(f"file_format must be 'binary', 'json' or 'csv', got {file_format!r}")

    save_binary = save

    @classmethod
    def load_binary(cls, path: Any, **kwargs: Any) -> Any:
        return cls.load(path, file_format="binary", **kwargs)

    def save_json(self, path: Any) -> None:
        self.save(path, file_format="json")

    @classmethod
    def load_json(cls, path: Any) -> DocumentArray:
        return cls.load(path, file_format="json")

    def save_csv(self, path: Any, flatten_tags: bool = True,
                 exclude_fields: Sequence[str] | None = None, dialect: str | Any = "excel",
                 with_header: bool = True, encoding: str = "utf-8") -> None:
        """Write a CSV: a column per field in use, tags as ``tag__<key>`` columns
        (``flatten_tags``) or one JSON ``tags`` column."""
        from shoal.document import array_io  # noqa: PLC0415

        array_io.save_csv(self, path, flatten_tags, exclude_fields, dialect, with_header,
                          encoding)

    @classmethod
    def from_csv(cls, path: Any, field_resolver: dict[str, str] | None = None,
                 size: int | None = None, sampling_rate: float | None = None,
                 dialect: str | Any = "excel", encoding: str = "utf-8", *,
                 storage: str = "memory", config: dict[str, Any] | None = None) -> DocumentArray:
        """Documents from a CSV with a header row; columns map to fields (renamed by
        ``field_resolver``), others to tags. ``dialect='auto'`` sniffs the file."""
        from shoal.document import array_io  # noqa: PLC0415

        return cls(array_io.iter_csv(path, field_resolver, size, sampling_rate, dialect, encoding),
                   storage=storage, config=config)

    @classmethod
    def load_csv(cls, path: Any, field_resolver: dict[str, str] | None = None,
                 encoding: str = "utf-8") -> DocumentArray:
        """DocArray's ``load_csv``: :meth:`from_csv` with its defaults."""
        return cls.from_csv(path, field_resolver=field_resolver, encoding=encoding)

    def save_embeddings_csv(self, file: Any, encoding: str = "utf-8", **kwargs: Any) -> None:
        """Write the embedding matrix, a row per Document, with ``numpy.savetxt(**kwargs)``."""
        from shoal.document import array_io  # noqa: PLC0415

        array_io.save_embeddings_csv(self, file, encoding, **kwargs)

    @classmethod
    def from_lines(cls, lines: Iterable[str] | None = None, filepath: Any = None,
                   read_mode: str = "r", line_format: str = "json",
                   field_resolver: dict[str, str] | None = None, size: int | None = None,
                   sampling_rate: float | None = None, *, storage: str = "memory",
                   config: dict[str, Any] | None = None) -> DocumentArray:
        """Documents from ``filepath`` (JSON lines, CSV by extension, else a text
        Document per line) or from ``lines`` in ``line_format`` ('json', 'csv', else text)."""
        from shoal.document import array_io  # noqa: PLC0415

        return cls(array_io.iter_lines(lines, filepath, read_mode, line_format, field_resolver,
                                       size, sampling_rate), storage=storage, config=config)

    @classmethod
    def from_ndjson(cls, fp: Any, field_resolver: dict[str, str] | None = None,
                    size: int | None = None, sampling_rate: float | None = None, *,
                    storage: str = "memory", config: dict[str, Any] | None = None) -> DocumentArray:
        """A Document per JSON object line of ``fp`` (lines, a file object or a path)."""
        from shoal.document import array_io  # noqa: PLC0415

        return cls(array_io.iter_ndjson(fp, field_resolver, size, sampling_rate),
                   storage=storage, config=config)

    def to_dataframe(self, **kwargs: Any) -> Any:
        """A pandas DataFrame of :meth:`to_list` (needs pandas, not a shoal dependency)."""
        from shoal.document import array_io  # noqa: PLC0415

        return array_io.to_dataframe(self, **kwargs)

    @classmethod
    def from_dataframe(cls, df: Any, *, storage: str = "memory",
                       config: dict[str, Any] | None = None) -> DocumentArray:
        """A Document per row of a pandas DataFrame (NaN cells dropped; needs pandas)."""
        from shoal.document import array_io  # noqa: PLC0415

        return cls(array_io.from_dataframe_docs(df), storage=storage, config=config)

    @classmethod
    def from_files(cls, patterns: str | Sequence[str], recursive: bool = True,
                   size: int | None = None, sampling_rate: float | None = None,
                   read_mode: str | None = None, to_dataturi: bool = False,
                   exclude_regex: str | None = None) -> DocumentArray:
        """One Document per file matching the glob ``patterns`` (``uri`` set; content read
        when ``read_mode`` is ``'r'`` (text) or ``'rb'`` (blob))."""
        from shoal.document.sources import iter_files  # noqa: PLC0415

        return cls(iter_files(patterns, recursive, size, sampling_rate, read_mode,
                              to_dataturi, exclude_regex))

    @classmethod
    def from_ndarray(cls, array: Any, axis: int = 0, size: int | None = None,
                     shuffle: bool = False, field: str = "tensor") -> DocumentArray:
        """One Document per slice of ``array`` along ``axis`` (into ``tensor`` or ``embedding``)."""
        from shoal.document.sources import iter_ndarray  # noqa: PLC0415

        return cls(iter_ndarray(array, axis, size, shuffle, field))

    # --- persistence and context manager ---------------------------------------------------------
    def sync(self) -> None:
        """Write back Documents fetched from a disk store and changed in place."""
        self._store.sync()

    def vacuum(self) -> None:
        """Reclaim the space of deleted Documents and replaced vectors (disk stores;
        nothing to do in memory)."""
        fn = getattr(self._store, "vacuum", None)
        if fn is not None:
            fn()

    def rebuild_index(self, index: str | None = None, index_params: dict[str, Any] | None = None,
                      **kwargs: Any) -> None:
        """Rebuild the store's vector index from its vector column; ``index`` ('hnsw',
        'faiss', 'faiss:IVF1024,PQ16', 'exact' = none), ``index_params={...}`` and
        ``metric=`` switch type or parameters in place (None keeps the current value);
        ``show_progress=`` for the progress bar."""
        fn = getattr(self._store, "rebuild_index", None)
        if fn is None:
            raise BadInputError(
                "this array has no vector index to rebuild; open a disk store with "
                "config={'index': 'hnsw', ...}"
            )
        fn(index=index, index_params=index_params, **kwargs)

    def close(self) -> None:
        """Sync and release the store (files, connections). The store is released even
        when the sync fails (as a file is closed when its flush fails); the error is
        raised and the changes that could not be written are not saved."""
        try:
            self._store.sync()
        finally:
            self._store.close()

    def __enter__(self) -> DocumentArray:
        return self

    def __exit__(self, *exc: Any) -> None:
        """As in DocArray 0.21, leaving ``with da:`` syncs (changes written back, the
        index saved) and keeps the array open: ``close()`` releases its files."""
        self.sync()

    def __getstate__(self) -> dict[str, Any]:
        if not isinstance(self._store, MemoryStore):
            raise BadInputError("a disk-backed DocumentArray cannot be pickled; open it by config")
        return {"docs": self._store.docs, "on_duplicate": self._store.on_duplicate}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._store = MemoryStore({"on_duplicate": state["on_duplicate"]})
        self._store.extend(state["docs"])

    def summary(self) -> None:
        """Print a table of length, storage, fields in use, embedding shape and vector
        index (as DocArray: printed, nothing returned; the text is
        ``shoal.document.report.array_summary(da)``)."""
        from shoal.document.report import array_summary  # noqa: PLC0415

        print(array_summary(self))


class _ChildArray(DocumentArray):
    """Chunks or matches of one Document: keeps a weak link to its owner."""

    __slots__ = ("_owner",)

    def __init__(self, docs: Any = None, *, owner: Document | None = None) -> None:
        self._owner = weakref.ref(owner) if owner is not None else None
        super().__init__(docs)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._owner = None  # the owning Document re-owns its arrays after unpickling
        super().__setstate__(state)


class ChunkArray(_ChildArray):
    """A Document's chunks: each gets ``parent_id`` = owner id, granularity = owner's + 1."""

    __slots__ = ()

    def _on_add(self, docs: Sequence[Document]) -> None:
        owner = self._owner() if self._owner is not None else None
        if owner is None:
            return
        for d in docs:
            d.parent_id = owner.id
            d.granularity = owner.granularity + 1


class MatchArray(_ChildArray):
    """A Document's matches: each gets adjacency = owner's + 1, granularity = owner's."""

    __slots__ = ()

    def _on_add(self, docs: Sequence[Document]) -> None:
        owner = self._owner() if self._owner is not None else None
        if owner is None:
            return
        for d in docs:
            d.adjacency = owner.adjacency + 1
            d.granularity = owner.granularity


# --- helpers -----------------------------------------------------------------------------

def _as_document(value: Any) -> Document:
    if isinstance(value, Document):
        return value
    if isinstance(value, dict):
        return Document(value)
    if isinstance(value, (str, bytes)) or _is_tensor(value):
        return Document(content=value)
    raise BadInputError(
        f"expected a Document, got {type(value).__name__}; wrap it as Document(content=...)"
    )


_FIELD_NAMES = frozenset(FIELDS) | {"content"}


def _is_field(name: Any) -> bool:
    """A Document field, or a nested tag as DocArray spells it: ``'tags__a__b'``."""
    return isinstance(name, str) and (
        name in _FIELD_NAMES or (name.startswith("tags__") and len(name) > 6))


def _is_attribute_key(key: Any) -> bool:
    """``(selection, 'field')`` or ``(selection, ['f1', 'f2'])``."""
    if not (isinstance(key, tuple) and len(key) == 2):
        return False
    fields = key[1]
    if isinstance(fields, str):
        return _is_field(fields)
    return isinstance(fields, (list, tuple)) and bool(fields) and all(map(_is_field, fields))


def _get_field(d: Document, field: str) -> Any:
    """``d.field``, or for ``'tags__a__b'`` ``d.tags['a']['b']`` (None where missing)."""
    if not field.startswith("tags__"):
        return getattr(d, field)
    value: Any = d.tags
    for k in field[6:].split("__"):
        if not isinstance(value, dict) or k not in value:
            return None
        value = value[k]
    return value


def _set_field(d: Document, field: str, value: Any) -> None:
    """``d.field = value``, or set the nested tag of ``'tags__a__b'`` (new dicts on the
    path, so the Document sees its tags replaced)."""
    if not field.startswith("tags__"):
        setattr(d, field, value)
        return
    keys = field[6:].split("__")

    def put(node: Any, i: int) -> dict:
        out = dict(node) if isinstance(node, dict) else {}
        out[keys[i]] = value if i == len(keys) - 1 else put(out.get(keys[i]), i + 1)
        return out

    d.tags = put(d.tags, 0)


def _chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    if isinstance(items, (list, tuple)):
        for start in range(0, len(items), size):
            yield list(items[start:start + size])
        return
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _rows(matrix: Any, n: int) -> list[Any]:
    """Split an (n, D) matrix into n row views, with a clear error on a length mismatch."""
    if matrix is None:
        return [None] * n
    if hasattr(matrix, "detach") and hasattr(matrix, "cpu"):
        matrix = matrix.detach().cpu().numpy()
    m = np.asarray(matrix)
    if m.dtype == object:
        raise DimensionMismatchError("embeddings are ragged; give every vector the same length")
    if m.ndim == 1 and n == 1:
        m = m.reshape(1, -1)
    if m.ndim != 2 or m.shape[0] != n:
        raise DimensionMismatchError(
            f"got embeddings of shape {m.shape} for {n} Documents; give an ({n}, D) matrix"
        )
    return list(m)


#: a find limit above this is clamped to the array's size
_CLAMP_FROM = 1024


def _checked_limit(limit: Any) -> int | None:
    """``limit`` as an int (None: every Document); a whole float such as 2.0 (from JSON
    or YAML) is taken, as DocArray takes it."""
    if limit is None:
        return None
    if isinstance(limit, float) and limit.is_integer():
        limit = int(limit)
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit <= 0:
        raise BadInputError(
            f"limit must be a positive integer (or None for every Document), got {limit!r}")
    return int(limit)


def _stacked(values: list[Any], field: str) -> Any:
    """A column of ``da[:, field]``: embeddings and tensors stacked (as DocArray does)."""
    return _unravel(values, field) if field in ("embedding", "tensor") else values


def _unravel(values: list[Any], field: str) -> Any:
    """DocArray's ``unravel``: None when the first value is None and all are, the list when
    the first is None but some are not; else the values stacked along a new first axis
    (torch tensors with torch, lists as a list, anything else with numpy)."""
    if not values:
        return None
    if values[0] is None:
        return values if any(v is not None for v in values) else None
    missing = [i for i, v in enumerate(values) if v is None]
    if missing:
        raise EmptyArrayError(
            f"Documents {missing[:5]} have no {field}, so the {field}s cannot be stacked; "
            f"set one on every Document or read them one by one ([d.{field} for d in da])")
    first = values[0]
    if isinstance(first, list):
        return list(values)
    try:
        if type(first).__module__.startswith("torch"):
            import torch  # noqa: PLC0415 - only for torch tensors

            return torch.stack(values)
        return np.stack(values)
    except (ValueError, RuntimeError, TypeError) as exc:
        shapes = sorted({tuple(np.shape(v)) for v in values}, key=str)
        raise DimensionMismatchError(
            f"the {field}s have different shapes {shapes[:4]} and cannot be stacked; read "
            f"them one by one ([d.{field} for d in da])") from exc


def _stack_embeddings(embeddings: list[Any], what: str = "Documents") -> np.ndarray | None:
    present = [e for e in embeddings if e is not None]
    if not present:
        return None
    if len(present) != len(embeddings):
        raise EmptyArrayError(
            f"{len(embeddings) - len(present)} of {len(embeddings)} {what} have no embedding; "
            "embed all of them (or select those that have one)"
        )
    try:
        return np.stack([np.asarray(e).reshape(-1) if np.ndim(e) != 1 else e for e in present])
    except ValueError as exc:
        shapes = sorted({np.shape(e) for e in present})
        raise DimensionMismatchError(
            f"embeddings have different shapes {shapes[:4]}; embed all Documents with one model"
        ) from exc
