"""``shoal flow``, ``shoal executor``, ``shoal ping``: serve and check from a shell (Jina 3's).

``flow`` and ``executor`` start a gateway, print one ``serving ... at PROTOCOL://HOST:PORT``
line and block until Ctrl-C or SIGTERM, then close every executor cleanly.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from typing import Any, Iterator

from shoal.errors import BadInputError

__all__ = ["add_parsers", "run_flow", "run_executor", "run_ping"]

PROTOCOLS = ("grpc", "http", "websocket")

FLOW_EPILOG = """\
examples:
  shoal flow --uses flow.yml
      serve the Flow of flow.yml (its `with:` sets protocol / port) until Ctrl-C
  shoal flow --uses flow.yml --protocol http --port 8080
      the same, overriding the gateway of the YAML
  PORT=8080 shoal flow --uses flow.yml
      flow.yml may read environment variables: `port: ${{ ENV.PORT }}`

then, from another shell:
  shoal ping localhost:8080 --protocol http
  curl -X POST localhost:8080/search -H 'Content-Type: application/json' \\
       -d '{"data": [{"text": "hello"}]}'
"""

EXECUTOR_EPILOG = """\
examples:
  shoal executor --uses config.yml --port 12345
      serve the Executor of config.yml (jtype:, with:, py_modules:) over gRPC
  shoal executor --uses my_module.MyExecutor --port 8080 --protocol http
      import my_module (from the current folder) and serve MyExecutor over HTTP
  shoal executor --uses MyExecutor --py-modules executor.py --uses-with '{"dim": 64}'
      the class from a file, with constructor arguments as JSON

then, from Python:
  from shoal import Client
  Client(port=12345).post('/', inputs=...)
"""

PING_EPILOG = """\
examples:
  shoal ping localhost:12345                   a gRPC gateway (exit status 0 if it answers)
  shoal ping http://localhost:8080             the protocol from the scheme
  shoal ping localhost:8080 --protocol websocket --timeout 5 --attempts 3
"""


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``flow``, ``executor`` and ``ping`` on the ``shoal`` command."""
    _add_flow(sub)
    _add_executor(sub)
    _add_ping(sub)


def _parser(sub: argparse._SubParsersAction, name: str, help_: str, description: str,
            epilog: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help_, description=description, epilog=epilog,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _add_gateway_args(p: argparse.ArgumentParser, from_yaml: bool) -> None:
    yaml_first = "the YAML's, else " if from_yaml else ""
    p.add_argument("--port", type=int, default=None,
                   help=f"gateway port (default: {yaml_first}a free one, printed at start)")
    p.add_argument("--protocol", choices=PROTOCOLS, default=None,
                   help=f"gateway protocol (default: {yaml_first}grpc)")
    p.add_argument("--host", default=None, help="address to listen on (default 0.0.0.0)")
    p.add_argument("--monitoring", action="store_true", default=None,
                   help="time requests and executor methods into Prometheus metrics")
    p.add_argument("--port-monitoring", type=int, default=None, metavar="PORT",
                   help="serve those metrics at http://HOST:PORT/metrics")


def _add_flow(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "flow", "serve a Flow from YAML until Ctrl-C / SIGTERM",
                "Loads a Flow YAML (jtype: Flow, with:, executors:), starts it with a "
                "gateway and blocks until Ctrl-C or SIGTERM, like `jina flow --uses`.",
                FLOW_EPILOG)
    p.add_argument("--uses", required=True, metavar="FLOW_YML", help="the Flow YAML file")
    _add_gateway_args(p, from_yaml=True)
    p.set_defaults(func=run_flow)


def _add_executor(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "executor", "serve one Executor (a Deployment) until Ctrl-C / SIGTERM",
                "Serves one Executor behind its own gateway (a Deployment) and blocks until "
                "Ctrl-C or SIGTERM, like `jina executor --uses`.", EXECUTOR_EPILOG)
    p.add_argument("--uses", required=True, metavar="USES",
                   help="an Executor YAML, module.Class, or a class name from --py-modules")
    _add_gateway_args(p, from_yaml=False)
    p.add_argument("--uses-with", type=_json_object, default=None, metavar="JSON",
                   help="constructor arguments as a JSON object")
    p.add_argument("--py-modules", nargs="+", default=None, metavar="FILE",
                   help="Python files or modules to import first")
    p.add_argument("--replicas", type=int, default=1,
                   help="copies of the executor behind the gateway (round robin)")
    p.add_argument("--name", default=None, help="the Deployment's name")
    p.set_defaults(func=run_executor)


def _add_ping(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "ping", "check that a gateway answers (exit status 0 if it does)",
                "Asks a Flow / Executor gateway for its health, like `jina ping`.",
                PING_EPILOG)
    p.add_argument("target", nargs="+", metavar="ADDRESS",
                   help="HOST:PORT or PROTOCOL://HOST:PORT (Jina's `ping flow ADDRESS` too)")
    p.add_argument("--protocol", choices=PROTOCOLS, default=None,
                   help="gateway protocol (default: from the address, else grpc)")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds per attempt")
    p.add_argument("--attempts", type=int, default=1, help="tries before giving up")
    p.set_defaults(func=run_ping)


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, e.g. '{\"dim\": 64}'")
    return value


def _gateway_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in ("port", "protocol", "host", "monitoring",
                                          "port_monitoring")
            if getattr(args, k, None) is not None}


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT / SIGTERM while the block runs (handlers restored after)."""
    event = threading.Event()
    sigs = [signal.SIGINT, signal.SIGTERM]
    previous = {s: signal.signal(s, lambda *_: event.set()) for s in sigs}
    try:
        yield event
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def importable_from_cwd() -> None:
    """``module.Class`` in a YAML or ``--uses`` imports from the current folder, as with
    ``python -m``."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def _serve(flow: Any, what: str) -> int:
    with _stop_on_signals() as stop, flow:
        flow.port  # noqa: B018 - opens the gateway when none was asked for
        print(f"serving {what} at {', '.join(flow.addresses)} (Ctrl-C or SIGTERM to stop)",
              flush=True)
        flow.block(stop_event=stop, announce=False)
    print("stopped", flush=True)
    return 0


def run_flow(args: argparse.Namespace) -> int:
    """``shoal flow --uses flow.yml``."""
    from shoal.flow import Flow  # noqa: PLC0415

    if not os.path.isfile(args.uses):
        raise BadInputError(f"--uses {args.uses}: no such file; give a Flow YAML path")
    importable_from_cwd()
    flow = Flow.load_config(args.uses, **_gateway_kwargs(args))
    return _serve(flow, f"Flow {args.uses}")


def run_executor(args: argparse.Namespace) -> int:
    """``shoal executor --uses exec.yml|module.Class``."""
    from shoal.flow import Deployment  # noqa: PLC0415

    importable_from_cwd()
    uses = os.path.abspath(args.uses) if os.path.isfile(args.uses) else args.uses
    kwargs: dict[str, Any] = {"protocol": "grpc", **_gateway_kwargs(args)}
    for key in ("uses_with", "py_modules", "name"):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
    if args.replicas != 1:
        kwargs["replicas"] = args.replicas
    return _serve(Deployment(uses=uses, **kwargs), f"Executor {args.uses}")


def run_ping(args: argparse.Namespace) -> int:
    """``shoal ping ADDRESS``: 0 if the gateway answers within the attempts, else 1."""
    from shoal.client import Client  # noqa: PLC0415

    target = args.target
    if len(target) == 2 and target[0] in ("flow", "executor", "gateway"):
        target = target[1:]
    if len(target) != 1:
        raise BadInputError(f"ping takes one ADDRESS (HOST:PORT), got {' '.join(args.target)}")
    address = target[0]
    host, port = _host_port(address)
    with Client(host=address, protocol=args.protocol) as client:
        for attempt in range(max(1, args.attempts)):
            if attempt:
                time.sleep(min(1.0, args.timeout))
            if client.is_flow_ready(timeout=args.timeout):
                print(f"{address} is ready")
                return 0
    hint = ""
    if args.protocol is None and "://" not in address and _listening(host, port):
        hint = (f"; something listens on port {port} but does not answer gRPC - if it is an "
                "HTTP or WebSocket gateway, add --protocol http (or websocket)")
    print(f"{address} did not answer{hint}", file=sys.stderr)
    return 1


def _host_port(address: str) -> tuple[str, int]:
    """HOST and PORT of ``[scheme://]host:port`` (a usage error without a port)."""
    rest = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise BadInputError(f"ping: give the gateway's HOST:PORT, e.g. localhost:12345 or "
                            f"http://localhost:12345, got {address!r}")
    return host.strip("[]"), int(port)


def _listening(host: str, port: int) -> bool:
    """Whether a TCP connection to host:port opens (a quick look, 0.5 s)."""
    import socket  # noqa: PLC0415

    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
