"""Evaluating matches against ground truth, with DocArray 0.21's metric definitions.

The metric functions take the binary relevance of one query's matches in rank order (and
``k``, ``max_rel`` where they need them) and compute exactly what DocArray's
``docarray.math.evaluation`` does, so that numbers carry over; :func:`evaluate` is
``DocumentArray.evaluate``.
"""
from __future__ import annotations

import inspect
import math
import warnings
from typing import TYPE_CHECKING, Any, Callable, Sequence

from shoal.errors import BadInputError, EmptyArrayError

if TYPE_CHECKING:
    from shoal.document.array import DocumentArray
    from shoal.document.document import Document

__all__ = ["METRICS", "evaluate", "precision_at_k", "recall_at_k", "f1_score_at_k",
           "hit_at_k", "reciprocal_rank", "average_precision", "r_precision", "dcg_at_k",
           "ndcg_at_k"]


def _check_k(k: int | None) -> None:
    if k is not None and (not isinstance(k, int) or k < 1):
        raise BadInputError(f"k must be a positive integer or None, got {k!r}")


def precision_at_k(binary_relevance: Sequence[float], k: int | None = None, **_: Any) -> float:
    """Share of relevant matches among the first ``k`` (all when None); 0.0 for none."""
    _check_k(k)
    top = list(binary_relevance)[:k]
    return sum(1 for r in top if r) / len(top) if top else 0.0


def hit_at_k(binary_relevance: Sequence[float], k: int | None = None, **_: Any) -> int:
    """1 when a relevant match is among the first ``k``, else 0."""
    _check_k(k)
    return 1 if any(list(binary_relevance)[:k]) else 0


def recall_at_k(binary_relevance: Sequence[float], max_rel: int | None,
                k: int | None = None, **_: Any) -> float:
    """Relevant matches among the first ``k`` over ``max_rel``, the number that could be."""
    _check_k(k)
    if max_rel is None:
        raise BadInputError(
            "recall_at_k needs the number of relevant Documents: pass max_rel=N, a "
            "ground_truth= array with matches, or num_relevant_documents_per_label={label: N}")
    hits = sum(1 for r in list(binary_relevance)[:k] if r)
    if hits > max_rel:
        raise BadInputError(f"{hits} relevant Documents were retrieved but max_rel is {max_rel}")
    return hits / max_rel


def f1_score_at_k(binary_relevance: Sequence[float], max_rel: int | None,
                  k: int | None = None, **_: Any) -> float:
    """The harmonic mean of precision@k and recall@k."""
    p = precision_at_k(binary_relevance, k)
    r = recall_at_k(binary_relevance, max_rel, k)
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def reciprocal_rank(binary_relevance: Sequence[float], **_: Any) -> float:
    """1 / the rank of the first relevant match; 0.0 when none is."""
    for i, r in enumerate(binary_relevance):
        if r:
            return 1.0 / (i + 1)
    return 0.0


def average_precision(binary_relevance: Sequence[float], **_: Any) -> float:
    """The mean of precision@i over the ranks i of the relevant matches."""
    rel = list(binary_relevance)
    out = [precision_at_k(rel, i + 1) for i, r in enumerate(rel) if r]
    return sum(out) / len(out) if out else 0.0


def r_precision(binary_relevance: Sequence[float], **_: Any) -> float:
    """Precision over the first R matches, R the number of relevant ones retrieved."""
    rel = [1 if r else 0 for r in binary_relevance]
    n = sum(rel)
    return sum(rel[:n]) / n if n else 0.0


def dcg_at_k(relevance: Sequence[float], method: int = 0, k: int | None = None,
             **_: Any) -> float:
    """Discounted cumulative gain; ``method`` 0 weighs ranks 1, 1, 1/log2(3)..., 1 weighs
    them 1, 1/log2(3), 1/2..."""
    _check_k(k)
    r = [float(x) for x in list(relevance)[:k]]
    if not r:
        return 0.0
    if method == 0:
        return r[0] + sum(x / math.log2(i + 1) for i, x in enumerate(r[1:], start=1))
    if method == 1:
        return sum(x / math.log2(i + 2) for i, x in enumerate(r))
    raise BadInputError(f"method must be 0 or 1, got {method!r}")


def ndcg_at_k(relevance: Sequence[float], method: int = 0, k: int | None = None,
              **_: Any) -> float:
    """dcg@k over the dcg@k of the same relevances sorted best first."""
    best = dcg_at_k(sorted(relevance, reverse=True), method=method, k=k)
    return dcg_at_k(relevance, method=method, k=k) / best if best else 0.0


METRICS: dict[str, Callable[..., float]] = {f.__name__: f for f in (
    precision_at_k, recall_at_k, f1_score_at_k, hit_at_k, reciprocal_rank,
    average_precision, r_precision, dcg_at_k, ndcg_at_k)}


def _metric_fns(metrics: Sequence[str | Callable[..., float]]) -> list[Callable[..., float]]:
    fns = []
    for m in metrics:
        if callable(m):
            fns.append(m)
        elif m in METRICS:
            fns.append(METRICS[m])
        else:
            raise BadInputError(
                f"unknown evaluation metric {m!r}; use one of {sorted(METRICS)} or a function "
                "(binary_relevance, **kwargs) -> float")
    return fns


def _takes_max_rel(fn: Callable[..., float]) -> bool:
    try:
        return "max_rel" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def evaluate(da: DocumentArray, metrics: Sequence[str | Callable[..., float]],
             ground_truth: DocumentArray | None = None,
             hash_fn: Callable[[Document], Any] | None = None,
             metric_names: Sequence[str] | None = None, strict: bool = True,
             label_tag: str = "label",
             num_relevant_documents_per_label: dict[Any, int] | None = None,
             **kwargs: Any) -> dict[str, float]:
    """Score each Document's ``matches`` and return the mean of each metric (stored per
    Document in ``evaluations[name]``), as DocArray 0.21 does.

    Relevance: with a ``ground_truth`` array whose first Document has matches, a match is
    relevant when ``hash_fn`` (default: the id) of it is among the ground-truth
    Document's matches, and ``max_rel`` is their number; else, when its
    ``tags[label_tag]`` equals the query's, and ``max_rel`` comes from
    ``num_relevant_documents_per_label``. ``max_rel=`` and ``k=`` in ``kwargs`` go to the
    metric functions (``max_rel`` given wins).
    """
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    fns = _metric_fns(metrics)
    names = list(metric_names) if metric_names else [getattr(f, "__name__", str(f)) for f in fns]
    if len(names) != len(fns):
        raise BadInputError("metric_names must have one name per metric")
    docs = list(da)
    if not docs:
        raise EmptyArrayError("cannot evaluate an empty array")
    gts = list(ground_truth) if ground_truth is not None else []
    if gts and gts[0]._matches:
        by_labels = False
    elif label_tag in (docs[0]._tags or {}):
        if ground_truth is not None and len(ground_truth):
            warnings.warn("ground_truth has no matches: the labels are used instead",
                          stacklevel=3)
        by_labels, gts = True, docs
    else:
        raise BadInputError(
            f"nothing to evaluate against: pass ground_truth= (an array whose Documents have "
            f"matches) or label the Documents with tags[{label_tag!r}]")
    if strict and len(gts) != len(docs):
        raise BadInputError(
            f"ground_truth has {len(gts)} Documents but the array has {len(docs)}; give one "
            "per query, in the same order (or strict=False)")
    key = hash_fn or (lambda d: d.id)
    given_max_rel = kwargs.pop("max_rel", None)
    sums = dict.fromkeys(names, 0.0)
    for doc, gt in zip(docs, gts):
        matches, targets = list(doc._matches or ()), list(gt._matches or ())
        if not matches or not targets:
            raise BadInputError(
                f"Document {doc.id!r} (or its ground truth) has no matches; match it first")
        if strict and not by_labels and key(doc) != key(gt):
            raise BadInputError(
                f"Document {doc.id!r} and its ground truth {gt.id!r} do not hash alike: the "
                "arrays are not aligned (or hash_fn does not fit them; strict=False skips this)")
        if by_labels:
            label = doc._tags[label_tag]
            rel = [1 if (m._tags or {}).get(label_tag) == label else 0 for m in targets]
            max_rel = given_max_rel or _label_count(num_relevant_documents_per_label, label)
        else:
            wanted = {key(m) for m in targets}
            rel = [1 if key(m) in wanted else 0 for m in matches]
            max_rel = given_max_rel or len(targets)
        for fn, name in zip(fns, names):
            args = {**kwargs, "max_rel": max_rel} if _takes_max_rel(fn) else kwargs
            value = float(fn(rel, **args))
            score = doc.evaluations[name]
            score.value, score.ref_id = value, doc.id
            sums[name] += value
    da._write_back(docs)
    return {name: total / len(docs) for name, total in sums.items()}


def _label_count(counts: dict[Any, int] | None, label: Any) -> int | None:
    if not counts:
        return None
    if label not in counts:
        raise BadInputError(f"num_relevant_documents_per_label has no count for label {label!r}")
    return counts[label]
