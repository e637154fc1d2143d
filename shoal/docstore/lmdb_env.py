"""LMDB environments: one per directory and process, shared by the arrays in it.

LMDB forbids opening the same environment twice in one process, so stores of the same
directory share an :class:`Env` (reference counted; a forked child opens its own, after
closing the one it inherited). The
``shoal-writer.lock`` file lock in front of LMDB's own writer mutex turns a long wait for
another process' write transaction into StoreLockedError after a timeout. Every process
holding the directory open keeps a shared lock on ``shoal-open.lock``; ``vacuum``, which
replaces the LMDB file, needs it exclusively (:meth:`Env.alone`), so it never runs
under another process' open environment.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from typing import Any, Iterator

import lmdb

from shoal.errors import CorruptStoreError, StoreError, StoreLockedError, StoreNotWritableError

from shoal.docstore.config import LmdbConfig

__all__ = ["Env", "acquire_env", "release_env"]


def _flock(fd: int, mode: int, timeout: float) -> bool:
    """``flock(fd, mode)``, retried for up to ``timeout`` seconds; False when it timed out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)


class Env:
    def __init__(self, path: str, cfg: LmdbConfig) -> None:
        self.openfd = os.open(os.path.join(path, "shoal-open.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        if not _flock(self.openfd, fcntl.LOCK_SH, cfg.timeout):  # a vacuum is replacing the file
            os.close(self.openfd)
            raise StoreLockedError(
                f"the LMDB store {path} is being vacuumed by another process for more than "
                f"timeout={cfg.timeout}s; retry later")
        try:
            self.env = lmdb.open(path, map_size=cfg.map_size, max_dbs=256,
                                 max_readers=cfg.max_readers, subdir=True, lock=True)
        except lmdb.InvalidError as exc:
            os.close(self.openfd)
            raise CorruptStoreError(
                f"{path} is not a readable LMDB store ({exc}); restore it from a backup") from exc
        except lmdb.Error as exc:
            os.close(self.openfd)
            raise StoreNotWritableError(f"cannot open the LMDB store at {path}: {exc}") from exc
        self.path = path
        self.pid = os.getpid()
        self.refs = 0
        self.lock = threading.RLock()
        self.depth = 0
        self.lockfd = os.open(os.path.join(path, "shoal-writer.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        self.dbs: dict[str, Any] = {}

    def db(self, name: str, timeout: float) -> Any:
        """The handle of a named sub-database.

        LMDB hands out a handle that outlives its transaction only from a write
        transaction, so the first open in a process waits (up to ``timeout``) for the
        current writer; handles are then cached for the life of the environment.
        """
        h = self.dbs.get(name)
        if h is None:
            self.acquire(timeout)
            try:
                h = self.dbs[name] = self.env.open_db(name.encode())
            finally:
                self.release()
        return h

    def acquire(self, timeout: float) -> None:
        """Take the cross-process writer lock, waiting at most ``timeout`` seconds."""
        if not self.lock.acquire(timeout=timeout if timeout > 0 else -1):
            raise StoreLockedError(f"another thread holds the writer lock of {self.path}")
        if self.depth == 0:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(self.lockfd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        self.lock.release()
                        raise StoreLockedError(
                            f"the LMDB store {self.path} is locked by another writer for more than "
                            f"timeout={timeout}s; retry later, or open it with a larger "
                            "config['timeout']") from None
                    time.sleep(0.005)
        self.depth += 1

    @contextlib.contextmanager
    def alone(self) -> Iterator[None]:
        """Hold ``shoal-open.lock`` exclusively: no other process has this directory open
        (nor opens it) meanwhile. StoreError at once when another process has it open."""
        if not _flock(self.openfd, fcntl.LOCK_EX, 0):
            raise StoreError(
                f"another process has the LMDB store {self.path} open; vacuum() replaces its "
                "file, so close the store in every other process first")
        try:
            yield
        finally:
            fcntl.flock(self.openfd, fcntl.LOCK_SH)

    def release(self) -> None:
        self.depth -= 1
        if self.depth == 0:
            fcntl.flock(self.lockfd, fcntl.LOCK_UN)
        self.lock.release()

    def grow(self) -> None:
        size = self.env.info()["map_size"]
        self.env.set_mapsize(size * 2)


_ENVS: dict[str, Env] = {}
_ENVS_LOCK = threading.Lock()


def acquire_env(path: str, cfg: LmdbConfig) -> Env:
    with _ENVS_LOCK:
        e = _ENVS.get(path)
        if e is not None and e.pid != os.getpid():  # inherited through fork
            _forget_inherited(e)
            e = None
        if e is None:
            e = _ENVS[path] = Env(path, cfg)
        e.refs += 1
        return e


def _forget_inherited(e: Env) -> None:
    """Drop, in a forked child, the environment the parent had open (LMDB: a child must
    not use it, and py-lmdb refuses to open its files again while it is open). Closing it
    here touches only this process: LMDB clears the reader slots of the closing pid, and
    the parent's fcntl / flock locks stay the parent's (the shared lock descriptions are
    not unlocked, only this process' descriptors closed). Arrays the child inherited
    then raise on use instead of sharing the parent's handle."""
    try:
        e.env.close()
    except Exception:  # noqa: BLE001 - already closed, or a handle LMDB will not close
        pass
    for fd in (e.lockfd, e.openfd):
        try:
            os.close(fd)
        except OSError:
            pass


def release_env(e: Env) -> None:
    with _ENVS_LOCK:
        e.refs -= 1
        if e.refs <= 0 and _ENVS.get(e.path) is e:
            del _ENVS[e.path]
            e.env.close()
            os.close(e.lockfd)
            os.close(e.openfd)
