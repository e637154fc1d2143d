"""The ``shoal`` command line: ``shoal hello``, ``shoal new``, and more."""
from __future__ import annotations

import argparse
import sys

from shoal import __version__
from shoal.errors import ShoalError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shoal",
        description="shoal: neural search with the Jina 3 / DocArray vocabulary.\n\n"
                    "Start with `shoal hello` (a search demo over Python's docs) or\n"
                    "`shoal new my-app` (a project skeleton with an Executor and a Flow).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"shoal {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from shoal.cli import hello, new  # noqa: PLC0415

    hello.add_parser(sub)
    new.add_parser(sub)
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
