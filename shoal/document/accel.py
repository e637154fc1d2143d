"""The optional C speedups of the search read path, or None.

``shoal/document/_fast.c`` builds at install time when a C compiler is there; the pure-
Python code next to each use is the reference and the fallback. ``SHOAL_PURE_PYTHON=1``
turns the speedups off (the tests run both ways).
"""
from __future__ import annotations

import os
import warnings
from typing import Any

__all__ = ["fast"]


def _load() -> Any:
    if os.environ.get("SHOAL_PURE_PYTHON"):
        return None
    try:
        from shoal.document import _fast  # noqa: PLC0415
    except ImportError:
        return None
    from shoal.document.document import Document  # noqa: PLC0415

    try:
        _fast.init(Document)
    except TypeError as exc:  # the classes changed shape since the C file was written
        warnings.warn(f"shoal's C speedups are off: {exc}", RuntimeWarning, stacklevel=2)
        return None
    from shoal.document import document  # noqa: PLC0415

    document._track = _fast.track  # matches may leave the cyclic GC: see score_matches
    return _fast


#: the C module (``documents``, ``set_embeddings``, ``score_matches``, ``track``) or None
fast: Any = _load()
