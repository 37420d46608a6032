"""Score fusion inside the reranker: z-scored cross-encoder plus weighted z-scored retrieval scores.

score = z(cross-encoder) + sum_k w_k * z(hit.scores[k]); the weights are tuned on dev and stored in
the model folder's preloved_reranker.json, so the pipeline stays qu -> retrieval -> rerank.
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
