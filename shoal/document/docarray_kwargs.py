"""The keywords DocArray 0.21's ``find`` / ``match`` take beyond shoal's own, so that its
calls run unchanged on every storage (a disk store's index refuses keywords it does not
know, which would otherwise catch these).

- ``use_scipy``, ``device``, ``num_worker``: how DocArray computed distances; shoal scores
  with BLAS / faiss on the CPU and its stores choose their own threads - no effect;
- ``index='text'``, ``return_root=False``, ``on=None``: DocArray features (a text index of
  some backends, sub-indices) taken at their defaults; another value is a BadInputError;
- ``normalization=(a, b)``: each query's match scores min-max scaled into ``[a, b]``
  (best-to-worst order kept: ``(1, 0)`` turns distances into a similarity-like score),
  between the query's lowest and highest score over every (filtered) Document, as
  DocArray's find and match do (the caller reads those bounds: see
  ``compute.score_bounds``).
"""
from __future__ import annotations

from typing import Any, Sequence

from shoal.errors import BadInputError
from shoal.document.document import Document

__all__ = ["split_docarray_kwargs", "normalize_scores"]

_EXECUTION = ("use_scipy", "device", "num_worker")
_AT_DEFAULT = {"index": "text", "return_root": False, "on": None}
_EPS = 1e-7  # DocArray's minmax_normalize jitter


def split_docarray_kwargs(params: dict[str, Any]
                          ) -> tuple[dict[str, Any], tuple[float, float] | None]:
    """(the search parameters left for the store, the ``normalization`` range or None)."""
    if not any(k in params for k in (*_EXECUTION, *_AT_DEFAULT, "normalization")):
        return params, None
    params = dict(params)
    for key in _EXECUTION:
        params.pop(key, None)
    for key, default in _AT_DEFAULT.items():
        if key in params and params.pop(key) != default:
            raise BadInputError(
                f"{key}= is a DocArray option this array does not have (only {key}={default!r}); "
                "drop it")
    norm = params.pop("normalization", None)
    if norm is None:
        return params, None
    try:
        a, b = (float(v) for v in norm)
    except (TypeError, ValueError):
        raise BadInputError(f"normalization must be a pair (a, b) of numbers, got {norm!r}") from None
    return params, (a, b)


def normalize_scores(rows: Sequence[list[Document]], name: str,
                     target: tuple[float, float], ranges: Any) -> None:
    """Scale ``scores[name]`` of each row of matches into ``target`` = (a, b): the row's
    ``ranges[i] = (lo, hi)`` goes to (a, b)."""
    a, b = target
    for matches, (lo, hi) in zip(rows, ranges):
        if not matches:
            continue
        values = [m.scores[name].value for m in matches]
        for m, v in zip(matches, values):
            m.scores[name].value = (b - a) * (v - lo) / (hi - lo + _EPS) + a
