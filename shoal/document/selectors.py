"""Traversal paths, DocArray's grammar: ``'r'``, ``'c'``, ``'m'``, ``'cm'``, ``'r[:3]'``,
``'c[1:]m[:2]'``, ``'r.[title,image]'`` (multimodal fields), ``'r,c'``.

A path is a sequence of steps ``r`` (the roots), ``c`` (chunks), ``m`` (matches) and
``.[field,...]`` (a multimodal Document's field chunks), each optionally sliced with
``[start:stop:step]`` applied per parent (``[i]`` one element, ``[-1]`` the last).
Comma separates paths whose results are concatenated; ``@`` is optional and whitespace
is ignored. One parser serves ``da['@...']``, ``traverse_flat`` and ``traverse``.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Iterator

from shoal.errors import BadInputError

from shoal.document.document import Document

__all__ = ["parse_paths", "leaves", "traverse"]

_SLICE = r"(?:\[(-?\d*(?::-?\d*){0,2})\]|(-?\d*(?::-?\d*){0,2}))"
_STEP = re.compile(r"(r|c|m|\.\[([A-Za-z_]\w*(?:,[A-Za-z_]\w*)*)\])" + _SLICE)
Step = tuple[str, Any, slice]  # (kind 'r' / 'c' / 'm' / 'a', attribute names, slice)


def _slice(text: str) -> slice:
    if not text:
        return slice(None)
    parts = text.split(":")
    if len(parts) == 1:  # 'c[1]': one element ('[-1]': the last one)
        i = int(parts[0])
        return slice(i, i + 1 if i != -1 else None)
    return slice(*(int(p) if p else None for p in parts))


def parse_paths(traversal_paths: str) -> list[list[Step]]:
    """``'@c[:2]m,r'`` -> one list of ``(kind, attributes, slice)`` steps per path."""
    if not isinstance(traversal_paths, str):
        raise BadInputError(
            f"traversal_paths must be a string such as 'r', 'c' or 'r,cm', got "
            f"{type(traversal_paths).__name__}")
    text = re.sub(r"\s+", "", traversal_paths)
    text = text[1:] if text.startswith("@") else text
    paths: list[list[Step]] = []
    steps: list[Step] = []
    pos = 0
    while True:
        m = _STEP.match(text, pos)
        if m is None or m.end() == pos:
            raise BadInputError(
                f"bad traversal path {traversal_paths!r} at {text[pos:]!r}; use steps r, c, m "
                "or .[field] with optional [start:stop], e.g. 'r', 'c', 'cm', 'r[:3]', 'r,c'")
        kind = m.group(1)
        attrs = m.group(2).split(",") if m.group(2) else None
        steps.append(("a" if attrs else kind, attrs, _slice(m.group(3) or m.group(4) or "")))
        pos = m.end()
        if pos == len(text):
            paths.append(steps)
            return paths
        if text[pos] == ",":
            paths.append(steps)
            steps = []
            pos += 1


def leaves(docs: list[Document], steps: list[Step],
           filter_fn: Callable[[Document], bool] | None = None) -> Iterator[list[Document]]:
    """The leaf sequences one path reaches from ``docs`` (``'c'``: each root's chunks),
    kept where ``filter_fn`` is True when given."""
    if not steps:
        yield docs if filter_fn is None else [d for d in docs if filter_fn(d)]
        return
    (kind, attrs, sl), rest = steps[0], steps[1:]
    if kind == "r":
        yield from leaves(docs[sl], rest, filter_fn)
    elif kind in ("c", "m"):
        slot = "_chunks" if kind == "c" else "_matches"
        for d in docs:
            children = getattr(d, slot)
            yield from leaves(list(children)[sl] if children else [], rest, filter_fn)
    else:
        for d in docs:
            for name in attrs:
                yield from leaves(list(d.get_multi_modal_attribute(name))[sl], rest, filter_fn)


def traverse(roots: Iterable[Document], selector: str) -> list[Document]:
    """All Documents reached from ``roots`` by ``selector``, flattened, in order."""
    paths = parse_paths(selector)
    roots = list(roots)
    return [d for steps in paths for leaf in leaves(roots, steps) for d in leaf]
