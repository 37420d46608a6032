"""Score fusion inside the reranker: z-scored cross-encoder plus weighted z-scored retrieval scores.

score = z(cross-encoder) + sum_k w_k * z(hit.scores[k]); the weights are tuned on dev and stored in
the model folder's preloved_reranker.json, so the pipeline stays qu -> retrieval -> rerank.

Two tuners: `fit_pairwise` (the default) fits a pairwise logistic regression over every pair of
candidates whose judged gains differ, a smooth objective; `tune_weights` searches a grid for the best
dev NDCG@10, a step function that 170 dev queries overfit. In 5-fold cross-validation on ESCI dev
(10 shuffles, the shipped model's scores) the pairwise fit scored 0.797 against the grid's 0.793,
better in 8 of 10 shuffles (docs/rerank.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from retrieval.types import Hit


def zscore(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return x
    sd = float(x.std())
    return (x - float(x.mean())) / sd if sd > 1e-12 else np.zeros_like(x)


def feature(hits: Sequence[Hit], key: str) -> np.ndarray:
    """The per-stage score `key` of each hit (`hybrid` is `hit.score`); a missing one gets the min."""
    vals = []
    for h in hits:
        v = h.scores.get(key)
        if v is None and key == "hybrid":
            v = h.score
        vals.append(np.nan if v is None else float(v))
    arr = np.asarray(vals, dtype=np.float64)
    if np.isnan(arr).all():
        return np.zeros(len(hits))
    return np.where(np.isnan(arr), np.nanmin(arr), arr)


def fuse(ce: np.ndarray, hits: Sequence[Hit], weights: Mapping[str, float]) -> np.ndarray:
    out = zscore(ce)
    for key, w in weights.items():
        if w:
            out = out + w * zscore(feature(hits, key))
    return out


def fit_pairwise(
    lists: Sequence[tuple[np.ndarray, Sequence[Hit]]],
    gains: Sequence[np.ndarray],
    keys: Sequence[str],
    l2: float = 1e-3,
) -> dict[str, float]:
    """Weights of a pairwise logistic regression (RankNet's loss on the linear fused score): for every
    candidate pair (i, j) of a list with gain_i > gain_j, minimise log(1 + exp(-(f_i - f_j) . w)) over
    the z-scored cross-encoder and retrieval features, with a small L2 penalty on the retrieval
    weights; then scaled so that the cross-encoder's weight is 1, as `fuse` takes them."""
    from scipy.optimize import minimize

    diffs = []
    for (ce, hits), g in zip(lists, gains, strict=True):
        f = np.stack([zscore(ce), *(zscore(feature(hits, k)) for k in keys)], axis=1)
        g = np.asarray(g, dtype=np.float64)
        i, j = np.nonzero(g[:, None] > g[None, :])
        diffs.append(f[i] - f[j])
    x = np.concatenate(diffs) if diffs else np.zeros((0, len(keys) + 1))
    if not len(x):
        return {k: 0.0 for k in keys}

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        sig = 0.5 * (1 - np.tanh(z / 2))  # = 1 / (1 + exp(z)), without overflow
        reg = np.concatenate([[0.0], w[1:]])
        return float(np.mean(np.logaddexp(0, -z)) + l2 * reg @ reg), -(x.T @ sig) / len(x) + 2 * l2 * reg

    w = minimize(loss, np.array([1.0] + [0.0] * len(keys)), jac=True, method="L-BFGS-B").x
    scale = max(float(w[0]), 1e-3)  # a cross-encoder that hurts keeps weight 1 against huge others
    return {k: round(float(v) / scale, 4) for k, v in zip(keys, w[1:], strict=True)}


GRID: tuple[float, ...] = (*[round(0.1 * i, 1) for i in range(11)], 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 10.0)


def tune_weights(
    lists: Sequence[tuple[np.ndarray, Sequence[Hit]]],
    objective: Callable[[list[np.ndarray]], float],
    keys: Sequence[str],
    grid: Sequence[float] = GRID,
) -> tuple[dict[str, float], float]:
    """Grid search (one key: full grid; more: coordinate ascent) of fusion weights maximising `objective`."""

    def score(ws: dict[str, float]) -> float:
        return objective([fuse(ce, hits, ws) for ce, hits in lists])

    best = {k: 0.0 for k in keys}
    best_val = score(best)
    if len(keys) == 1:
        for w in grid:
            v = score({keys[0]: float(w)})
            if v > best_val + 1e-9:
                best, best_val = {keys[0]: float(w)}, v
        return best, best_val
    for _round, key in itertools.product(range(2), keys):
        for w in grid:
            cand = {**best, key: float(w)}
            v = score(cand)
            if v > best_val + 1e-9:
                best, best_val = cand, v
    return best, best_val
