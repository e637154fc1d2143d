"""The ``shoal`` command line: ``hello``, ``new``, ``flow``, ``executor``, ``ping``,
``export``."""
from __future__ import annotations

import argparse
import sys

from shoal import __version__
from shoal.errors import ShoalError

__all__ = ["main", "build_parser"]

EPILOG = """\
examples:
  shoal hello                               search Python's docs (a demo)
  shoal new my-app                          a project skeleton: app.py, flow.yml, executor1/
  shoal flow --uses flow.yml                serve a Flow from YAML until Ctrl-C
  shoal executor --uses config.yml --port 12345 --protocol http
                                            serve one Executor behind a gateway
  shoal ping localhost:12345                check that a gateway answers
  shoal export kubernetes flow.yml k8s/     Kubernetes manifests (docker-compose: one file)

`shoal COMMAND --help` shows each command's options and examples."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shoal",
        description="shoal: neural search with the Jina 3 / DocArray vocabulary.\n\n"
                    "Start with `shoal hello` (a search demo over Python's docs) or\n"
                    "`shoal new my-app` (a project skeleton with an Executor and a Flow).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"shoal {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from shoal.cli import export, hello, new, run  # noqa: PLC0415

    hello.add_parser(sub)
    new.add_parser(sub)
    run.add_parsers(sub)
    export.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except ShoalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
