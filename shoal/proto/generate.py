"""Regenerate shoal_pb2.py (+ .pyi stubs) / shoal_pb2_grpc.py from shoal.proto (run from anywhere).

    python shoal/proto/generate.py

Needs ``grpcio-tools``. The generated ``_grpc`` module's bare ``import shoal_pb2`` is
rewritten to ``from shoal.proto import shoal_pb2`` so it works as a package import.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    from grpc_tools import protoc  # noqa: PLC0415

    include = Path(protoc.__file__).resolve().parent / "_proto"
    args = ["grpc_tools.protoc", f"-I{HERE}", f"-I{include}", f"--python_out={HERE}",
            f"--pyi_out={HERE}", f"--grpc_python_out={HERE}", str(HERE / "shoal.proto")]
    code = protoc.main(args)
    if code != 0:
        print(f"protoc failed with exit code {code}", file=sys.stderr)
        return int(code)
    grpc_file = HERE / "shoal_pb2_grpc.py"
    text = grpc_file.read_text()
    text = re.sub(r"^import shoal_pb2 as", "from shoal.proto import shoal_pb2 as", text,
                  flags=re.M)
    grpc_file.write_text(text)
    print(f"generated shoal_pb2.py, shoal_pb2.pyi and shoal_pb2_grpc.py in {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
