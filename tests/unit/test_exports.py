"""The public surface of ``import shoal`` is exactly the documented names, and stays light."""
import subprocess
import sys

import shoal

DOCUMENTED = {"Document", "DocumentArray", "NamedScore", "dataclass", "field", "__version__",
              "Executor", "requests", "monitor", "Flow", "Deployment", "Client"}
LATER: set = set()


def test_all_matches_documented_names():
    assert DOCUMENTED <= set(shoal.__all__) <= DOCUMENTED | LATER
    for name in shoal.__all__:
        assert hasattr(shoal, name), name


def test_typing_module_names():
    from shoal import typing as st

    for name in ("Image", "Text", "JSON", "Audio", "Blob"):
        assert hasattr(st, name)


def test_import_is_light():
    code = ("import sys, shoal; heavy = [m for m in ('grpc', 'fastapi', 'torch', 'faiss', "
            "'hnswlib', 'sqlalchemy', 'lmdb', 'uvicorn') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
