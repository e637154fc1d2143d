"""DocArray's filter query language, parsed once and evaluated anywhere.

A filter is a dict of ``field: {operator: value}`` conditions, combined with
``$and`` / ``$or`` / ``$not``::

    {'tags__price': {'$gt': 50}}
    {'$or': [{'modality': {'$eq': 'image'}}, {'text': {'$regex': '^foo'}}]}
    {'tags__color': 'red'}            # shorthand for {'$eq': 'red'}

Fields are Document scalar fields (``text``, ``id``, ``mime_type``, ``modality``,
``uri``, ``parent_id``, ``weight``, ``granularity``, ``adjacency``, ``offset``) or
tag paths ``tags__a__b`` -> ``doc.tags['a']['b']``. Operators: ``$eq $ne $gt $gte $lt
$lte $in $nin $regex $exists $size`` (``$size``: the length of a list or string). A
missing field fails every operator except ``$ne``, ``$nin`` and ``$exists: False``, and
counts as null for ``$eq: None`` / ``$in: [None, ...]`` (MongoDB's and DocArray's
semantics: ``{'tags__x': None}`` selects the Documents without an ``x`` too).

:func:`parse_filter` gives a small AST (:class:`Cond`, :class:`And`, :class:`Or`,
:class:`Not`) that backends translate (e.g. to SQL); :func:`compile_filter` turns it
into a Python predicate for in-memory evaluation.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Union

from shoal.errors import InvalidFilterError

from shoal.document.document import Document

__all__ = ["Cond", "And", "Or", "Not", "Node", "parse_filter", "compile_filter",
           "filter_mask", "SCALAR_FIELDS", "OPERATORS", "MISSING"]

SCALAR_FIELDS = ("id", "text", "mime_type", "modality", "uri", "parent_id", "weight",
                 "granularity", "adjacency", "offset")
_POSIX_CLASS = re.compile(r"\[\[?[:=.]\w*[:=.]\]")  # '[[:digit:]]', '[a[:alpha:]]'
OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$regex", "$exists",
             "$size")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


@dataclass(frozen=True)
class Cond:
    """``path`` (``('tags', 'a', 'b')`` or ``('text',)``) ``op`` ``value``."""

    path: tuple[str, ...]
    op: str
    value: Any


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Union[Cond, And, Or, Not]


def _field_path(name: str) -> tuple[str, ...]:
    parts = tuple(name.split("__"))
    if parts[0] == "tags" and len(parts) > 1 and all(parts[1:]):
        return parts
    if len(parts) == 1 and parts[0] in SCALAR_FIELDS:
        return parts
    raise InvalidFilterError(
        f"cannot filter on field {name!r}; use tags__<key>[__<subkey>] or one of "
        f"{', '.join(SCALAR_FIELDS)}"
    )


def _parse_condition(path: tuple[str, ...], spec: Any) -> Node:
    if not isinstance(spec, dict):
        return Cond(path, "$eq", spec)
    if not spec:
        raise InvalidFilterError(f"empty condition for {'__'.join(path)!r}; give an operator")
    conds: list[Node] = []
    for op, value in spec.items():
        if op == "$not":
            conds.append(Not(_parse_condition(path, value)))
            continue
        if op not in OPERATORS:
            raise InvalidFilterError(
                f"unknown operator {op!r} on {'__'.join(path)!r}; use one of {', '.join(OPERATORS)}"
            )
        if op in ("$in", "$nin") and not isinstance(value, (list, tuple, set)):
            raise InvalidFilterError(f"{op} needs a list of values, got {value!r}")
        if op == "$regex":
            if not isinstance(value, str):
                raise InvalidFilterError(f"$regex needs a pattern string, got {value!r}")
            if _POSIX_CLASS.search(value):
                raise InvalidFilterError(
                    f"$regex {value!r}: a POSIX class such as [[:digit:]] is a set of "
                    "characters to Python's re (memory, SQLite, LMDB) and a class to "
                    "PostgreSQL; write \\d, \\w, \\s or a set such as [0-9]")
            try:
                re.compile(value)
            except re.error as exc:
                raise InvalidFilterError(f"bad $regex pattern {value!r}: {exc}") from exc
        if op == "$size" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise InvalidFilterError(f"$size needs a length (an integer >= 0), got {value!r}")
        if op == "$exists" and not isinstance(value, bool):
            raise InvalidFilterError(f"$exists needs true or false, got {value!r}")
        if isinstance(value, (list, set)):
            value = tuple(value)
        conds.append(Cond(path, op, value))
    return conds[0] if len(conds) == 1 else And(tuple(conds))


def parse_filter(query: dict[str, Any]) -> Node:
    """Validate ``query`` and return its AST; raises InvalidFilterError saying what is wrong."""
    if isinstance(query, (Cond, And, Or, Not)):
        return query
    if not isinstance(query, dict) or not query:
        raise InvalidFilterError(
            f"a filter must be a non-empty dict such as {{'tags__x': {{'$gt': 1}}}}, got {query!r}"
        )
    nodes: list[Node] = []
    for key, spec in query.items():
        if key in ("$and", "$or"):
            if not isinstance(spec, (list, tuple)) or not spec:
                raise InvalidFilterError(f"{key} needs a non-empty list of filters")
            items = tuple(parse_filter(q) for q in spec)
            nodes.append(And(items) if key == "$and" else Or(items))
        elif key == "$not":
            nodes.append(Not(parse_filter(spec)))
        elif key.startswith("$"):
            raise InvalidFilterError(f"unknown operator {key!r} at the top level; use $and, $or, $not")
        else:
            nodes.append(_parse_condition(_field_path(key), spec))
    return nodes[0] if len(nodes) == 1 else And(tuple(nodes))


def _getter(path: tuple[str, ...]) -> Callable[[Document], Any]:
    if path[0] != "tags":
        name = "_text" if path[0] == "text" else path[0]  # unset text reads '' but is missing
        return lambda d: _none_missing(getattr(d, name))
    keys = path[1:]

    def get(d: Document) -> Any:
        value: Any = d._tags
        for k in keys:
            if not isinstance(value, dict) or k not in value:
                return MISSING
            value = value[k]
        return value

    return get


def _none_missing(value: Any) -> Any:
    return MISSING if value is None else value


def _compare(op: str, a: Any, b: Any) -> bool:
    try:
        if op == "$gt":
            return a > b
        if op == "$gte":
            return a >= b
        if op == "$lt":
            return a < b
        return a <= b
    except TypeError:  # incomparable types never match
        return False


def _nullish(v: Any) -> bool:
    return v is MISSING or v is None


def _same_sequence(value: tuple) -> Callable[[Any], bool]:
    """``$eq [1, 2]``: a list or tuple value with the same items (as JSON stores compare)."""
    return lambda v: isinstance(v, (list, tuple)) and tuple(v) == value


def _compile(node: Node) -> Callable[[Document], bool]:
    if isinstance(node, And):
        parts = [_compile(n) for n in node.items]
        return lambda d: all(p(d) for p in parts)
    if isinstance(node, Or):
        parts = [_compile(n) for n in node.items]
        return lambda d: any(p(d) for p in parts)
    if isinstance(node, Not):
        inner = _compile(node.item)
        return lambda d: not inner(d)
    get, op, value = _getter(node.path), node.op, node.value
    if op in ("$eq", "$ne") and isinstance(value, tuple):  # a list kept hashable in the AST
        same = _same_sequence(value)
        return (lambda d: same(get(d))) if op == "$eq" else (lambda d: not same(get(d)))
    if value is None and op in ("$eq", "$ne"):  # a missing field counts as null
        return (lambda d: _nullish(get(d))) if op == "$eq" else (lambda d: not _nullish(get(d)))
    if op == "$eq":
        return lambda d: get(d) == value
    if op == "$ne":
        return lambda d: get(d) != value
    if op in ("$in", "$nin") and None in value:
        def inside(d: Document) -> bool:
            return _nullish(v := get(d)) or v in value

        return inside if op == "$in" else (lambda d: not inside(d))
    if op == "$in":
        return lambda d: (v := get(d)) is not MISSING and v in value
    if op == "$nin":
        return lambda d: (v := get(d)) is MISSING or v not in value
    if op == "$exists":
        return lambda d: (get(d) is not MISSING) == value
    if op == "$size":
        return lambda d: isinstance(v := get(d), (list, tuple, str)) and len(v) == value
    if op == "$regex":
        pattern = re.compile(value)
        return lambda d: isinstance(v := get(d), str) and pattern.search(v) is not None
    return lambda d: (v := get(d)) is not MISSING and _compare(op, v, value)


def compile_filter(query: dict[str, Any] | Node) -> Callable[[Document], bool]:
    """A predicate ``doc -> bool`` for ``query`` (validated first)."""
    return _compile(parse_filter(query))


def filter_mask(docs: Iterable[Document], query: dict[str, Any] | Node) -> list[bool]:
    """For each Document, whether it passes ``query``."""
    pred = compile_filter(query)
    return [pred(d) for d in docs]
