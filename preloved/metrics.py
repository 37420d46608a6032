"""Ranking metrics, as the KDD Cup and ../shared/checks/score.py compute them."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

ESCI_GAIN = {"E": 1.0, "S": 0.1, "C": 0.01, "I": 0.0}


def ndcg(ranked: Sequence[str], rel: Mapping[str, float], k: int = 10) -> float:
    """NDCG@k with linear gains; the ideal ranking is over all judged items of the query."""
    dcg = sum(rel.get(p, 0.0) / math.log2(i + 2) for i, p in enumerate(ranked[:k]))
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(rel.values(), reverse=True)[:k]))
    return dcg / idcg if idcg else 0.0


def recall(ranked: Sequence[str], rel: Mapping[str, float], k: int = 100) -> float:
    """Share of the items with a positive gain found in the top k."""
    relevant = {p for p, g in rel.items() if g > 0}
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def paired_bootstrap(a: Sequence[float], b: Sequence[float], n: int = 2000, seed: int = 0) -> dict:
    """Mean of b - a with a 95% interval and the one-sided p-value that b is not better than a."""
    if len(a) != len(b) or not a:
        raise ValueError(f"paired_bootstrap needs two equal, non-empty lists; got {len(a)} and {len(b)}")
    diff = [y - x for x, y in zip(a, b, strict=True)]
    rng = random.Random(seed)
    boots = sorted(sum(rng.choice(diff) for _ in diff) / len(diff) for _ in range(n))
    return {"mean_diff": sum(diff) / len(diff), "ci95": (boots[int(0.025 * n)], boots[int(0.975 * n) - 1]),
            "p": sum(x <= 0 for x in boots) / n}
