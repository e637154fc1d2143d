"""Crash-safe index directories: generation-named files plus a JSON meta swapped in last.

Layout of an index directory::

    meta.json                 {"format_version", "backend", "dim", "metric", "params",
                               "search_params", "count", "applied_seq", "generation",
                               "files": {role: {"name", "size", "crc32"}}, "extra"}
    <role>-<generation>.<ext> one file per role (native index, label arrays ...)

Every file is written to a temp name, fsynced and renamed; ``meta.json`` is replaced
last, so a crash at any point leaves either the old or the new index, never a mix.
Files of older generations are deleted after the swap, and so are those of a save a crash
interrupted (or that a corrupt meta no longer names). Saves hold an exclusive ``flock`` on
``.save.lock`` (:func:`locked_dir`), so those of several processes sharing the directory
run one at a time; a reader holding it shared sees one whole save.
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import re
import threading
import uuid
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from shoal.errors import CorruptStoreError, InvalidConfigError, StoreNotWritableError

__all__ = ["FORMAT_VERSION", "META_NAME", "LOCK_NAME", "locked_dir", "save_bundle",
           "load_bundle", "read_meta", "npy_writer", "load_npy"]

FORMAT_VERSION = 1
META_NAME = "meta.json"
LOCK_NAME = ".save.lock"
_CHUNK = 1 << 22
_GENERATION = re.compile(r"[0-9a-f]{12}")  # the name part of a file of one save


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def npy_writer(arr: np.ndarray) -> Callable[[Path], None]:
    """A writer for :func:`save_bundle` that stores ``arr`` as a ``.npy`` file."""
    def write(path: Path) -> None:
        with open(path, "wb") as f:
            np.save(f, np.ascontiguousarray(arr), allow_pickle=False)
    return write


def load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise CorruptStoreError(f"index file {path} cannot be read ({exc}); rebuild the index") from exc


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``meta.json`` of an index directory, or CorruptStoreError."""
    meta_path = Path(path) / META_NAME
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorruptStoreError(f"no index at {path} ({META_NAME} is missing); build it") from None
    except (OSError, ValueError) as exc:
        raise CorruptStoreError(f"index meta {meta_path} is unreadable ({exc}); rebuild the index") from exc
    if not isinstance(meta, dict) or "format_version" not in meta or "backend" not in meta:
        raise CorruptStoreError(f"index meta {meta_path} is not a shoal index meta; rebuild the index")
    if meta["format_version"] != FORMAT_VERSION:
        raise CorruptStoreError(
            f"index at {path} has format_version {meta['format_version']!r}, this shoal reads "
            f"{FORMAT_VERSION}; rebuild the index from the store (or upgrade shoal)"
        )
    return meta


_HELD = threading.local()  # the index directories this thread holds the lock of
#: flock errors meaning "not supported here": saves then go ahead unlocked, as before locks
_NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL}


@contextlib.contextmanager
def locked_dir(path: str | os.PathLike[str], shared: bool = False) -> Iterator[None]:
    """Hold the lock of an index directory (an ``flock`` on its ``.save.lock``): exclusive
    to save into it, ``shared`` to read one whole save from it. Other processes and
    threads wait; the thread holding it may enter again (a shared hold is not upgraded).
    A shared lock where this process cannot create the lock file goes ahead unlocked
    (this process cannot save there either), and so does any lock on a file system
    without ``flock`` support."""
    root = os.path.realpath(path)
    held = _HELD.__dict__.setdefault("paths", set())
    if root in held:
        yield
        return
    fd = _open_lock(root, shared)
    if fd is None:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        except OSError as exc:  # a file system without flock (some network mounts)
            if exc.errno not in _NO_FLOCK:
                raise
        held.add(root)
        try:
            yield
        finally:
            held.discard(root)
    finally:
        os.close(fd)  # releases the lock


def _open_lock(root: str, shared: bool) -> int | None:
    lock = os.path.join(root, LOCK_NAME)
    try:
        return os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if not shared:
            raise StoreNotWritableError(f"cannot lock index directory {root}: {exc}") from exc
    try:
        return os.open(lock, os.O_RDONLY)
    except OSError:
        return None


def save_bundle(path: str | os.PathLike[str], meta: dict[str, Any],
                writers: dict[str, tuple[str, Callable[[Path], None]]]) -> None:
    """Write ``writers`` (role -> (extension, writer(path))) and ``meta`` atomically into
    ``path``, holding its lock (see :func:`locked_dir`): saves of several processes
    sharing the directory run one at a time, so none removes the files of another."""
    root = Path(path)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreNotWritableError(f"cannot create index directory {root}: {exc}") from exc
    with locked_dir(root):
        _save_locked(root, meta, writers)


def _save_locked(root: Path, meta: dict[str, Any],
                 writers: dict[str, tuple[str, Callable[[Path], None]]]) -> None:
    try:
        old = read_meta(root)
    except CorruptStoreError:
        old = None
    gen = uuid.uuid4().hex[:12]
    files: dict[str, dict[str, Any]] = {}
    try:
        for role, (ext, write) in writers.items():
            name = f"{role}-{gen}{ext}"
            tmp = root / f"{name}.tmp"
            write(tmp)
            _fsync_path(tmp)
            os.replace(tmp, root / name)
            files[role] = {"name": name, "size": (root / name).stat().st_size,
                           "crc32": _crc32(root / name)}
        full = {**meta, "format_version": FORMAT_VERSION, "generation": gen, "files": files}
        tmp = root / f"{META_NAME}.{gen}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(full, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, root / META_NAME)  # the commit point
    except BaseException as exc:  # leave the previous generation exactly as it was
        for info in files.values():
            (root / info["name"]).unlink(missing_ok=True)
        for stray in root.glob(f"*{gen}*.tmp"):
            stray.unlink(missing_ok=True)
        if isinstance(exc, (OSError, RuntimeError)):  # RuntimeError: hnswlib / faiss writers
            raise StoreNotWritableError(f"cannot write index to {root}: {exc}") from exc
        raise
    try:
        _fsync_path(root)  # make the rename durable
    except OSError as exc:
        raise StoreNotWritableError(f"cannot fsync index directory {root}: {exc}") from exc
    keep = {info["name"] for info in files.values()} | {META_NAME}
    if old is not None:
        for info in old.get("files", {}).values():
            if info.get("name") not in keep:
                (root / str(info.get("name"))).unlink(missing_ok=True)
    for role, (ext, _) in writers.items():  # left by a crash, or under a corrupt meta
        for orphan in root.glob(f"{role}-*{ext}"):
            gen_part = orphan.name[len(role) + 1:len(orphan.name) - len(ext)]
            if orphan.name not in keep and _GENERATION.fullmatch(gen_part):
                orphan.unlink(missing_ok=True)
    for stray in root.glob("*.tmp"):
        stray.unlink(missing_ok=True)


def load_bundle(path: str | os.PathLike[str], *, verify: bool = True
                ) -> tuple[dict[str, Any], dict[str, Path]]:
    """``(meta, role -> file path)`` of an index directory, checked for size and CRC."""
    root = Path(path)
    meta = read_meta(root)
    paths: dict[str, Path] = {}
    for role, info in meta.get("files", {}).items():
        p = root / str(info.get("name", ""))
        try:
            size = p.stat().st_size
        except OSError:
            raise CorruptStoreError(f"index file {p} is missing; rebuild the index") from None
        if size != info.get("size"):
            raise CorruptStoreError(
                f"index file {p} has {size} bytes, expected {info.get('size')}; rebuild the index")
        if verify and _crc32(p) != info.get("crc32"):
            raise CorruptStoreError(f"index file {p} fails its checksum; rebuild the index")
        paths[role] = p
    return meta, paths


def config_from_meta(config_cls: Any, meta: dict[str, Any], runtime: dict[str, Any],
                     path: str | os.PathLike[str], backend: str) -> Any:
    """The config saved in ``meta`` (CorruptStoreError if it is unusable), with the
    search-time ``runtime`` options of :meth:`load` applied on top."""
    try:
        config = config_cls(dim=meta["dim"], metric=meta["metric"], **meta["params"],
                            **meta.get("search_params", {}))
    except (KeyError, TypeError, InvalidConfigError) as exc:
        raise CorruptStoreError(f"index meta at {path} is invalid ({exc}); rebuild it") from exc
    try:
        return dataclasses.replace(config, **runtime)
    except TypeError as exc:
        raise InvalidConfigError(f"unknown option for the {backend} index: {exc}") from exc
