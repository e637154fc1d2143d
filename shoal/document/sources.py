"""Build Documents from files on disk and from ndarrays."""
from __future__ import annotations

import glob
import random
import re
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from shoal.errors import BadInputError

from shoal.document.document import Document

__all__ = ["iter_files", "iter_ndarray"]


def iter_files(patterns: str | Sequence[str], recursive: bool = True, size: int | None = None,
               sampling_rate: float | None = None, read_mode: str | None = None,
               to_dataturi: bool = False, exclude_regex: str | None = None) -> Iterator[Document]:
    """Yield a Document per file matching the glob patterns (sorted, deterministic).

    ``mime_type`` is guessed from the file name (``'text/plain'`` for ``*.txt``);
    ``to_dataturi`` turns ``uri`` into a data URI (DocArray's ``convert_uri_to_datauri``).
    """
    if read_mode not in (None, "r", "rb"):
        raise BadInputError(f"read_mode must be None, 'r' or 'rb', got {read_mode!r}")
    if isinstance(patterns, str):
        patterns = [patterns]
    exclude = re.compile(exclude_regex) if exclude_regex else None
    count = 0
    for pattern in patterns:
        for name in sorted(glob.glob(pattern, recursive=recursive)):
            path = Path(name)
            if not path.is_file() or (exclude and exclude.search(name)):
                continue
            if sampling_rate is not None and random.random() > sampling_rate:
                continue
            doc = Document(uri=str(path))
            if read_mode == "r":
                doc.text = path.read_text()
            elif read_mode == "rb":
                doc.blob = path.read_bytes()
            if to_dataturi:
                doc.convert_uri_to_datauri()
            yield doc
            count += 1
            if size is not None and count >= size:
                return


def iter_ndarray(array: Any, axis: int = 0, size: int | None = None, shuffle: bool = False,
                 field: str = "tensor") -> Iterator[Document]:
    """Yield a Document per slice of ``array`` along ``axis``, stored in ``field``."""
    if field not in ("tensor", "embedding"):
        raise BadInputError(f"field must be 'tensor' or 'embedding', got {field!r}")
    a = np.moveaxis(np.asarray(array), axis, 0)
    order = np.arange(a.shape[0])
    if shuffle:
        np.random.shuffle(order)
    if size is not None:
        order = order[:size]
    for i in order:
        yield Document(**{field: a[i]})
