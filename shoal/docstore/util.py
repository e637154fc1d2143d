"""Small helpers shared by the disk stores."""
from __future__ import annotations

import os
from typing import Any, Iterator, Sequence

from shoal.errors import DocumentNotFoundError, DuplicateIdError, InvalidConfigError, StoreClosedError

__all__ = ["runs", "remove_file", "duplicate_error", "first_repeat", "check_open"]

#: store methods that may run on a closed store (closing again is a no-op)
_WHEN_CLOSED = frozenset({"close", "sync"})


def runs(sorted_positions: Sequence[int]) -> Iterator[tuple[int, int]]:
    """Contiguous runs ``(lo, hi)`` (inclusive) of sorted unique ints."""
    lo = prev = sorted_positions[0]
    for p in sorted_positions[1:]:
        if p != prev + 1:
            yield lo, prev
            lo = p
        prev = p
    yield lo, prev


def remove_file(path: str) -> None:
    """Delete ``path`` if it exists."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def first_repeat(ids: Sequence[str]) -> str | None:
    """The first id that occurs twice in ``ids``, or None."""
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            return i
        seen.add(i)
    return None


def duplicate_error(doc_id: str) -> DuplicateIdError:
    """The error for extending with an id that is already stored (or repeated in the batch)."""
    return DuplicateIdError(
        f"a Document with id {doc_id!r} is already in the array; set da[{doc_id!r}] = doc to "
        "replace it, or open the array with config={'on_duplicate': 'overwrite'} (nothing of "
        "this batch was written)")


def check_open(store: object, method: str) -> None:
    """For a closed ``store``: StoreClosedError unless ``method`` may run closed."""
    if method not in _WHEN_CLOSED:
        name = getattr(store, "name", "disk")
        raise StoreClosedError(
            f"this {name} array is closed; open it again, e.g. "
            f"DocumentArray(storage={name!r}, config=...), to use it")


def show_pending_rows(store: Any) -> None:
    """Let reads inside ``store``'s open write transaction see the vector rows it wrote past
    the committed count (the column file holds them already; only this thread, holding the
    store lock, reads meanwhile). After a nested rollback: the outer block's rows again."""
    tx, column = store._tx, getattr(store, "column", None)
    if tx is not None and column is not None and column.path == store._column_path(tx["epoch"]):
        column.set_rows(tx["vec_rows"])


def check_config_dim(config: Any, stored_dim: int | None, where: str) -> None:
    """An ``n_dim`` in the config of an existing store must be the dimension it holds."""
    n_dim = getattr(config, "n_dim", None)
    if n_dim is not None and stored_dim and n_dim != stored_dim:
        raise InvalidConfigError(
            f"config n_dim={n_dim} but the store at {where} holds {stored_dim}-d embeddings; "
            f"open it with n_dim={stored_dim} (or none), or use another path for the new model")


def iter_docs(store: Any, block: int = 2048) -> Iterator[Any]:
    """A disk store's ``iter_docs``: pages of ``block`` Documents in position order, each
    page read from one snapshot (its length and rows agree however other processes
    write). A list-like store resumes after the last Document yielded, found again by
    id, so deletes before it (here or in another process) skip nothing."""
    start, last = 0, None
    while True:
        with store.read_snapshot():
            if last is not None and store.list_like:
                try:
                    start = store.position_of(last) + 1
                except DocumentNotFoundError:  # deleted meanwhile: go on by count
                    pass
            n = len(store)
            if start >= n:
                return
            docs = store.get_at(range(start, min(start + block, n)))
        yield from docs
        start += len(docs)
        last = docs[-1].id
