"""ndarrays on the wire: allowed dtypes, little-endian names, and the dict form.

Dict form: ``{"dtype": "float32", "shape": [...], "data": "<base64>"}``; a plain list
of numbers is accepted when reading, as Jina's HTTP JSON sends it. The dtype tables
are caches shared by the protobuf encoder and decoder.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np

from shoal.errors import BadInputError, MalformedDataError

__all__ = ["ndarray_to_dict", "ndarray_from_dict"]

_ALLOWED_KINDS = frozenset("biufcUSMm")
_ENC_DTYPES: dict[np.dtype, tuple[str, np.dtype | None]] = {}
_DEC_DTYPES: dict[str, np.dtype] = {}


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch, without importing it
        return x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise BadInputError(f"cannot convert {type(x).__name__} to an array: {exc}") from exc


def _enc_dtype(dt: np.dtype) -> tuple[str, np.dtype | None]:
    """(wire name, dtype to convert to first or None) for an array dtype."""
    hit = _ENC_DTYPES.get(dt)
    if hit is not None:
        return hit
    if dt.kind not in _ALLOWED_KINDS or dt.fields is not None or dt.subdtype is not None:
        raise BadInputError(
            f"cannot serialize an array of dtype {dt} without pickle; use a numeric, "
            "bool, string or datetime dtype")
    little = dt.newbyteorder("<")
    convert = None if dt.byteorder in ("<", "|") or (dt.byteorder == "=" and np.little_endian) \
        else little
    name = dt.name if dt.kind in "biufc" else little.str
    hit = _ENC_DTYPES[dt] = (name, convert)
    return hit


def checked_dtype(name: str, what: str = "array") -> np.dtype:
    """The dtype ``name`` as written (its byte order kept); MalformedDataError for an
    unknown one or one that needs pickle (objects, structured, sub-array)."""
    try:
        dt = np.dtype(name)
    except (TypeError, ValueError, SyntaxError) as exc:
        raise MalformedDataError(f"unknown {what} dtype {name!r}") from exc
    if dt.kind not in _ALLOWED_KINDS or dt.fields is not None or dt.subdtype is not None:
        raise MalformedDataError(f"{what} dtype {name!r} cannot be read without pickle")
    return dt


def _dec_dtype(name: str) -> np.dtype:
    dt = _DEC_DTYPES.get(name)
    if dt is not None:
        return dt
    dt = checked_dtype(name).newbyteorder("<")
    if len(_DEC_DTYPES) < 512:
        _DEC_DTYPES[name] = dt
    return dt


def _make_array(buf: bytes | bytearray, dtype_name: str, shape: tuple[int, ...]) -> np.ndarray:
    dt = _dec_dtype(dtype_name)
    count = 1
    for n in shape:
        if n < 0:
            raise MalformedDataError(f"array shape {shape} has a negative dimension")
        count *= n
    if count * dt.itemsize != len(buf):
        raise MalformedDataError(
            f"array of dtype {dtype_name} and shape {list(shape)} needs "
            f"{count * dt.itemsize} bytes, got {len(buf)}")
    if not isinstance(buf, bytearray):  # a writable copy: users edit arrays in place
        buf = bytearray(buf)
    arr = np.frombuffer(buf, dtype=dt).reshape(shape)
    return arr if dt.isnative or dt.itemsize == 1 else arr.astype(dt.newbyteorder("="))


def ndarray_to_dict(x: Any) -> dict[str, Any]:
    """``{"dtype", "shape", "data": base64}`` for an array (numpy or torch)."""
    arr = _to_numpy(x)
    name, convert = _enc_dtype(arr.dtype)
    if convert is not None:
        arr = arr.astype(convert)
    return {"dtype": name, "shape": list(arr.shape),
            "data": base64.b64encode(arr.tobytes()).decode("ascii")}


def ndarray_from_dict(obj: Any, what: str = "array") -> np.ndarray:
    """The inverse of :func:`ndarray_to_dict`; a plain (nested) list is accepted too."""
    if isinstance(obj, dict):
        try:
            data, dtype, shape = obj["data"], obj["dtype"], obj["shape"]
        except KeyError as exc:
            raise MalformedDataError(
                f"{what}: an array dict needs 'dtype', 'shape' and 'data', missing {exc}"
            ) from None
        if not isinstance(dtype, str) or not isinstance(shape, list) or not all(
                isinstance(n, int) and not isinstance(n, bool) for n in shape):
            raise MalformedDataError(f"{what}: 'dtype' must be a string and 'shape' a list "
                                     "of ints")
        try:
            buf = base64.b64decode(data, validate=True)
        except (binascii.Error, TypeError, ValueError) as exc:
            raise MalformedDataError(f"{what}: 'data' is not valid base64: {exc}") from exc
        return _make_array(buf, dtype, tuple(shape))
    if isinstance(obj, (list, tuple, int, float)) and not isinstance(obj, bool):
        try:
            arr = np.asarray(obj)
        except ValueError as exc:
            raise MalformedDataError(f"{what}: ragged or invalid list: {exc}") from exc
        if arr.dtype.kind not in "iuf":
            raise MalformedDataError(f"{what}: a list must hold only numbers")
        return arr
    if isinstance(obj, np.ndarray):
        return obj
    raise MalformedDataError(
        f"{what}: expected an array dict or a list of numbers, got {type(obj).__name__}")
