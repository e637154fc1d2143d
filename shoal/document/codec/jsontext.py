"""JSON text as the codec writes and reads it: compact, numpy-aware, errors as shoal's.

Tags and request parameters travel as JSON text, so int vs float, bool and null survive
every round trip.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from shoal.errors import BadInputError, MalformedDataError

__all__ = ["dumps_json", "loads_json"]


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serializable")


_ENCODER = json.JSONEncoder(default=_json_default, separators=(",", ":"))
_DECODER = json.JSONDecoder()
#: the compact encoder itself (TypeError / ValueError for what JSON cannot hold): for hot
#: loops that report their own error, as the stores' tag columns do
json_encode = _ENCODER.encode


def dumps_json(obj: Any, what: str = "value") -> str:
    """Compact JSON; numpy scalars / arrays become numbers / lists."""
    try:
        return _ENCODER.encode(obj)
    except (TypeError, ValueError, RecursionError) as exc:
        raise BadInputError(f"{what} cannot be written as JSON: {exc}") from exc


def loads_json(data: str | bytes | bytearray) -> Any:
    """Parse JSON text; bad JSON raises MalformedDataError with the position."""
    try:
        return _DECODER.decode(data) if type(data) is str else json.loads(data)
    except json.JSONDecodeError as exc:
        raise MalformedDataError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except (UnicodeDecodeError, TypeError) as exc:
        raise MalformedDataError(f"invalid JSON input: {exc}") from exc
    except RecursionError as exc:
        raise MalformedDataError("JSON input is nested too deeply") from exc


def _plain(x: Any) -> Any:
    """A JSON-ready deep copy of a value (numpy scalars / arrays made plain)."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (np.generic, np.ndarray)):
        return x.tolist() if isinstance(x, np.ndarray) else x.item()
    return x
