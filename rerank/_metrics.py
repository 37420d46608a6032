"""NDCG@k as checks/score.py computes it, and a paired bootstrap test."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence


def ndcg(ranked: Sequence[str], rel: Mapping[str, float], k: int = 10) -> float:
    dcg = sum(rel.get(p, 0.0) / math.log2(i + 2) for i, p in enumerate(ranked[:k]))
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(rel.values(), reverse=True)[:k]))
    return dcg / idcg if idcg else 0.0


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, n: int = 2000, seed: int = 0) -> dict:
    """Mean of b - a with a 95% interval and the one-sided p-value of b <= a (score.py's recipe)."""
    if len(a) != len(b) or not a:
        raise ValueError(f"paired bootstrap needs two equal, non-empty lists; got {len(a)} and {len(b)}")
    diff = [y - x for x, y in zip(a, b, strict=True)]
    rng = random.Random(seed)
    boots = sorted(sum(rng.choice(diff) for _ in diff) / len(diff) for _ in range(n))
    return {
        "mean_diff": sum(diff) / len(diff),
        "ci95": (boots[int(0.025 * n)], boots[int(0.975 * n) - 1]),
        "p": sum(x <= 0 for x in boots) / n,
    }
