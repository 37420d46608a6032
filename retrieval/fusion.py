"""Fusing ranked lists from several retrievers: reciprocal rank and normalised linear combinations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

FusionMethod = Literal["rrf", "minmax", "zscore"]
FUSION_METHODS: tuple[str, ...] = ("rrf", "minmax", "zscore")


def check_method(method: str) -> None:
    if method not in FUSION_METHODS:
        raise ValueError(f"unknown fusion method {method!r}: choose from {', '.join(FUSION_METHODS)}")


def _normalise(scores: np.ndarray, method: str) -> np.ndarray:
    if not len(scores):
        return scores
    if method == "minmax":
        lo, hi = float(scores.min()), float(scores.max())
        return (scores - lo) / (hi - lo) if hi > lo else np.ones_like(scores)
    sd = float(scores.std())
    return (scores - float(scores.mean())) / sd if sd > 0 else np.zeros_like(scores)


def fuse(
    lists: Mapping[str, tuple[list[str], np.ndarray]],
    *,
    method: str = "rrf",
    weights: Mapping[str, float] | None = None,
    rrf_k: int = 60,
) -> dict[str, float]:
    """Fuse ranked lists {stage: (ids best first, scores)} into {id: fused score}, ids in the order
    first seen. `fuse_arrays` does the work; this form is for lists of any ids."""
    ids, fused = fuse_arrays(lists, method=method, weights=weights, rrf_k=rrf_k)
    return dict(zip(ids.tolist(), fused.tolist(), strict=True))


def fuse_arrays(
    lists: Mapping[str, tuple[Sequence | np.ndarray, np.ndarray]],
    *,
    method: str = "rrf",
    weights: Mapping[str, float] | None = None,
    rrf_k: int = 60,
) -> tuple[np.ndarray, np.ndarray]:
    """Fuse ranked lists {stage: (ids best first, scores)} into (every id once, in the order first
    seen; its fused score). Ids are unique within a list; the index passes integer row keys, so
    no per-candidate Python runs on a search's few hundred candidates.

    rrf: sum of weight * 1 / (rrf_k + rank) (rank from 1); minmax / zscore: sum of weight * the
    stage's normalised score, an id missing from a list getting that list's lowest normalised
    score. Weights default to 1 per stage.
    """
    check_method(method)
    per_stage: list[tuple[np.ndarray, float]] = []
    keys = []
    for stage, (ids, scores) in lists.items():
        w = 1.0 if weights is None else float(weights.get(stage, 1.0))
        if not len(ids):
            continue
        if method == "rrf":
            contrib = w / (rrf_k + np.arange(1, len(ids) + 1, dtype=np.float64))
            floor = 0.0
        else:
            contrib = w * _normalise(np.asarray(scores, dtype=np.float64), method)
            floor = float(contrib.min())
        per_stage.append((contrib, floor))
        keys.append(np.asarray(ids))
    if not keys:
        return np.empty(0, dtype=np.int64), np.empty(0)
    uniq, first, inverse = np.unique(np.concatenate(keys), return_index=True, return_inverse=True)
    fused = np.zeros(len(uniq))
    at = 0
    for (contrib, floor), k in zip(per_stage, keys, strict=True):
        col = np.full(len(uniq), floor)
        col[inverse[at:at + len(k)]] = contrib
        fused += col  # stage by stage, in the lists' order: the same sums as adding them one by one
        at += len(k)
    seen = np.argsort(first, kind="stable")
    return uniq[seen], fused[seen]
