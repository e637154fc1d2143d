"""The compute core: embed and match / find, on contiguous float32 matrices (evaluating
matches: shoal.document.evaluation)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from shoal.errors import BadInputError
from shoal.document.distance import as_matrix, canonical_metric, knn, pairwise
from shoal.utils.progress import progress

from shoal.document import accel
from shoal.document.document import Document

if TYPE_CHECKING:
    from shoal.document.array import DocumentArray

__all__ = ["embed", "search", "search_matches", "matches_of", "custom_matches", "score_bounds"]


# --- embed ----------------------------------------------------------------------

Collate = Callable[["DocumentArray"], Any]


def _collated(batch: DocumentArray, collate_fn: Collate | None, model_kind: str) -> Any:
    """``collate_fn(batch)``, or the batch's stacked ``.tensors`` (DocArray's default)."""
    if collate_fn is not None:
        return collate_fn(batch)
    tensors = batch.tensors
    if tensors is None or isinstance(tensors, list):
        missing = sum(1 for d in batch if d.tensor is None)
        raise BadInputError(
            f"{missing} of {len(batch)} Documents have no .tensor, and a {model_kind} is "
            "applied to the stacked .tensors: set them (e.g. load_uri_to_image_tensor()), or "
            "pass collate_fn=lambda da: ... building the model's input (a tokenizer's dict "
            "for a text model)")
    return tensors


def _model_fn(model: Any, collate_fn: Collate | None, device: str
              ) -> tuple[Callable[[DocumentArray], Any], Callable[[], None]]:
    """``(batch -> (B, D) array, restore)`` for what the user passed; ``restore`` undoes
    what embedding changed on the model (a torch module's training mode)."""
    if collate_fn is not None and not callable(collate_fn):
        raise BadInputError(f"collate_fn must be a function DocumentArray -> model input, "
                            f"got {collate_fn!r}")
    if hasattr(model, "encode") and callable(model.encode):  # sentence-transformers style
        if collate_fn is None:
            return (lambda batch: model.encode(batch.contents)), _nothing
        return (lambda batch: model.encode(collate_fn(batch))), _nothing
    if _is_torch_module(model):
        return _torch_fn(model, collate_fn, device)
    if type(model).__name__ == "InferenceSession":  # onnxruntime
        name = model.get_inputs()[0].name

        def run(batch: DocumentArray) -> Any:
            inputs = _collated(batch, collate_fn, "onnx session")
            if not isinstance(inputs, Mapping):
                inputs = {name: np.asarray(inputs)}
            return model.run(None, dict(inputs))[0]

        return run, _nothing
    if callable(model):
        if collate_fn is None:
            return model, _nothing
        return (lambda batch: model(collate_fn(batch))), _nothing
    raise BadInputError(
        f"cannot embed with {type(model).__name__}: pass a callable batch -> (B, D) array, an "
        "object with .encode(list) (e.g. SentenceTransformer), a torch module or an onnx session"
    )


def _nothing() -> None:
    return None


def _is_torch_module(model: Any) -> bool:
    return any(c.__module__.startswith("torch.nn") for c in type(model).__mro__)


def _torch_fn(model: Any, collate_fn: Collate | None, device: str
              ) -> tuple[Callable[[DocumentArray], Any], Callable[[], None]]:
    """As DocArray: the module on ``device`` in eval mode (its training mode restored after),
    inputs as tensors on ``device`` (a dict: keyword arguments), a ModelOutput's
    ``pooler_output`` taken."""
    import torch  # noqa: PLC0415 - only when a torch model is passed

    try:
        target = torch.device(device)
        model.to(target)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise BadInputError(f"device={device!r}: {exc}; use 'cpu' or an available device "
                            "such as 'cuda:0'") from exc
    was_training = bool(getattr(model, "training", False))
    model.eval()

    def as_tensor(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return value.to(target)
        return torch.as_tensor(np.asarray(value), device=target)

    def run(batch: DocumentArray) -> Any:
        inputs = _collated(batch, collate_fn, "torch module")
        with torch.inference_mode():
            if isinstance(inputs, Mapping):
                out = model(**{k: as_tensor(v) for k, v in inputs.items()})
            else:
                out = model(as_tensor(inputs))
        if not isinstance(out, torch.Tensor):
            pooled = getattr(out, "pooler_output", None)  # transformers' ModelOutput
            if pooled is None and isinstance(out, (tuple, list)) and out:
                pooled = out[0]
            if not isinstance(pooled, torch.Tensor):
                raise BadInputError(
                    f"the torch module returned {type(out).__name__}, not a tensor (nor a "
                    "ModelOutput with pooler_output); wrap it to return the (B, D) embeddings")
            out = pooled
        return out.detach().cpu().float().numpy()

    def restore() -> None:
        if was_training:
            model.train()

    return run, restore


def embed(da: DocumentArray, model: Any, device: str = "cpu", batch_size: int = 256,
          collate_fn: Collate | None = None, show_progress: bool = False,
          normalize: bool = False) -> None:
    """Fill ``.embedding`` of every Document of ``da`` with ``model``, in batches.

    ``model`` is a callable ``batch (DocumentArray) -> (B, D)`` array, an object with
    ``.encode(contents)`` (sentence-transformers), a torch module (applied to
    ``.tensors``, in eval mode, on ``device``) or an onnxruntime session. ``collate_fn``
    turns a batch into the model's input instead (a dict becomes keyword arguments of a
    torch module / the inputs of an onnx session). A batch whose output does not have one
    row per Document raises DimensionMismatchError before anything of that batch is written.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size <= 0:
        raise BadInputError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not isinstance(device, str):
        raise BadInputError(f"device must be a string such as 'cpu' or 'cuda', got {device!r}")
    fn, restore = _model_fn(model, collate_fn, device)
    n = len(da)
    dim = None
    try:
        with progress(total=n, desc="embed", unit="doc", enabled=show_progress) as bar:
            for batch in da.batch(int(batch_size)):
                out = as_matrix(fn(batch), dim, what="model outputs")
                if out.shape[0] != len(batch):
                    from shoal.errors import DimensionMismatchError  # noqa: PLC0415

                    raise DimensionMismatchError(
                        f"the model returned {out.shape[0]} rows for a batch of {len(batch)} "
                        "Documents; it must return one embedding per Document"
                    )
                dim = out.shape[1]
                if normalize:
                    from shoal.document.distance import normalize_rows  # noqa: PLC0415

                    out = normalize_rows(out)
                batch.embeddings = out
                da._write_back(batch)
                bar.update(len(batch))
    finally:
        restore()


# --- match / find ------------------------------------------------------------------

def search(data: DocumentArray, queries: np.ndarray, limit: int, metric: str,
           filter: dict | None = None, block_size: int | None = None,
           **params: Any) -> tuple[np.ndarray, np.ndarray]:
    """(scores, positions) of the ``limit`` best Documents of ``data`` per query row."""
    if not isinstance(limit, (int, np.integer)) or limit <= 0:
        raise BadInputError(f"limit must be a positive integer, got {limit!r}")
    metric = canonical_metric(metric)
    fast = getattr(data._store, "find_vectors", None)
    if fast is not None:
        return fast(queries, int(limit), metric, filter, **params)
    if filter is not None:
        allowed = np.asarray(data._filter_positions(filter), dtype=np.int64)
        if allowed.size == 0:
            return (np.full((len(queries), limit), np.nan, np.float32),
                    np.full((len(queries), limit), -1, np.int64))
        matrix = data._embedding_matrix(allowed)
        scores, rows = knn(queries, matrix, limit, metric, block_size=block_size)
        return scores, np.where(rows >= 0, allowed[np.maximum(rows, 0)], -1)
    matrix = data._embedding_matrix(None)
    return knn(queries, matrix, limit, metric, block_size=block_size)


def search_matches(data: DocumentArray, queries: np.ndarray, limit: int, metric: str,
                   filter: dict | None = None, metric_name: str | None = None,
                   only_id: bool = False, **params: Any) -> list[list[Document]]:
    """For each query, its ``limit`` best matches in ``data``: copies of the Documents
    found (without their matches) with ``scores[metric_name or metric]`` set.

    Uses the store's ``find_matches`` when it has one (no position round trip), else
    :func:`search` and one batched ``get_at`` of the distinct positions."""
    metric = canonical_metric(metric)
    name = metric_name or metric
    fast = getattr(data._store, "find_matches", None)
    if fast is not None:
        if not isinstance(limit, (int, np.integer)) or limit <= 0:
            raise BadInputError(f"limit must be a positive integer, got {limit!r}")
        return fast(queries, int(limit), metric, filter, name, only_id, **params)
    scores, positions = search(data, queries, limit, metric, filter, **params)
    return matches_of(scores, positions, lambda ps: (data._store.get_at(ps), None), name, only_id)


def matches_of(scores: np.ndarray, keys: np.ndarray,
               fetch: Callable[[list[int]], tuple[list[Document], Any]], metric_name: str,
               only_id: bool = False) -> list[list[Document]]:
    """Per row of ``keys`` (positions or labels, -1 padded), the match Documents with
    ``scores[metric_name]`` set from the same row of ``scores``.

    ``fetch(unique_sorted_keys) -> (docs, fresh)`` reads each distinct key once (a None
    doc: the key has no Document any more, its matches are left out); ``fresh``
    (or None: none are) tells which Documents are new objects the caller owns: each of
    those serves as is for its first occurrence. Every other occurrence is a light copy,
    so no two matches share an object and no stored (or tracked) Document is handed out.
    ``only_id`` keeps nothing but the id (and the score)."""
    if keys.size <= 256:  # a few queries: cheaper in Python than np.unique's fixed cost
        distinct = set(keys.ravel().tolist())
        distinct.discard(-1)  # padding
        unique = sorted(distinct)
    else:
        unique = np.unique(keys[keys >= 0]).tolist()
    if not unique:
        return [[] for _ in range(keys.shape[0])]
    docs, fresh = fetch(unique)
    if only_id:
        fresh = None
    copy = _id_copy if only_id else _light_copy
    if accel.fast is not None:
        return accel.fast.score_matches(scores.tolist(), keys.tolist(), unique, docs, fresh,
                                        metric_name, copy)
    found = dict(zip(unique, docs))
    spare = {}  # key -> a fresh Document not handed out yet
    if fresh is not None:
        for k, d, f in zip(unique, docs, fresh):
            if f and d is not None:
                d._matches = d._evaluations = None
                spare[k] = d
    get, take = found.get, spare.pop
    out = []
    for row_scores, row in zip(scores.tolist(), keys.tolist()):
        matches = []
        for s, k in zip(row_scores, row):
            m = take(k, None)
            if m is None:
                d = get(k)
                if d is None:
                    continue
                m = copy(d)
            m._scores = (metric_name, s)  # pending: becomes a NamedScoreMap on first access
            matches.append(m)
        out.append(matches)
    return out


def _id_copy(src: Document) -> Document:
    return _light_copy(src, True)


def _light_copy(src: Document, only_id: bool = False) -> Document:
    """A match: shares arrays and content with ``src``, without its matches and scores.

    Slots are assigned one by one (no getattr/setattr loop): this runs once per match."""
    m = Document.__new__(Document)
    m._id = src._id
    if only_id:
        m.parent_id = m._text = m._blob = m._tensor = m._embedding = None
        m.uri = m.mime_type = m.modality = m.offset = m.location = m.weight = None
        m._tags = m._chunks = None
        m.granularity = m.adjacency = 0
    else:
        m.parent_id = src.parent_id
        m.granularity = src.granularity
        m.adjacency = src.adjacency
        m._text = src._text
        m._blob = src._blob
        m._tensor = src._tensor
        m._embedding = src._embedding
        m.uri = src.uri
        m.mime_type = src.mime_type
        m.modality = src.modality
        m.offset = src.offset
        m.location = src.location
        m.weight = src.weight
        m._tags = dict(src._tags) if src._tags else None
        m._chunks = src._chunks
    m._matches = m._scores = m._evaluations = None
    return m


def exclude_self_rows(query_ids: Sequence[str], matches: list[list[Document]],
                      limit: int) -> list[list[Document]]:
    """Drop each query's own id from its matches and cut to ``limit``."""
    return [[m for m in ms if m.id != qid][:limit] for qid, ms in zip(query_ids, matches)]


def iter_query_blocks(n: int, batch_size: int | None) -> Iterator[tuple[int, int]]:
    step = batch_size or n or 1
    for start in range(0, n, step):
        yield start, min(n, start + step)


# --- DocArray's metric=callable and normalization bounds -------------------------------

#: embeddings read at a time when every one of them is scored (callable metric, bounds)
_SCAN_ROWS = 65_536


def _scan_positions(data: DocumentArray, filter: dict | None) -> np.ndarray:
    if filter is not None:
        return np.asarray(data._filter_positions(filter), dtype=np.int64)
    return np.arange(len(data), dtype=np.int64)


def custom_matches(data: DocumentArray, queries: np.ndarray, limit: int,
                   fn: Callable[[np.ndarray, np.ndarray], Any], filter: dict | None,
                   name: str, only_id: bool) -> tuple[list[list[Document]], np.ndarray]:
    """DocArray's ``metric=fn``: ``fn(queries, embeddings) -> (Q, N)`` distances (lower is
    better) over every (filtered) embedding of ``data``, exactly, ``_SCAN_ROWS``
    embeddings at a time (a disk store's column need not fit in RAM); per query the
    ``limit`` best matches with ``scores[name]``, and the (Q, 2) min / max distance of
    each query (its ``normalization`` bounds)."""
    positions = _scan_positions(data, filter)
    q = len(queries)
    if positions.size == 0:
        return [[] for _ in range(q)], np.zeros((q, 2))
    best_d = np.empty((q, 0))
    best_p = np.empty((q, 0), dtype=np.int64)
    lo, hi = np.full(q, np.inf), np.full(q, -np.inf)
    for start in range(0, positions.size, _SCAN_ROWS):
        part = positions[start:start + _SCAN_ROWS]
        block = data._embedding_matrix(part)
        dist = np.asarray(fn(queries, block), dtype=np.float64)
        if dist.shape != (q, len(block)):
            raise BadInputError(
                f"the metric function returned shape {dist.shape} for {q} queries and "
                f"{len(block)} Documents; it must return a ({q}, {len(block)}) distance matrix")
        np.minimum(lo, dist.min(axis=1), out=lo)
        np.maximum(hi, dist.max(axis=1), out=hi)
        best_d = np.concatenate([best_d, dist], axis=1)
        best_p = np.concatenate([best_p, np.broadcast_to(part, dist.shape)], axis=1)
        k = min(limit, best_d.shape[1])
        if k < best_d.shape[1]:  # keep only each query's k best so far
            keep = np.argpartition(best_d, k - 1, axis=1)[:, :k]
            best_d = np.take_along_axis(best_d, keep, axis=1)
            best_p = np.take_along_axis(best_p, keep, axis=1)
    order = np.argsort(best_d, axis=1, kind="stable")
    scores = np.take_along_axis(best_d, order, axis=1)
    rows = matches_of(scores, np.take_along_axis(best_p, order, axis=1),
                      lambda ps: (data._store.get_at(ps), None), name, only_id)
    return rows, np.stack([lo, hi], axis=1)


def score_bounds(data: DocumentArray, queries: np.ndarray, metric: str,
                 filter: dict | None) -> np.ndarray:
    """The (Q, 2) lowest and highest score of each query over every (filtered) Document of
    ``data`` (what DocArray's ``normalization`` scales between), read in blocks."""
    metric = canonical_metric(metric)
    positions = _scan_positions(data, filter)
    lo = np.full(len(queries), np.inf)
    hi = np.full(len(queries), -np.inf)
    for start in range(0, positions.size, _SCAN_ROWS):
        block = data._embedding_matrix(positions[start:start + _SCAN_ROWS])
        s = pairwise(queries, block, metric)
        np.minimum(lo, s.min(axis=1), out=lo)
        np.maximum(hi, s.max(axis=1), out=hi)
    return np.stack([lo, hi], axis=1)
