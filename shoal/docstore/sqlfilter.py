"""DocArray's filter language (:mod:`shoal.document.filters`) translated to SQL.

Every condition becomes a 0/1 expression that is never NULL, so ``$not`` / ``$ne`` /
``$nin`` keep MongoDB semantics (a missing field passes ``$ne``). Types are checked the
way Python compares: a string never equals or orders against a number, ``True == 1``.
Tags are read with ``json_extract`` / ``json_type`` on the ``tags`` JSON column; a tag
declared in ``config['columns']`` is read from its own indexed column instead.
``$regex`` calls the ``regexp(pattern, value)`` function the store registers (Python
``re.search``).
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Table, and_, false, func, literal, not_, or_, true
from sqlalchemy.sql.elements import ColumnElement

from shoal.document.filters import And, Cond, Node, Not, Or, parse_filter

__all__ = ["to_sql", "HOT_TYPES", "hot_value"]

_NUMERIC = ("integer", "real", "true", "false")
#: declared hot-tag column types -> (SQL type name, Python test for a storable value)
HOT_TYPES = {"float": "REAL", "int": "INTEGER", "str": "TEXT", "bool": "INTEGER"}
_ATTR_ZERO = ("granularity", "adjacency")


def hot_value(kind: str, value: Any) -> Any:
    """The value a hot column stores for a tag value (None when the type does not fit)."""
    if kind == "str":
        return value if isinstance(value, str) else None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    return None


def _json_path(keys: tuple[str, ...]) -> str:
    return "$" + "".join('."' + k.replace('"', '\\"') + '"' for k in keys)


def _kind(value: Any) -> str | None:
    if value is None:
        return "null"
    if isinstance(value, (bool, int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple, dict)):
        return "json"
    return None


class _Source:
    """A field's value and JSON type expressions."""

    def __init__(self, value: ColumnElement, jtype: ColumnElement | None) -> None:
        self.value = value
        self.jtype = jtype  # None: a plain SQL column (NULL = missing)

    def is_kind(self, kind: str) -> ColumnElement:
        if self.jtype is None:
            if kind == "null":
                return false()
            fn = func.typeof(self.value)
            if kind == "number":
                return fn.in_(("integer", "real"))
            if kind == "text":
                return fn == "text"
            return false()
        if kind == "null":
            return self.jtype == "null"
        if kind == "number":
            return self.jtype.in_(_NUMERIC)
        if kind == "text":
            return self.jtype == "text"
        return self.jtype.in_(("array", "object"))

    def exists(self) -> ColumnElement:
        return (self.jtype if self.jtype is not None else self.value).is_not(None)


def _source(table: Table, path: tuple[str, ...]) -> _Source:
    c = table.c
    if path[0] == "tags":
        p = _json_path(path[1:])
        return _Source(func.json_extract(c.tags, p), func.json_type(c.tags, p))
    name = path[0]
    if name in ("text", "id"):
        return _Source(c[name], None)
    p = _json_path((name,))
    if name in _ATTR_ZERO:
        return _Source(func.coalesce(func.json_extract(c.attrs, p), 0), None)
    return _Source(func.json_extract(c.attrs, p), func.json_type(c.attrs, p))


def _eq(src: _Source, value: Any) -> ColumnElement:
    kind = _kind(value)
    if kind is None:
        return false()
    if kind == "null":
        return src.is_kind("null")
    if kind == "json":
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return and_(src.is_kind("json"), src.value == literal(text))
    return and_(src.is_kind(kind), src.value == literal(value))


def _cmp(src: _Source, op: str, value: Any) -> ColumnElement:
    kind = _kind(value)
    if kind not in ("number", "text"):
        return false()
    v = literal(value)
    expr = {"$gt": src.value > v, "$gte": src.value >= v, "$lt": src.value < v,
            "$lte": src.value <= v}[op]
    return and_(src.is_kind(kind), expr)


def _in(src: _Source, values: tuple) -> ColumnElement:
    parts = []
    for kind in ("number", "text"):
        vals = [v for v in values if _kind(v) == kind]
        if vals:
            parts.append(and_(src.is_kind(kind), src.value.in_(vals)))
    if any(v is None for v in values):
        parts.append(src.is_kind("null"))
    parts.extend(_eq(src, v) for v in values if _kind(v) == "json")
    return or_(*parts) if parts else false()


def _hot(col: ColumnElement, kind: str, op: str, value: Any) -> ColumnElement | None:
    """The condition on a declared column, or None to fall back to the JSON column."""
    fits = (lambda v: isinstance(v, str)) if kind == "str" else \
        (lambda v: isinstance(v, (bool, int, float)))
    if op in ("$in", "$nin"):
        if not value or not all(fits(v) for v in value):
            return None
        return col.in_([hot_value(kind, v) for v in value])
    if op == "$regex":
        return func.regexp(literal(value), col) == 1 if kind == "str" else None
    if op in ("$exists",) or not fits(value):
        return None
    v = literal(hot_value(kind, value))
    return {"$eq": col == v, "$ne": col == v, "$gt": col > v, "$gte": col >= v,
            "$lt": col < v, "$lte": col <= v}[op]


def _cond(table: Table, node: Cond, hot: dict[str, str]) -> ColumnElement:
    op, value, path = node.op, node.value, node.path
    if path[0] == "tags" and len(path) == 2 and path[1] in hot:
        expr = _hot(table.c["c_" + path[1]], hot[path[1]], op, value)
        if expr is not None:  # never NULL, and still an indexable range / IN on the column
            col = table.c["c_" + path[1]]
            expr = and_(col.is_not(None), expr)
            return not_(expr) if op in ("$ne", "$nin") else expr
    src = _source(table, path)
    if op in ("$eq", "$ne"):
        expr = _eq(src, value)
    elif op in ("$in", "$nin"):
        expr = _in(src, value)
    elif op == "$exists":
        expr = src.exists() if value else not_(src.exists())
        return func.coalesce(expr, 0) == 1
    elif op == "$regex":
        expr = and_(src.is_kind("text"), func.regexp(literal(value), src.value) == 1)
    else:
        expr = _cmp(src, op, value)
    expr = func.coalesce(expr, 0) == 1
    return not_(expr) if op in ("$ne", "$nin") else expr


def _node(table: Table, node: Node, hot: dict[str, str]) -> ColumnElement:
    if isinstance(node, Cond):
        return _cond(table, node, hot)
    if isinstance(node, And):
        return and_(*(_node(table, n, hot) for n in node.items))
    if isinstance(node, Or):
        return or_(*(_node(table, n, hot) for n in node.items))
    if isinstance(node, Not):
        return not_(_node(table, node.item, hot))
    return true()  # pragma: no cover - parse_filter only builds the four node types


def to_sql(table: Table, query: dict | Node, hot: dict[str, str] | None = None) -> ColumnElement:
    """A WHERE clause for ``query`` (validated by :func:`parse_filter`) over ``table``."""
    return _node(table, parse_filter(query), hot or {})
