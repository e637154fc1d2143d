"""A throwaway local PostgreSQL server for tests and benchmarks (not used by the stores).

``SHOAL_TEST_POSTGRES=1`` enables it; :func:`unavailable` says why it cannot run
(variable unset, no ``initdb`` / ``pg_ctl``, no psycopg). :func:`shared_server` starts one
server per process (initdb into a temp dir, a free loopback port, the unix socket in the
same temp dir, fsync off) and stops it at exit. As root the server runs as the
``postgres`` user (created with ``useradd`` when missing), since PostgreSQL refuses root.
"""
from __future__ import annotations

import atexit
import glob
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading

__all__ = ["ENV", "unavailable", "find_bin", "LocalPostgres", "shared_server"]

ENV = "SHOAL_TEST_POSTGRES"
_USER = "postgres"


def find_bin(name: str) -> str | None:
    """``name`` (initdb, pg_ctl) from Debian's /usr/lib/postgresql/<newest>/bin, else PATH."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0)
    for d in reversed(dirs):
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    return shutil.which(name)


def unavailable() -> str | None:
    """Why a local server cannot be used here, or None when it can."""
    if os.environ.get(ENV) != "1":
        return f"PostgreSQL tests run only with {ENV}=1"
    for name in ("initdb", "pg_ctl"):
        if find_bin(name) is None:
            return f"{name} not found (install Debian's postgresql package)"
    try:
        import psycopg  # noqa: F401, PLC0415
    except ImportError:
        return "psycopg is not installed (pip install 'psycopg[binary]>=3.1,<4')"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalPostgres:
    """One server in a temp dir: :meth:`start`, :attr:`url`, :meth:`stop`."""

    def __init__(self, database: str = "shoal_test") -> None:
        self.database = database
        self.dir = tempfile.mkdtemp(prefix="shoal-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        self.url = f"postgresql+psycopg://shoal@127.0.0.1:{self.port}/{database}"
        self._as_root = os.geteuid() == 0
        self.started = False

    def _run(self, *argv: str) -> None:
        cmd = list(argv)
        if self._as_root and shutil.which("runuser"):
            cmd = ["runuser", "-u", _USER, "--", *cmd]
        elif self._as_root:
            cmd = ["su", "-s", "/bin/sh", _USER, "-c", shlex.join(cmd)]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:2])} failed: {res.stderr.strip() or res.stdout.strip()}")

    def start(self) -> LocalPostgres:
        if self._as_root:
            try:
                import pwd  # noqa: PLC0415

                pwd.getpwnam(_USER)
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", _USER], check=True)
            shutil.chown(self.dir, _USER)
        os.chmod(self.dir, 0o700)
        self._run(find_bin("initdb"), "-D", self.data, "-U", "shoal", "--auth=trust",
                  "-E", "UTF8", "--no-sync", "--no-instructions")
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(find_bin("pg_ctl"), "-D", self.data, "-o", opts, "-l",
                  os.path.join(self.dir, "log"), "-w", "-t", "30", "start")
        self.started = True
        import psycopg  # noqa: PLC0415

        with psycopg.connect(f"postgresql://shoal@127.0.0.1:{self.port}/postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        return self

    def stop(self) -> None:
        if self.started:
            try:
                self._run(find_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop")
            except (RuntimeError, subprocess.SubprocessError, OSError):
                pass
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)


_shared: LocalPostgres | None = None
_shared_lock = threading.Lock()


def shared_server() -> LocalPostgres:
    """The process' one test server (started on first use, stopped at exit)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            server = LocalPostgres()
            try:
                server.start()
            except BaseException:
                server.stop()
                raise
            atexit.register(server.stop)
            _shared = server
        return _shared
