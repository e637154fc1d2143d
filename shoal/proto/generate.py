"""Regenerate shoal_pb2.py (+ .pyi stubs) and shoal_pb2_grpc.py from shoal.proto, and
docarray021_pb2.py (+ .pyi) from docarray021.proto (DocArray 0.21's schema, messages only).

    python shoal/proto/generate.py            # in place, from anywhere

Needs ``grpcio-tools``. The generated ``_grpc`` module's bare ``import shoal_pb2`` is
rewritten to ``from shoal.proto import shoal_pb2`` so it works as a package import.
The generated code pins the protobuf runtime it needs (see ``shoal/proto/__init__.py``).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
GENERATED = ("shoal_pb2.py", "shoal_pb2.pyi", "shoal_pb2_grpc.py", "docarray021_pb2.py",
             "docarray021_pb2.pyi")


def generate(out_dir: Path = HERE) -> None:
    """Run protoc on shoal.proto and docarray021.proto, writing into ``out_dir``."""
    from grpc_tools import protoc  # noqa: PLC0415

    include = Path(protoc.__file__).resolve().parent / "_proto"
    args = ["grpc_tools.protoc", f"-I{HERE}", f"-I{include}", f"--python_out={out_dir}",
            f"--pyi_out={out_dir}", f"--grpc_python_out={out_dir}", str(HERE / "shoal.proto")]
    code = protoc.main(args)
    if code != 0:
        raise RuntimeError(f"protoc failed with exit code {code}")
    code = protoc.main(args[:5] + [str(HERE / "docarray021.proto")])  # no services
    if code != 0:
        raise RuntimeError(f"protoc failed on docarray021.proto with exit code {code}")
    grpc_file = Path(out_dir) / "shoal_pb2_grpc.py"
    text = re.sub(r"^import shoal_pb2 as", "from shoal.proto import shoal_pb2 as",
                  grpc_file.read_text(), flags=re.M)
    grpc_file.write_text(text)


def main() -> int:
    try:
        generate()
    except (ImportError, RuntimeError) as exc:
        print(f"cannot generate: {exc}", file=sys.stderr)
        return 1
    print(f"generated {', '.join(GENERATED)} in {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
