"""Text summaries of arrays."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from shoal.document.array import DocumentArray

__all__ = ["array_summary"]


def array_summary(da: DocumentArray, sample: int = 1000) -> str:
    """Length, storage, which fields are set (over the first ``sample`` Documents), and
    the shape and dtype of embeddings and tensors."""
    n = len(da)
    fields: dict[str, int] = {}
    emb_shapes: set = set()
    tensor_shapes: set = set()
    for i, d in enumerate(da):
        if i >= sample:
            break
        for f in d.non_empty_fields:
            fields[f] = fields.get(f, 0) + 1
        if d.embedding is not None:
            emb_shapes.add((tuple(np.shape(d.embedding)), str(getattr(d.embedding, "dtype", ""))))
        if d.tensor is not None:
            tensor_shapes.add((tuple(np.shape(d.tensor)), str(getattr(d.tensor, "dtype", ""))))
    seen = min(n, sample)
    rows = [("Length", str(n)), ("Storage", da.storage)]
    rows.append(("Fields set", ", ".join(f"{k} ({v}/{seen})" for k, v in sorted(fields.items())) or "-"))
    rows.append(("Embeddings", "; ".join(f"{s} {t}" for s, t in sorted(emb_shapes)) or "-"))
    rows.append(("Tensors", "; ".join(f"{s} {t}" for s, t in sorted(tensor_shapes)) or "-"))
    index_summary = getattr(da._store, "index_summary", None)  # a disk store's vector index
    if index_summary is not None:
        rows.append(("Index", index_summary()))
    width = max(len(k) for k, _ in rows)
    lines = ["DocumentArray summary", "-" * 40]
    lines += [f"{k.ljust(width)}  {v}" for k, v in rows]
    return "\n".join(lines)
