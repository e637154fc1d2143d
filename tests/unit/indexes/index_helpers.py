"""Shared helpers of the index tests (clustered data, numpy reference search, recall)."""
from __future__ import annotations

import numpy as np

DIM = 24
N = 1500


def clustered(n: int, dim: int, centers: int = 15, seed: int = 0, center_seed: int = 0) -> np.ndarray:
    """Gaussian-mixture vectors (what real embeddings look like, unlike uniform noise).

    Calls with the same ``center_seed`` share cluster centres (data and its queries).
    """
    c = np.random.default_rng(center_seed).normal(0.0, 1.0, (centers, dim)).astype(np.float32)
    rng = np.random.default_rng(seed + 1000)
    which = rng.integers(0, centers, n)
    return (c[which] + rng.normal(0.0, 0.35, (n, dim))).astype(np.float32)


def brute_force(q: np.ndarray, x: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Reference top-k with plain numpy, in the user-facing score convention."""
    if metric == "cosine":
        qn = q / np.linalg.norm(q, axis=1, keepdims=True)
        xn = x / np.linalg.norm(x, axis=1, keepdims=True)
        s = 1.0 - qn @ xn.T
    elif metric == "inner_product":
        s = -(q @ x.T)
    else:
        s = ((q[:, None, :] - x[None, :, :]) ** 2).sum(-1)
        if metric == "euclidean":
            s = np.sqrt(s)
    order = np.argsort(s, axis=1, kind="stable")[:, :k]
    scores = np.take_along_axis(s, order, axis=1)
    return (-scores if metric == "inner_product" else scores), order


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f[f >= 0].tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


def scores_of(q: np.ndarray, v: np.ndarray, metric: str) -> np.ndarray:
    """The metric value of each query ``q[i]`` against its vectors ``v[i, j]`` (user convention)."""
    if metric == "cosine":
        qn = q / np.linalg.norm(q, axis=1, keepdims=True)
        vn = v / np.linalg.norm(v, axis=2, keepdims=True)
        return 1.0 - np.einsum("qcd,qd->qc", vn, qn)
    if metric == "inner_product":
        return np.einsum("qcd,qd->qc", v, q)
    sq = ((v - q[:, None, :]) ** 2).sum(-1)
    return np.sqrt(sq) if metric == "euclidean" else sq
