"""The worker process: one executor replica served over gRPC on loopback.

Run by :class:`~shoal.serve.runtime.process.ProcessWorker` as
``python -m shoal.serve.runtime.worker`` (see :mod:`.protocol` for the handshake).
Nothing received is unpickled or evaluated: requests are protobuf, the config is JSON.
It exits on SIGTERM / SIGINT (closing the executor once) or when its parent dies.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import traceback
from typing import Any

from shoal.serve.runtime.protocol import CONFIG_ENV, FD_ENV, LOADING_ENV, METHOD, unpack

__all__ = ["main", "load_from_config", "load_guarded", "handle", "extend_sys_path"]


def _set_parent_death_signal() -> None:
    """Ask Linux to SIGTERM us when the parent dies (no orphans even on SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes  # noqa: PLC0415

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def extend_sys_path(cfg: dict[str, Any]) -> None:
    """Put the parent's ``sys.path`` entries first, so its modules import here too."""
    for path in reversed(cfg.get("sys_path") or []):
        if path not in sys.path:
            sys.path.insert(0, path)


def load_from_config(cfg: dict[str, Any]) -> Any:
    """Import what the config names and build the executor."""
    from shoal.executors.loader import import_py_modules, load_executor  # noqa: PLC0415

    uses = cfg.get("uses")
    cls_ref = cfg.get("class")
    if cls_ref:
        import importlib  # noqa: PLC0415

        module = cls_ref.get("module")
        try:
            if module and module != "__main__":
                importlib.import_module(module)
            else:
                raise ImportError(module)
        except ImportError:
            import_py_modules([cls_ref["file"]], required=True)
        uses = cls_ref["name"]
    runtime_args = dict(cfg.get("runtime_args") or {})
    if cfg.get("monitoring"):
        from shoal.executors.monitor import Metrics  # noqa: PLC0415

        runtime_args["metrics"] = metrics = Metrics()
        if cfg.get("port_monitoring"):
            metrics.serve(int(cfg["port_monitoring"]))
    return load_executor(
        uses, uses_with=cfg.get("uses_with"), uses_metas=cfg.get("uses_metas"),
        uses_requests=cfg.get("uses_requests"), runtime_args=runtime_args,
        workspace=cfg.get("workspace"), py_modules=cfg.get("py_modules"),
        base_dir=cfg.get("base_dir"), name=cfg.get("name"), context=cfg.get("context"))


async def handle(executor: Any, name: str, raw: bytes) -> bytes:
    """Run one ``RequestProto`` through ``executor``; an exception becomes an error response."""
    from shoal.document.codec import request_from_bytes, request_to_bytes  # noqa: PLC0415
    from shoal.document.request import ErrorInfo  # noqa: PLC0415
    from shoal.executors.handler import invoke_async, invoke_sync, prepare  # noqa: PLC0415

    parts = unpack(request_from_bytes(raw))
    try:
        call = prepare(executor, parts)
        if call.fn is None:
            resp = call.request
        elif call.is_async:
            resp = await invoke_async(executor, call)
        else:  # the process serves this executor only: run it on the loop thread
            resp = invoke_sync(executor, call)
    except Exception as exc:  # noqa: BLE001 - reported in the response
        resp = parts[0]
        resp.set_error(ErrorInfo(name=type(exc).__name__, message=str(exc), executor=name,
                                 traceback="".join(traceback.format_exception(exc))))
    return request_to_bytes(resp)


def load_guarded(cfg: dict[str, Any]) -> Any:
    """:func:`load_from_config` with ``LOADING_ENV`` set (a script imported here must not
    start its own Flow)."""
    os.environ[LOADING_ENV] = "1"
    try:
        return load_from_config(cfg)
    finally:
        os.environ.pop(LOADING_ENV, None)


async def _serve(cfg: dict[str, Any], report: Any) -> None:
    import grpc  # noqa: PLC0415

    executor = load_guarded(cfg)
    name = cfg.get("name") or executor.metas.name

    async def process(raw: bytes, context: Any) -> bytes:
        return await handle(executor, name, raw)

    server = grpc.aio.server(options=[("grpc.max_receive_message_length", -1),
                                      ("grpc.max_send_message_length", -1),
                                      ("grpc.so_reuseport", 0)])
    service, _, method = METHOD.strip("/").partition("/")
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        service, {method: grpc.unary_unary_rpc_method_handler(process)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    report({"port": port, "endpoints": list(executor.requests), "pid": os.getpid()})
    parent = cfg.get("parent_pid")

    async def watch_parent() -> None:
        while not stop.is_set():
            if parent and os.getppid() != parent:
                stop.set()
            await asyncio.sleep(1.0)

    watcher = asyncio.ensure_future(watch_parent())
    await stop.wait()
    watcher.cancel()
    await server.stop(grace=1.0)
    try:
        executor._shoal_close()  # noqa: SLF001
    except Exception:  # noqa: BLE001
        traceback.print_exc()


def main() -> int:
    _set_parent_death_signal()
    cfg = json.loads(os.environ[CONFIG_ENV])
    fd = int(os.environ.get(FD_ENV, "-1"))
    parent = cfg.get("parent_pid")
    if parent and os.getppid() != parent:  # the parent died before prctl took effect
        return 1

    def report(message: dict[str, Any]) -> None:
        if fd >= 0:
            os.write(fd, (json.dumps(message) + "\n").encode())

    extend_sys_path(cfg)
    try:
        asyncio.run(_serve(cfg, report))
    except Exception as exc:  # noqa: BLE001 - told to the parent, then exit non-zero
        report({"error": f"{type(exc).__name__}: {exc}"})
        traceback.print_exc()
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
