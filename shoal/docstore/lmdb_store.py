"""LMDB document store: ``DocumentArray(storage='lmdb', config={'path': 'data/', 'name': 'docs'})``.

One LMDB environment per directory holds several named arrays; each array has named
sub-databases (keys are big-endian int64 unless noted)::

    <name>:docs    rid -> record: header (label, flags, lengths) + id + text + tags JSON +
                   attrs JSON + codec bytes of the rest of the Document
    <name>:ids     id (utf-8) -> rid, pos
    <name>:order   pos -> rid, id        (dense 0..n-1; absent when list_like=False)
    <name>:labels  vector label -> rid
    <name>:dead    vector label -> seq   (labels freed by deletes / replaced embeddings)
    shoal:meta     <name> -> JSON counters (format version, count, seq, vec_rows, ...)
    <name>.<epoch>.vec   the vector column file in the same directory

Every write is one LMDB write transaction (nested ``atomic()`` blocks are child
transactions). A full map is grown by doubling and the transaction retried. Writers of
all processes are serialised by LMDB; a ``shoal-writer.lock`` file lock in front of it
turns a long wait into StoreLockedError after ``timeout`` seconds. Readers open a fresh
read transaction per call, so they see every committed write.
"""
from __future__ import annotations

import functools
import os
import shutil
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Sequence

import lmdb
import numpy as np

from shoal.document.codec import doc_to_bytes, dumps_json, loads_json
from shoal.document.document import Document
from shoal.document.filters import compile_filter, parse_filter
from shoal.errors import (BadInputError, CorruptStoreError, DocumentNotFoundError,
                          DuplicateIdError, EmptyArrayError, InvalidConfigError, StoreError,
                          StoreNotWritableError, StoreVersionError)

from shoal.docstore.column import VectorColumn
from shoal.docstore.vectors import ColumnRewritten, find_matches, find_vectors
from shoal.docstore.config import LmdbConfig, parse_config
from shoal.docstore.rows import IN_BLOB, Row, decode, encode, encode_many, stack_vectors
from shoal.docstore.tracking import (FetchTracker, Stored, attach_embeddings, hint_unsaved_embeddings,
                                     materialize, spread)
from shoal.docstore.index_choice import IndexChoice, describe, open_sync, requested, resolve, switch
from shoal.docstore.filter_cache import FilterCache
from shoal.docstore.label_rows import LabelRows
from shoal.docstore.mapped_pages import ReleaseBudget
from shoal.docstore.lmdb_env import acquire_env, release_env
from shoal.docstore.lmdb_records import (QQ, FilterView, Q, documents, fields_of, get_many, key,
                                         keys_of, pack, record_id, unpack)
from shoal.docstore.util import (check_config_dim, check_open, duplicate_error, first_repeat, remove_file,
                                 iter_docs, show_pending_rows)

__all__ = ["LmdbStore", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_META = "shoal:meta"
_NO_ROW = (-1).to_bytes(8, "big", signed=True)  # the row of a freed label: no record


class _Borrowed:
    """A transaction used as ``with`` target without ending it."""

    __slots__ = ("txn",)

    def __init__(self, txn: Any) -> None:
        self.txn = txn

    def __enter__(self) -> Any:
        return self.txn

    def __exit__(self, *exc: Any) -> None:
        return None


def _op(method: Callable) -> Callable:
    """Run a public method under the store lock, translating LMDB's corruption error."""
    @functools.wraps(method)
    def wrapper(self: LmdbStore, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return _translated(method, self, *args, **kwargs)
    return wrapper


def _translated(method: Callable, self: LmdbStore, *args: Any, **kwargs: Any) -> Any:
    if self.closed:
        check_open(self, method.__name__)
    try:
        return method(self, *args, **kwargs)
    except lmdb.CorruptedError as exc:
        raise CorruptStoreError(f"the LMDB store {self.path} is damaged ({exc}); restore "
                                "it from a backup") from exc


class LmdbStore:
    """A DocStore in an LMDB environment (see the module docstring)."""

    name = "lmdb"
    persistent = True

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = cfg = parse_config(LmdbConfig, config, "lmdb")
        self.on_duplicate = cfg.on_duplicate
        self.list_like = cfg.list_like
        self.path = path = os.path.abspath(cfg.path)
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as exc:
            raise StoreNotWritableError(f"cannot create the LMDB directory {path}: {exc}") from exc
        if not os.access(path, os.W_OK):
            raise StoreNotWritableError(f"{path} is not writable; choose a path you can write or "
                                        "fix its permissions")
        self._lock = threading.RLock()
        self._txn: Any = None
        self._snap: Any = None  # read_snapshot's transaction (the store lock is held)
        self._tx: dict[str, Any] | None = None
        self._after_commit: list[Callable[[], None]] = []
        self.closed = False
        self.tracker = FetchTracker(cfg.track_fetched)
        self._label_rows = LabelRows()
        self._filter_cache = FilterCache()
        self._search_reads = ReleaseBudget(os.path.join(path, "data.mdb"))
        self._meta_raw: bytes | None = None
        self._meta_key = cfg.name.encode()
        self._meta_parsed: dict[str, Any] = {}
        self._column_paths: dict[int, str] = {}
        self.e = acquire_env(path, cfg)
        n = cfg.name
        try:
            t = cfg.timeout
            self._dbs = {k: self.e.db(f"{n}:{k}", t) for k in ("docs", "ids", "order", "labels", "dead")}
            self._meta_db = self.e.db(_META, t)
            self._open_meta()
        except BaseException:
            release_env(self.e)
            raise
        self._index = None
        try:
            m = self._meta()
            check_config_dim(self.config, m["dim"], self.path)
            self.column = VectorColumn(self._column_path(m["epoch"]), m["dim"], m["vec_rows"])
            self._open_index(m.get("index"))
        except BaseException:
            release_env(self.e)
            raise

    # --- meta ------------------------------------------------------------------------------
    def _column_path(self, epoch: int) -> str:
        path = self._column_paths.get(epoch)
        if path is None:
            path = self._column_paths[epoch] = os.path.join(self.path, f"{self.config.name}.{epoch}.vec")
        return path

    def _open_meta(self) -> None:
        with self.e.env.begin(db=self._meta_db) as txn:
            raw = txn.get(self.config.name.encode())
        if raw is not None:
            m = loads_json(bytes(raw))
            if m.get("version", 0) > FORMAT_VERSION:
                raise StoreVersionError(
                    f"array {self.config.name!r} in {self.path} was written by a newer shoal "
                    f"(format {m['version']}, this version reads up to {FORMAT_VERSION}); "
                    "upgrade shoal to open it")
            if bool(m.get("list_like", True)) != self.list_like:
                raise InvalidConfigError(
                    f"array {self.config.name!r} was created with list_like={m.get('list_like')}; "
                    "open it with the same setting")
            return
        with self.atomic(meta=False) as txn:
            txn.put(self.config.name.encode(), dumps_json(
                {"version": FORMAT_VERSION, "count": 0, "seq": 0, "vec_rows": 0, "n_dead": 0,
                 "dim": self.config.n_dim, "epoch": 0, "next_rid": 0,
                 "list_like": self.list_like}).encode(), db=self._meta_db)

    def _read_meta(self, txn: Any, copy: bool = True) -> dict[str, Any]:
        """A copy of the meta record (``copy=False``: the cached parse itself, to read, not
        to change); parsed again only when its bytes changed."""
        raw = txn.get(self._meta_key, db=self._meta_db)
        if raw is None:
            raise CorruptStoreError(f"array {self.config.name!r} lost its meta record in {self.path}")
        if raw != self._meta_raw:
            self._meta_parsed = loads_json(raw)
            self._meta_raw = raw
        return dict(self._meta_parsed) if copy else self._meta_parsed

    def _meta(self) -> dict[str, Any]:
        if self._tx is not None:
            show_pending_rows(self)
            return self._tx
        with self._read() as txn:
            m = self._read_meta(txn)
        self._sync_column(m)
        return m

    def _sync_column(self, m: dict[str, Any]) -> None:
        col = getattr(self, "column", None)
        if col is None:
            return
        path = self._column_path(m["epoch"])
        if col.path != path:
            col.close()
            self.column = VectorColumn(path, m["dim"], m["vec_rows"], writable=False)
        else:
            col.dim = m["dim"]
            col.set_rows(m["vec_rows"])

    # --- transactions ------------------------------------------------------------------------
    def _read(self) -> Any:
        """The open write transaction, or a fresh read transaction (sees every commit)."""
        if self._txn is not None:
            return _Borrowed(self._txn)
        if self._snap is not None:
            return _Borrowed(self._snap)
        while True:
            try:
                return self.e.env.begin(buffers=False)
            except lmdb.MapResizedError:
                self.e.env.set_mapsize(0)

    @contextmanager
    def atomic(self, meta: bool = True) -> Iterator[Any]:
        """One write transaction (nested: a child transaction); all in or all out."""
        with self._lock:
            if self.closed:
                check_open(self, "atomic")
            if self._txn is not None:
                parent, snapshot = self._txn, dict(self._tx) if self._tx is not None else None
                pending = len(self._after_commit)
                child = self.e.env.begin(write=True, parent=parent)
                self._txn = child
                try:
                    yield child
                except BaseException:
                    child.abort()
                    if snapshot is not None and self._tx is not None:
                        self._tx.clear()  # in place: callers hold this dict
                        self._tx.update(snapshot)
                        show_pending_rows(self)  # the parent's rows, not the child's
                    del self._after_commit[pending:]  # e.g. an old column file stays
                    raise
                else:
                    child.commit()
                finally:
                    self._txn = parent
                return
            self.e.acquire(self.config.timeout)
            try:
                while True:
                    try:
                        txn = self.e.env.begin(write=True)
                        break
                    except lmdb.MapResizedError:
                        self.e.env.set_mapsize(0)
                    except lmdb.Error as exc:
                        if "same thread" not in str(exc):
                            raise
                        raise StoreError(
                            f"another array of the LMDB directory {self.path} has a write "
                            "transaction open in this thread (an atomic() block); write to this "
                            "array after that block ends") from exc
                self._txn = txn
                start = None
                try:
                    if meta:
                        self._tx = self._read_meta(txn)
                        start = dict(self._tx)
                        self._sync_column(start)
                    yield txn
                    if meta and self._tx != start:
                        self.column.flush()
                        txn.put(self.config.name.encode(), dumps_json(self._tx).encode(),
                                db=self._meta_db)
                    txn.commit()
                except BaseException:
                    txn.abort()
                    if start is not None:
                        self._sync_column(start)  # not the rows the transaction wrote
                    raise
                else:
                    if meta:
                        self._sync_column(self._tx)
                    for fn in self._after_commit:
                        fn()
                finally:
                    self._txn = None
                    self._tx = None
                    self._after_commit = []
            finally:
                self.e.release()

    def _write(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(txn)`` in a write transaction, growing the map and retrying when it is full."""
        if self._txn is not None:
            return fn(self._txn)
        for _ in range(40):
            try:
                with self.atomic() as txn:
                    return fn(txn)
            except lmdb.MapFullError:
                self.e.grow()
        raise StoreError(f"the LMDB map of {self.path} could not be grown enough")  # pragma: no cover

    # --- reading ------------------------------------------------------------------------------
    def _order_rows(self, txn: Any, positions: Sequence[int]) -> dict[int, tuple[int, str]]:
        """pos -> (rid, id) for ``positions``."""
        out: dict[int, tuple[int, str]] = {}
        ps = sorted(set(positions))
        if not ps:
            return out
        if self.list_like:
            cur = txn.cursor(db=self._dbs["order"])
            for p, v in zip(ps, get_many(cur, keys_of(ps))):
                if v is not None:
                    out[p] = (Q.unpack_from(v)[0], bytes(v[8:]).decode())
            return out
        want = set(ps)
        cur = txn.cursor(db=self._dbs["docs"])
        for i, (k, v) in enumerate(cur):  # no order key: positions are ranks in rid order
            if i > ps[-1]:
                break
            if i in want:
                out[i] = (Q.unpack(k)[0], unpack(v)[0])
        return out

    def _records(self, txn: Any, rids: Sequence[int]) -> dict[int, bytes]:
        cur = txn.cursor(db=self._dbs["docs"])
        return {r: v for r, v in zip(rids, get_many(cur, keys_of(rids))) if v is not None}

    def _materialize(self, recs: Sequence[bytes], fresh: list[bool] | None = None) -> list[Document]:
        rows = []
        for rec in recs:
            doc_id, label, flags, txt, tags, _, blob = unpack(rec)
            rows.append((doc_id, label, flags, txt, tags, blob))
        docs = materialize(rows, self.tracker, self.column, self._meta, fresh)
        if fresh is None and self._snap is None:
            self._bound_tracker()
        return docs

    def _bound_tracker(self) -> None:
        """Past its capacity, the tracker's changes are written back and it starts over."""
        if self.tracker.full():
            self._sync_changed()
            self.tracker.clear()

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """Hold the store lock and make every read inside see one committed state (or the
        open write transaction): a search's filter, positions and Documents then agree
        while other processes write. Tracked changes are written back after it, not in it."""
        with self._lock:
            if self.closed:
                check_open(self, "read_snapshot")
            if self._txn is not None or self._snap is not None:
                yield
                return
            txn = self._read()
            self._snap = txn
            try:
                yield
            finally:
                self._snap = None
                txn.abort()
            self._bound_tracker()

    @_op
    def __len__(self) -> int:
        return self._meta()["count"]

    @_op
    def __contains__(self, doc_id: object) -> bool:
        if not isinstance(doc_id, str):
            return False
        with self._read() as txn:
            return txn.get(doc_id.encode(), db=self._dbs["ids"]) is not None

    @_op
    def get_at(self, positions: Sequence[int]) -> list[Document]:
        with self._read() as txn:
            order = self._order_rows(txn, positions)
            try:
                rids = [order[p][0] for p in positions]
            except KeyError as exc:
                raise DocumentNotFoundError(f"no Document at position {exc.args[0]}") from None
            recs = self._records(txn, rids)
            return self._materialize([recs[r] for r in rids])

    @_op
    def get_by_ids(self, ids: Sequence[str]) -> list[Document]:
        with self._read() as txn:
            if len(ids) == 1:  # the da[id] path: two gets
                v = txn.get(ids[0].encode(), db=self._dbs["ids"])
                if v is None:
                    raise DocumentNotFoundError(f"no Document with id {ids[0]!r} in this array")
                return self._materialize([txn.get(v[:8], db=self._dbs["docs"])])
            cur = txn.cursor(db=self._dbs["ids"])
            uniq = list(dict.fromkeys(ids))
            found = {i: QQ.unpack(v)[0] for i, v in zip(uniq, get_many(cur, [i.encode() for i in uniq]))
                     if v is not None}
            missing = next((i for i in ids if i not in found), None)
            if missing is not None:
                raise DocumentNotFoundError(f"no Document with id {missing!r} in this array")
            rids = [found[i] for i in ids]
            recs = self._records(txn, rids)
            return self._materialize([recs[r] for r in rids])

    @_op
    def position_of(self, doc_id: str) -> int:
        with self._read() as txn:
            v = txn.get(doc_id.encode(), db=self._dbs["ids"])
            if v is None:
                raise DocumentNotFoundError(f"no Document with id {doc_id!r} in this array")
            rid, pos = QQ.unpack(v)
            if self.list_like:
                return pos
            cur = txn.cursor(db=self._dbs["docs"])
            n = 0
            for k in cur.iternext(keys=True, values=False):
                if Q.unpack(k)[0] >= rid:
                    return n
                n += 1
            return n

    @_op
    def ids_at(self, positions: Sequence[int]) -> list[str]:
        with self._read() as txn:
            order = self._order_rows(txn, positions)
        return [order[p][1] for p in positions]

    def iter_docs(self, block: int = 2048) -> Iterator[Document]:
        return iter_docs(self, block)

    # --- writing ------------------------------------------------------------------------------
    def _append_vectors(self, txn: Any, rows: Sequence[Row], rids: Sequence[int],
                        replacing: bool = False) -> list[int | None]:
        m = self._tx
        dims = {r.vector.shape[0] for r in rows if r.vector is not None}
        if (replacing and m["dim"] and len(dims) == 1 and dims != {m["dim"]}
                and self.config.n_dim is None):
            self._switch_dim(txn)
        vecs, idx = stack_vectors(rows, m["dim"])
        labels: list[int | None] = [None] * len(rows)
        if vecs is None:
            return labels
        if self.column.path != self._column_path(m["epoch"]):
            self._sync_column(m)
        self.column.writable = True
        start = m["vec_rows"]
        self.column.write(start, vecs)
        m["dim"] = self.column.dim
        m["vec_rows"] = start + len(idx)
        for j, i in enumerate(idx):
            labels[i] = start + j
        txn.cursor(db=self._dbs["labels"]).putmulti(
            [(key(start + j), key(rids[i])) for j, i in enumerate(idx)], append=True)
        return labels

    def _switch_dim(self, txn: Any) -> None:
        """Move every column embedding into its record's blob and start an empty column."""
        m = self._tx
        self._sync_column(m)
        docs = self._dbs["docs"]
        updates = []
        for k, rec in txn.cursor(db=docs):
            doc_id, label, flags, t, g, a, blob = unpack(rec)
            if label is None:
                continue
            if not flags & IN_BLOB:
                d = decode(blob, None, None, doc_id)
                d._embedding = self.column.take(np.array([label]))[0]
                blob = doc_to_bytes(d)
            updates.append((bytes(k), pack(Row(doc_id, t, g, a, blob, None, True), None)))
        for k, v in updates:
            txn.put(k, v, db=docs)
        txn.drop(self._dbs["labels"], delete=False)
        txn.drop(self._dbs["dead"], delete=False)
        self._after_commit.append(functools.partial(remove_file, self._column_path(m["epoch"])))
        m.update(vec_rows=0, n_dead=0, dim=None, epoch=m["epoch"] + 1)
        self._sync_column(m)

    def _kill_labels(self, txn: Any, labels: Iterable[int | None]) -> None:
        seq = key(self._tx["seq"] + 1)
        n = 0
        for lab in labels:
            if lab is not None:
                txn.delete(key(lab), db=self._dbs["labels"])
                txn.put(key(lab), seq, db=self._dbs["dead"])
                n += 1
        self._tx["n_dead"] += n

    @_op
    def extend(self, docs: Iterable[Document]) -> None:
        docs = docs if isinstance(docs, list) else list(docs)
        if not docs:
            return
        rows = encode_many(docs)
        self._write(functools.partial(self._extend_txn, docs, rows))

    def _extend_txn(self, docs: list[Document], rows: list[Row], txn: Any) -> None:
        m = self._tx
        if self.on_duplicate == "overwrite":
            last = {r.id: i for i, r in enumerate(rows)}
            ids_db = self._dbs["ids"]
            existing = {i for i in last if txn.get(i.encode(), db=ids_db) is not None}
            if existing:
                self._update_txn([(i, docs[last[i]], rows[last[i]]) for i in existing], txn)
            firsts: dict[str, int] = {}
            for j, r in enumerate(rows):
                if r.id not in existing and r.id not in firsts:
                    firsts[r.id] = j
            docs = [docs[last[i]] for i in firsts]
            rows = [rows[last[i]] for i in firsts]
            if not rows:
                m["seq"] += 1
                return
        n = len(rows)
        rid0, pos0 = m["next_rid"], m["count"]
        rids = range(rid0, rid0 + n)
        labels = self._append_vectors(txn, rows, rids)
        qpack = Q.pack
        keys = [qpack(r) for r in rids]
        txn.cursor(db=self._dbs["docs"]).putmulti(
            zip(keys, [pack(r, lab) for r, lab in zip(rows, labels)]), append=True)
        idb = [r.id.encode() for r in rows]
        _, added = txn.cursor(db=self._dbs["ids"]).putmulti(
            zip(idb, [QQ.pack(rid0 + j, pos0 + j) for j in range(n)]), overwrite=False)
        if added != n:
            dup = first_repeat([r.id for r in rows])
            if dup is None:
                dup = next(r.id for r, b in zip(rows, idb)
                           if QQ.unpack(txn.get(b, db=self._dbs["ids"]))[0] < rid0)
            raise duplicate_error(dup)
        if self.list_like:
            txn.cursor(db=self._dbs["order"]).putmulti(
                zip([qpack(p) for p in range(pos0, pos0 + n)], [k + b for k, b in zip(keys, idb)]),
                append=True)
        m["count"] += n
        m["next_rid"] += n
        m["seq"] += 1

    def _update_txn(self, items: Sequence[tuple[str, Document, Row]], txn: Any) -> None:
        """Rewrite the records of ids ``items[k][0]`` with new Documents."""
        ids_db, docs_db = self._dbs["ids"], self._dbs["docs"]
        locs = []
        for i, _, _ in items:
            v = txn.get(i.encode(), db=ids_db)
            if v is None:
                raise DocumentNotFoundError(
                    f"no Document with id {i!r} in this array; append it instead of updating")
            locs.append(QQ.unpack(v))
        old_labels = [unpack(txn.get(key(rid), db=docs_db))[1] for rid, _ in locs]
        rows = [r for _, _, r in items]
        keep = self._reusable(rows, old_labels)
        fresh = [r if not k else r._replace(vector=None) for r, k in zip(rows, keep)]
        epoch = self._tx["epoch"]
        new_labels = self._append_vectors(txn, fresh, [rid for rid, _ in locs], replacing=True)
        if self._tx["epoch"] != epoch:
            old_labels = [None] * len(old_labels)
        labels = [ol if k else nl for ol, nl, k in zip(old_labels, new_labels, keep)]
        self._kill_labels(txn, (ol for ol, k in zip(old_labels, keep) if not k))
        renamed = [(i, r.id, loc) for (i, _, r), loc in zip(items, locs) if r.id != i]
        for i, _, _ in renamed:
            txn.delete(i.encode(), db=ids_db)
        for i, new_id, (rid, pos) in renamed:
            if not txn.put(new_id.encode(), QQ.pack(rid, pos), db=ids_db, overwrite=False):
                raise DuplicateIdError(
                    f"cannot rename Document {i!r} to {new_id!r}: that id is already in the array")
            if self.list_like:
                txn.put(key(pos), key(rid) + new_id.encode(), db=self._dbs["order"])
        for (rid, _), r, lab in zip(locs, rows, labels):
            txn.put(key(rid), pack(r, lab), db=docs_db)
        self._tx["seq"] += 1
        self.tracker.forget(i for i, _, _ in items)
        for (_, d, r), lab in zip(items, labels):
            self.tracker.add(d, Stored(r.blob, r.text, r.tags, lab))

    def _reusable(self, rows: Sequence[Row], old_labels: Sequence[int | None]) -> list[bool]:
        keep = [False] * len(rows)
        idx = [i for i, (r, ol) in enumerate(zip(rows, old_labels))
               if r.vector is not None and ol is not None]
        if idx:
            self._sync_column(self._tx)
            stored = self.column.take(np.array([old_labels[i] for i in idx], dtype=np.int64))
            for i, s in zip(idx, stored):
                v = rows[i].vector
                keep[i] = v.shape == s.shape and np.array_equal(v, s)
        return keep

    @_op
    def update_docs(self, docs: Sequence[Document]) -> None:
        """Write back Documents (matched by id) that were changed in place."""
        if docs:
            items = [(d.id, d, encode(d)) for d in docs]
            self._write(functools.partial(self._update_txn, items))

    @_op
    def set_at(self, positions: Sequence[int], docs: Sequence[Document]) -> None:
        if not positions:
            return
        rows = encode_many(docs)

        def fn(txn: Any) -> None:
            order = self._order_rows(txn, positions)
            new_ids = [r.id for r in rows]
            dup = first_repeat(new_ids)
            if dup is not None:
                raise duplicate_error(dup)
            old_ids = [order[p][1] for p in positions]
            olds = set(old_ids)
            ids_db = self._dbs["ids"]
            for i in new_ids:
                if i not in olds and txn.get(i.encode(), db=ids_db) is not None:
                    raise DuplicateIdError(
                        f"cannot set: a Document with id {i!r} is already in the array at another "
                        "position; delete it first or give the new Document another id")
            # the old ids are freed first (renames are applied after all deletions)
            self._update_txn([(o, d, r) for o, d, r in zip(old_ids, docs, rows)], txn)

        self._write(fn)

    @_op
    def insert(self, position: int, doc: Document) -> None:
        n = len(self)
        if not self.list_like and position != n:
            raise BadInputError("this array was opened with list_like=False: it has no positional "
                                "order, so Documents can only be appended")
        if position >= n:
            self.extend([doc])
            return
        row = encode(doc)

        def fn(txn: Any) -> None:
            self._shift(txn, position, 1)
            m = self._tx
            rid = m["next_rid"]
            labels = self._append_vectors(txn, [row], [rid])
            if not txn.put(row.id.encode(), QQ.pack(rid, position), db=self._dbs["ids"],
                           overwrite=False):
                raise DuplicateIdError(
                    f"a Document with id {row.id!r} is already in the array; give it a new id")
            txn.put(key(rid), pack(row, labels[0]), db=self._dbs["docs"])
            txn.put(key(position), key(rid) + row.id.encode(), db=self._dbs["order"])
            m["count"] += 1
            m["next_rid"] += 1
            m["seq"] += 1

        self._write(fn)

    def _shift(self, txn: Any, start: int, by: int) -> None:
        """Move order entries at positions >= start by ``by`` (updating ids' positions)."""
        order = self._dbs["order"]
        cur = txn.cursor(db=order)
        entries = []
        if cur.set_range(key(start)):
            entries = [(bytes(k), bytes(v)) for k, v in cur]
        for k, _ in entries:
            txn.delete(k, db=order)
        self._put_order(txn, [(Q.unpack(k)[0] + by, v) for k, v in entries])

    def _put_order(self, txn: Any, entries: list[tuple[int, bytes]]) -> None:
        order, ids_db = self._dbs["order"], self._dbs["ids"]
        for pos, v in entries:
            txn.put(key(pos), v, db=order)
            txn.put(v[8:], key(Q.unpack_from(v)[0]) + key(pos), db=ids_db)

    @_op
    def delete_at(self, positions: Sequence[int]) -> None:
        if not positions:
            return
        ps = sorted(set(positions))

        def fn(txn: Any) -> None:
            order = self._order_rows(txn, ps)
            docs_db, ids_db = self._dbs["docs"], self._dbs["ids"]
            labels = []
            for p in ps:
                rid, doc_id = order[p]
                rec = txn.get(key(rid), db=docs_db)
                labels.append(unpack(rec)[1])
                txn.delete(key(rid), db=docs_db)
                txn.delete(doc_id.encode(), db=ids_db)
            self._kill_labels(txn, labels)
            if self.list_like:
                odb = self._dbs["order"]
                cur = txn.cursor(db=odb)
                entries = []
                if cur.set_range(key(ps[0])):
                    entries = [(Q.unpack(k)[0], bytes(v)) for k, v in cur]
                for p, _ in entries:
                    txn.delete(key(p), db=odb)
                gone = set(ps)
                keep = [v for p, v in entries if p not in gone]
                self._put_order(txn, list(zip(range(ps[0], ps[0] + len(keep)), keep)))
            self._tx["count"] -= len(ps)
            self._tx["seq"] += 1
            self.tracker.forget(order[p][1] for p in ps)

        self._write(fn)

    @_op
    def clear(self) -> None:
        def fn(txn: Any) -> None:
            for db in self._dbs.values():
                txn.drop(db, delete=False)
            m = self._tx
            self._after_commit.append(functools.partial(remove_file, self._column_path(m["epoch"])))
            m.update(count=0, vec_rows=0, n_dead=0, dim=self.config.n_dim, epoch=m["epoch"] + 1,
                     seq=m["seq"] + 1, next_rid=0)

        self._write(fn)
        self.tracker.clear()

    @_op
    def reorder(self, order: Sequence[int]) -> None:
        """Permute: position i gets the Document that was at ``order[i]``."""
        if not self.list_like:
            raise BadInputError("this array was opened with list_like=False and has no order to sort")

        def fn(txn: Any) -> None:
            odb = self._dbs["order"]
            entries = [bytes(v) for _, v in txn.cursor(db=odb)]
            txn.drop(odb, delete=False)
            self._put_order(txn, [(i, entries[o]) for i, o in enumerate(order)])
            self._tx["seq"] += 1

        self._write(fn)

    # --- sync / close -----------------------------------------------------------------------------
    def _vectors_at(self, labels: np.ndarray) -> np.ndarray:
        return self.column.take(labels)

    def _sync_changed(self) -> None:
        changed = self.tracker.changed(self._vectors_at)
        if not changed:
            return

        def fn(txn: Any) -> None:
            # a Document deleted meanwhile (here or by another process) stays deleted
            ids_db = self._dbs["ids"]
            alive = [c for c in changed if txn.get(c[0].encode(), db=ids_db) is not None]
            if alive:
                self._update_txn(alive, txn)

        self._write(fn)

    @_op
    def sync(self) -> None:
        """Write back tracked Documents that were changed in place."""
        if not self.closed:
            self._meta()
            self._sync_changed()
            if self._index is not None:
                self._index.save(strict=False)

    @_op
    def close(self) -> None:
        if self.closed:
            return
        if self._index is not None:
            self._index.save(strict=False)
        self.closed = True
        self.tracker.clear()
        self._filter_cache.clear()
        self.column.close()
        release_env(self.e)

    # --- fast paths -------------------------------------------------------------------------------
    def _scan(self, txn: Any) -> Iterator[tuple[int, bytes]]:
        """(position, record) in order."""
        docs_db = self._dbs["docs"]
        if self.list_like:
            get = txn.get
            for k, v in txn.cursor(db=self._dbs["order"]):
                yield Q.unpack(k)[0], get(bytes(v[:8]), db=docs_db)
        else:
            for i, (_, v) in enumerate(txn.cursor(db=docs_db)):
                yield i, v

    def _filtered(self, filter: dict) -> np.ndarray:
        """(position, label) rows of the records passing ``filter``, in order, as an
        (n, 2) int64 array (label -1: no embedding). Kept for the snapshot read
        (:class:`~shoal.docstore.filter_cache.FilterCache`): the same filter on an
        unchanged store is not scanned again. Inside ``atomic()`` nothing is kept."""
        node = parse_filter(filter)
        pred = compile_filter(node)
        fields = fields_of(node)
        need_tags = "tags" in fields
        need_attrs = bool(fields - {"tags", "id", "text"})
        key = self._filter_cache.key(filter)
        positions, labels = [], []
        with self._read() as txn:
            snapshot = txn.id() if self._txn is None else None
            hit = self._filter_cache.get(key, snapshot)
            if hit is not None:
                return hit
            for pos, rec in self._scan(txn):
                doc_id, label, _, t, g, a, _ = unpack(rec)
                if pred(FilterView(doc_id, t, g, a, need_tags, need_attrs)):
                    positions.append(pos)
                    labels.append(-1 if label is None else label)
        rows = np.empty((len(positions), 2), dtype=np.int64)
        rows[:, 0] = positions
        rows[:, 1] = labels
        self._filter_cache.put(key, snapshot, rows)
        return rows

    @_op
    def filter_positions(self, filter: dict) -> list[int]:
        return self._filtered(filter)[:, 0].tolist()

    @_op
    @hint_unsaved_embeddings
    def embeddings_at(self, positions: Sequence[int] | np.ndarray | None) -> np.ndarray | None:
        with self._read() as txn:
            if positions is None:
                labels = [unpack(rec)[1] for _, rec in self._scan(txn)]
            else:
                positions = np.asarray(positions, dtype=np.int64).tolist()
                order = self._order_rows(txn, positions)
                recs = self._records(txn, [order[p][0] for p in positions])
                labels = [unpack(recs[order[p][0]])[1] for p in positions]
        if not labels:
            return None
        missing = sum(1 for lab in labels if lab is None)
        if missing == len(labels):
            return None
        if missing:
            raise EmptyArrayError(
                f"{missing} of {len(labels)} Documents have no embedding; embed all of them (or "
                "select those that have one)")
        self._meta()
        return self.column.take(np.asarray(labels, dtype=np.int64))

    @_op
    @hint_unsaved_embeddings
    def find_vectors(self, queries: np.ndarray, limit: int, metric: str = "cosine",
                     filter: dict | None = None, block_size: int | None = None,
                     **params: Any) -> tuple[np.ndarray, np.ndarray]:
        """Top-``limit`` (pre-filtered) as (scores, positions): the ANN index when configured
        for this metric, else exact over the vector column in ``block_size`` rows."""
        filtered = self._filtered(filter) if filter is not None else None
        return find_vectors(queries, limit, metric, meta=self._meta(), column=self.column,
                            block_size=block_size or self.config.block_size,
                            index=self._index, exact=self.in_write_transaction,
                            filtered=filtered, dead=lambda: self.dead_labels(None),
                            positions_of=self._positions_of_labels, params=params)

    def index_summary(self) -> str:
        """The vector index in one line, for ``da.summary()`` (see index_choice.describe)."""
        return describe(self._choice, self._index)

    @property
    def in_write_transaction(self) -> bool:
        """Whether this thread's ``atomic()`` block is open: searches are then exact over
        the vector column, which shows the block's own rows (the ANN index holds only
        committed ones and must not take rows a rollback would drop)."""
        return self._txn is not None

    @property
    def default_metric(self) -> str:
        """The metric searches use when none is given: the configured (or recorded) one,
        which the ANN index is built for."""
        return self._choice.metric

    @hint_unsaved_embeddings
    def find_matches(self, queries: np.ndarray, limit: int, metric: str = "cosine",
                     filter: dict | None = None, metric_name: str | None = None,
                     only_id: bool = False, block_size: int | None = None,
                     **params: Any) -> list[list[Document]]:
        """:meth:`find_vectors`, returning match Documents with scores (see the DocStore
        protocol and ``vectors.find_matches``): an unfiltered search maps vector labels
        straight to records (label -> row -> record) and decodes them untracked. Takes
        the store lock only around the steps that need it, so that the ANN searches of
        several threads run in parallel."""
        return _translated(find_matches, self, queries, limit, metric, filter, metric_name,
                           only_id, block_size, params)

    @_op
    def _match_docs_of_labels(self, labels: Sequence[int], epoch: int | None = None
                              ) -> tuple[list[Document | None], list[bool]]:
        """The Documents holding vector ``labels`` (sorted, unique), in that order, and
        which of them are new untracked objects (see ``materialize``); None for a label
        freed since the search that found it (its Document deleted or re-embedded).
        ColumnRewritten when the column is no longer at ``epoch`` (when given)."""
        lab = np.asarray(labels, dtype=np.int64)
        tracked = bool(len(self.tracker))  # Documents handed out may be changed in place
        for use_hints in (False,) if tracked else (True, False):
            with self._read() as txn:
                if epoch is not None and self._read_meta(txn, copy=False)["epoch"] != epoch:
                    raise ColumnRewritten
                recs = self._records_of_labels(txn, lab, use_hints)
            if recs is None:  # a hint led to no record: look every label up again
                continue
            keep = None
            if None in recs:  # freed since the search (never on the hinted path)
                keep = [i for i, r in enumerate(recs) if r is not None]
                recs = [recs[i] for i in keep]
            if tracked:
                fresh: list[bool] = []
                return spread(self._materialize(recs, fresh), fresh, keep, lab.size)
            docs, got, want = documents(recs)
            if use_hints and got != list(labels):
                self._label_rows.forget()  # a hint led to another record
                continue
            break
        if want:
            held = lab if keep is None else lab[keep]
            attach_embeddings(docs, want, held[want], self.column, self._meta, ascending=True)
        return spread(docs, [True] * len(docs), keep, lab.size)

    def _records_of_labels(self, txn: Any, labels: np.ndarray,
                           use_hints: bool = False) -> list[bytes | None] | None:
        """The records holding ``labels``: label -> row through the hints where known, else
        the labels table (then remembered); None for a label freed meanwhile (see
        :meth:`_match_docs_of_labels`). None when a hinted row has no record."""
        rows = (self._label_rows.hints(labels, self.column.path, ascending=True) if use_hints
                else np.full(labels.shape, -1, dtype=np.int64))
        freed = 0
        if not rows.size or rows.min() < 0:
            miss = np.flatnonzero(rows < 0)
            found = get_many(txn.cursor(db=self._dbs["labels"]), keys_of(labels[miss]))
            if None in found:
                gone = [j for j, r in enumerate(found) if r is None]
                self._check_freed(txn, labels[miss[gone]])
                found = [_NO_ROW if r is None else r for r in found]
                freed = len(gone)
            rows[miss] = np.frombuffer(b"".join(found), dtype=">i8")
            self._label_rows.learn(labels[miss], rows[miss])
        recs = get_many(txn.cursor(db=self._dbs["docs"]), keys_of(rows))
        self._search_reads.read(len(recs))  # bound RSS on stores bigger than RAM
        if None in recs:
            if use_hints:
                self._label_rows.forget()
                return None
            if sum(r is None for r in recs) != freed:
                raise CorruptStoreError(
                    f"vector labels point at missing Documents in {self.path}; run da.rebuild_index()")
        return recs

    def _check_freed(self, txn: Any, labels: np.ndarray) -> None:
        """Raise CorruptStoreError unless every one of ``labels`` (absent from the labels
        table) was freed by a write: else the index holds labels the store never had."""
        dead = get_many(txn.cursor(db=self._dbs["dead"]), keys_of(labels))
        n = sum(r is None for r in dead)
        if n:
            raise CorruptStoreError(
                f"{n} vector labels have no Document in {self.path}; run da.rebuild_index()")

    @_op
    def dead_labels(self, since_seq: int | None = None) -> np.ndarray:
        """Sorted vector labels freed (after write ``since_seq`` when given)."""
        out = []
        with self._read() as txn:
            for k, v in txn.cursor(db=self._dbs["dead"]):
                if since_seq is None or Q.unpack(v)[0] > since_seq:
                    out.append(Q.unpack(k)[0])
        return np.asarray(out, dtype=np.int64)

    @_op
    def rebuild_index(self, index: str | None = None, index_params: dict[str, Any] | None = None,
                      metric: str | None = None, show_progress: bool = True) -> None:
        """Rebuild the ANN index from the vector column, or switch it: ``index`` ('hnsw',
        'faiss', 'faiss:IVF16,Flat', 'exact' / 'none' = no ANN index), ``index_params``,
        ``metric``; None keeps the current value. The choice is recorded in the store."""
        if self._txn is not None:
            raise BadInputError("rebuild_index() cannot run inside atomic(); call it after the block")
        choice = requested(self._choice, index, index_params, metric)
        self._index = switch(self, self._index_dir(), choice, self.config.block_size,
                             self._record_choice, show_progress)
        self._choice = choice

    # --- the ANN index ---------------------------------------------------------------------
    def _index_dir(self) -> str:
        return os.path.join(self.path, f"{self.config.name}.index")

    def _open_index(self, raw: Any) -> None:
        stored = IndexChoice.from_json(raw)
        self._choice = resolve(self.config, stored)
        self._index = open_sync(self, self._index_dir(), self._choice, self.config.block_size)
        if stored != self._choice and (stored is not None or self._choice.kind is not None):
            self._record_choice(self._choice)

    def _record_choice(self, choice: IndexChoice) -> None:
        def fn(txn: Any) -> None:
            self._tx["index"] = choice.to_json()

        self._write(fn)

    def _positions_of_labels(self, labels: np.ndarray) -> np.ndarray:
        """Positions of the Documents holding vector ``labels`` (-1 where none): three batched
        lookups (label -> row, row -> id, id -> position), no record decoded beyond its id."""
        uniq = np.unique(labels[labels >= 0]).tolist()
        found: dict[int, int] = {}
        if uniq:
            with self._read() as txn:
                rows = get_many(txn.cursor(db=self._dbs["labels"]), keys_of(uniq))
                docs = txn.cursor(db=self._dbs["docs"])
                ids = {lab: record_id(rec) for lab, r in zip(uniq, rows) if r is not None
                       and (rec := docs.get(r)) is not None}
                if self.list_like:
                    names = list(ids.values())
                    pos = {i: QQ.unpack(v)[1] for i, v in zip(names, get_many(
                        txn.cursor(db=self._dbs["ids"]), [i.encode() for i in names])) if v is not None}
                    found = {lab: pos[i] for lab, i in ids.items() if i in pos}
                else:
                    found = {lab: self.position_of(i) for lab, i in ids.items()}
        flat = [found.get(lab, -1) for lab in labels.ravel().tolist()]
        return np.asarray(flat, dtype=np.int64).reshape(labels.shape)

    # --- maintenance ---------------------------------------------------------------------------------
    @_op
    def vacuum(self) -> None:
        """Compact the vector column and the LMDB file (deleted text and vectors are gone).

        The LMDB file is replaced, so no other array of this directory may be open, here
        or in another process (StoreError before anything is changed).
        """
        if self._txn is not None:
            raise BadInputError("vacuum() rewrites the files and cannot run inside atomic()")
        self.sync()
        if self.e.refs > 1:
            raise StoreError(
                f"vacuum of {self.path} needs the only open handle of this LMDB directory in this "
                "process; close the other arrays in it first")
        with self.e.alone():
            self._vacuum()

    def _vacuum(self) -> None:

        def fn(txn: Any) -> None:
            m = self._tx
            old_epoch = m["epoch"]
            docs_db, lab_db = self._dbs["docs"], self._dbs["labels"]
            live = [(Q.unpack(k)[0], bytes(v)) for k, v in txn.cursor(db=lab_db)]
            new = VectorColumn(self._column_path(old_epoch + 1), m["dim"], 0)
            bs = self.config.block_size
            lab = np.asarray([label for label, _ in live], dtype=np.int64)
            for start in range(0, lab.size, bs):
                new.write(start, self.column.take(lab[start:start + bs]))
            new.flush()
            new.close()
            txn.drop(lab_db, delete=False)
            txn.drop(self._dbs["dead"], delete=False)
            for i, (_, rid) in enumerate(live):
                doc_id, _, flags, t, g, a, blob = unpack(txn.get(rid, db=docs_db))
                txn.put(rid, pack(Row(doc_id, t, g, a, blob, None, bool(flags & IN_BLOB)), i),
                        db=docs_db)
                txn.put(key(i), rid, db=lab_db)
            self._after_commit.append(functools.partial(remove_file, self._column_path(old_epoch)))
            m.update(vec_rows=len(live), n_dead=0, epoch=old_epoch + 1, seq=m["seq"] + 1)

        self._write(fn)
        self.tracker.clear()
        self._compact_env()

    def _compact_env(self) -> None:
        """Rewrite data.mdb without its free pages (env.copy(compact=True)), then reopen."""
        e = self.e
        tmp = os.path.join(self.path, ".compact")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        e.acquire(self.config.timeout)
        try:
            e.env.copy(tmp, compact=True)
            e.env.close()
            os.replace(os.path.join(tmp, "data.mdb"), os.path.join(self.path, "data.mdb"))
            e.env = lmdb.open(self.path, map_size=max(self.config.map_size, 1 << 20), max_dbs=256,
                              max_readers=self.config.max_readers, subdir=True, lock=True)
            e.dbs.clear()
            self._dbs = {k: e.db(f"{self.config.name}:{k}", 0) for k in self._dbs}
            self._meta_db = e.db(_META, 0)
        finally:
            e.release()
            shutil.rmtree(tmp, ignore_errors=True)

    def stats(self) -> dict[str, Any]:
        """Counters: count, seq, vec_rows, n_dead, dim, epoch, version."""
        with self._lock:
            return dict(self._meta())
