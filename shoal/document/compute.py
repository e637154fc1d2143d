"""The compute core: embed, match / find and evaluate, on contiguous float32 matrices."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from shoal.errors import BadInputError, EmptyArrayError
from shoal.document.distance import as_matrix, canonical_metric, knn
from shoal.utils.progress import progress

from shoal.document import accel
from shoal.document.document import Document

if TYPE_CHECKING:
    from shoal.document.array import DocumentArray

__all__ = ["embed", "search", "search_matches", "matches_of", "evaluate", "EVAL_METRICS"]


# --- embed ----------------------------------------------------------------------

def _model_fn(model: Any) -> Callable[[DocumentArray], Any]:
    """Turn what the user passed into ``batch -> (B, D) array``."""
    if hasattr(model, "encode") and callable(model.encode):  # sentence-transformers style
        return lambda batch: model.encode(batch.contents)
    if type(model).__module__.startswith("torch") or _is_torch_module(model):
        return _torch_fn(model)
    if type(model).__name__ == "InferenceSession":  # onnxruntime
        name = model.get_inputs()[0].name
        return lambda batch: model.run(None, {name: np.stack(batch.tensors)})[0]
    if callable(model):
        return model
    raise BadInputError(
        f"cannot embed with {type(model).__name__}: pass a callable batch -> (B, D) array, an "
        "object with .encode(list) (e.g. SentenceTransformer), a torch module or an onnx session"
    )


def _is_torch_module(model: Any) -> bool:
    return any(c.__module__.startswith("torch.nn") for c in type(model).__mro__)


def _torch_fn(model: Any) -> Callable[[DocumentArray], Any]:
    import torch  # noqa: PLC0415 - only when a torch model is passed

    def run(batch: DocumentArray) -> Any:
        with torch.inference_mode():
            x = torch.as_tensor(np.stack([np.asarray(t) for t in batch.tensors]))
            return model(x).detach().cpu().numpy()

    return run


def embed(da: DocumentArray, model: Any, batch_size: int = 256, show_progress: bool = False,
          normalize: bool = False) -> None:
    """Fill ``.embedding`` of every Document of ``da`` with ``model``, in batches.

    ``model`` is a callable ``batch (DocumentArray) -> (B, D)`` array, an object with
    ``.encode(contents)`` (sentence-transformers), a torch module (applied to
    ``.tensors``) or an onnxruntime session. A batch whose output does not have one row per
    Document raises DimensionMismatchError before anything of that batch is written.
    """
    if batch_size <= 0:
        raise BadInputError(f"batch_size must be positive, got {batch_size}")
    fn = _model_fn(model)
    n = len(da)
    dim = None
    with progress(total=n, desc="embed", unit="doc", enabled=show_progress) as bar:
        for batch in da.batch(batch_size):
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


# --- evaluate -------------------------------------------------------------------

def _precision(rel: list[int], k: int, _n: int) -> float:
    top = rel[:k]
    return sum(top) / k if k else 0.0


def _recall(rel: list[int], k: int, n_rel: int) -> float:
    return sum(rel[:k]) / n_rel if n_rel else 0.0


def _f1(rel: list[int], k: int, n_rel: int) -> float:
    p, r = _precision(rel, k, n_rel), _recall(rel, k, n_rel)
    return 2 * p * r / (p + r) if p + r else 0.0


def _hit(rel: list[int], k: int, _n: int) -> float:
    return 1.0 if any(rel[:k]) else 0.0


def _rr(rel: list[int], k: int, _n: int) -> float:
    for i, r in enumerate(rel[:k]):
        if r:
            return 1.0 / (i + 1)
    return 0.0


def _ap(rel: list[int], k: int, n_rel: int) -> float:
    hits, total = 0, 0.0
    for i, r in enumerate(rel[:k]):
        if r:
            hits += 1
            total += hits / (i + 1)
    return total / min(n_rel, k) if n_rel and k else 0.0


def _ndcg(rel: list[int], k: int, n_rel: int) -> float:
    dcg = sum(r / math.log2(i + 2) for i, r in enumerate(rel[:k]))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(n_rel, k)))
    return dcg / ideal if ideal else 0.0


def _r_precision(rel: list[int], _k: int, n_rel: int) -> float:
    return sum(rel[:n_rel]) / n_rel if n_rel else 0.0


EVAL_METRICS: dict[str, Callable[[list[int], int, int], float]] = {
    "precision_at_k": _precision, "recall_at_k": _recall, "f1_score_at_k": _f1,
    "hit_at_k": _hit, "reciprocal_rank": _rr, "average_precision": _ap,
    "ndcg_at_k": _ndcg, "r_precision": _r_precision,
}


def evaluate(da: DocumentArray, metrics: Sequence[str], ground_truth: DocumentArray | None,
             k: int | None, label_tag: str, num_relevant_documents_per_label: dict | None,
             metric_names: Sequence[str] | None) -> dict[str, float]:
    """Score each Document's matches against ground truth; store per-Document ``evaluations``.

    Relevance: with ``ground_truth`` (an array aligned with ``da``), a match is relevant
    if its id is among the ground-truth Document's matches; without it, if its
    ``tags[label_tag]`` equals the query's. Returns the mean of each metric.
    """
    unknown = [m for m in metrics if m not in EVAL_METRICS]
    if unknown:
        raise BadInputError(f"unknown evaluation metric(s) {unknown}; use {sorted(EVAL_METRICS)}")
    names = list(metric_names or metrics)
    if len(names) != len(metrics):
        raise BadInputError("metric_names must have one name per metric")
    if len(da) == 0:
        raise EmptyArrayError("cannot evaluate an empty array")
    if ground_truth is not None and len(ground_truth) != len(da):
        raise BadInputError(
            f"ground_truth has {len(ground_truth)} Documents but the array has {len(da)}; "
            "give one ground-truth Document per query, in the same order"
        )
    label_counts: dict[Any, int] = dict(num_relevant_documents_per_label or {})
    sums = dict.fromkeys(names, 0.0)
    gts = list(ground_truth) if ground_truth is not None else [None] * len(da)
    docs = list(da)
    for doc, gt in zip(docs, gts):
        matches = list(doc._matches or ())
        if gt is not None:
            relevant = {m.id for m in (gt._matches or ())}
            rel = [1 if m.id in relevant else 0 for m in matches]
            n_rel = len(relevant)
        else:
            label = doc.tags.get(label_tag)
            if label is None:
                raise BadInputError(
                    f"Document {doc.id!r} has no tags[{label_tag!r}]; pass ground_truth= or "
                    "label the Documents"
                )
            rel = [1 if (m._tags or {}).get(label_tag) == label else 0 for m in matches]
            n_rel = label_counts.get(label, sum(rel))
        kk = k if k is not None else len(matches)
        for metric, name in zip(metrics, names):
            value = float(EVAL_METRICS[metric](rel, kk, n_rel))
            doc.evaluations[name].value = value
            sums[name] += value
    da._write_back(docs)
    return {name: total / len(docs) for name, total in sums.items()}
