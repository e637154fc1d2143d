"""Traversal paths: ``'@r'``, ``'@c'``, ``'@m'``, ``'@cm'``, ``'@r[:3]'``, ``'@c,m'``, ``'@c[1:]m[:2]'``.

A path is a sequence of steps ``r`` (the roots), ``c`` (chunks) and ``m`` (matches),
each optionally sliced with ``[start:stop]`` applied per parent. Comma separates
paths whose results are concatenated. ``@`` is optional.
"""
from __future__ import annotations

import re
from typing import Iterable

from shoal.errors import BadInputError

from shoal.document.document import Document

__all__ = ["parse_paths", "traverse"]

_STEP = re.compile(r"([rcm])(?:\[(-?\d*)(?::(-?\d*))?\])?")


def parse_paths(selector: str) -> list[list[tuple[str, slice]]]:
    """``'@c[:2]m,r'`` -> ``[[('c', slice(None, 2)), ('m', slice(None))], [('r', ...)]]``."""
    text = selector[1:] if selector.startswith("@") else selector
    paths = []
    for part in text.split(","):
        part = part.strip()
        steps, pos = [], 0
        while pos < len(part):
            m = _STEP.match(part, pos)
            if m is None:
                raise BadInputError(
                    f"bad traversal path {selector!r} at {part[pos:]!r}; use steps r, c, m "
                    "with optional [start:stop], e.g. '@r', '@c', '@cm', '@r[:3]', '@c,m'"
                )
            kind, start, stop = m.group(1), m.group(2), m.group(3)
            if m.group(0).endswith("]") and stop is None:  # '[i]' means one element
                i = int(start)
                sl = slice(i, i + 1 if i != -1 else None)
            else:
                sl = slice(int(start) if start else None, int(stop) if stop else None)
            steps.append((kind, sl))
            pos = m.end()
        if not steps:
            raise BadInputError(f"empty traversal path in {selector!r}")
        paths.append(steps)
    return paths


def _step(docs: list[Document], kind: str, sl: slice) -> list[Document]:
    if kind == "r":
        return docs[sl]
    out: list[Document] = []
    attr = "_chunks" if kind == "c" else "_matches"
    for d in docs:
        children = getattr(d, attr)
        if children:
            out.extend(children[sl] if sl != slice(None) else children)
    return out


def traverse(roots: Iterable[Document], selector: str) -> list[Document]:
    """All Documents reached from ``roots`` by ``selector``, flattened, in order."""
    roots = list(roots)
    result: list[Document] = []
    for steps in parse_paths(selector):
        docs = roots
        first, rest = steps[0], steps[1:]
        if first[0] == "r":
            docs = docs[first[1]]
        else:
            rest = steps
        for kind, sl in rest:
            if kind == "r":
                docs = docs[sl]
            else:
                docs = _step(docs, kind, sl)
        result.extend(docs)
    return result
