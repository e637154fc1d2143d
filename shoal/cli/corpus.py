"""A small real text corpus that exists on every machine: Python's standard library docs."""
from __future__ import annotations

import importlib
import inspect
import warnings

from shoal.document import Document, DocumentArray

__all__ = ["stdlib_docs"]

MODULES = (
    "json", "os", "os.path", "re", "collections", "itertools", "functools", "pathlib",
    "datetime", "asyncio", "subprocess", "shutil", "glob", "csv", "sqlite3", "hashlib",
    "random", "statistics", "math", "string", "textwrap", "argparse", "logging", "threading",
    "queue", "socket", "urllib.parse", "http.client", "email", "zipfile", "tarfile", "gzip",
    "tempfile", "time", "calendar", "heapq", "bisect", "copy", "pickle", "base64", "uuid",
    "decimal", "fractions", "enum", "dataclasses", "typing", "contextlib", "inspect",
    "traceback", "unittest", "difflib", "io", "struct", "array", "secrets", "hmac", "shlex",
    "configparser", "locale", "gettext", "operator", "weakref", "pprint", "fnmatch",
)


def _first_paragraph(doc: str) -> str:
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())


def stdlib_docs(limit: int | None = None) -> DocumentArray:
    """One Document per documented public function / class / method of some stdlib modules.

    ``text`` is ``"qualified.name: first paragraph of the docstring"``; tags hold the
    module, the name and the kind. The order is deterministic.
    """
    docs: list[Document] = []
    seen: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for mod_name in MODULES:
            try:
                mod = importlib.import_module(mod_name)
            except ImportError:
                continue
            for name, obj in sorted(vars(mod).items()):
                if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)
                                                or inspect.isbuiltin(obj)):
                    continue
                members = [(name, obj)]
                if inspect.isclass(obj):
                    members += [(f"{name}.{m}", f) for m, f in sorted(vars(obj).items())
                                if not m.startswith("_") and callable(f)]
                for qual, target in members:
                    home = (getattr(target, "__module__", None) or mod_name).lstrip("_")
                    if home in MODULES and home != mod_name:
                        continue  # a re-export (queue.heappush is heapq's): keep the original
                    full = f"{mod_name}.{qual}"
                    doc = inspect.getdoc(target) or ""
                    if full in seen or len(doc) < 20:
                        continue
                    seen.add(full)
                    kind = "class" if inspect.isclass(target) else "function"
                    docs.append(Document(id=full, text=f"{full}: {_first_paragraph(doc)[:400]}",
                                         tags={"module": mod_name, "name": qual, "kind": kind}))
                    if limit and len(docs) >= limit:
                        return DocumentArray(docs)
    return DocumentArray(docs)
