"""Dev/test evaluation over cached hybrid candidates: cross-encoder alone, fused, and hybrid alone."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from preloved.metrics import ndcg, paired_bootstrap
from rerank._fusion import fit_pairwise, fuse, tune_weights
from retrieval.types import Hit

ScoreFn = Callable[[str, list[str]], np.ndarray]  # (query, texts) -> raw scores


def per_query_ndcg(
    order_scores: Sequence[np.ndarray],
    queries: Sequence[str],
    cands: Mapping[str, Sequence[Hit]],
    qrels: Mapping[str, Mapping[str, float]],
) -> list[float]:
    out = []
    for q, s in zip(queries, order_scores, strict=True):
        hits = cands[q]
        order = np.argsort(-np.asarray(s), kind="stable")
        out.append(ndcg([hits[i].id for i in order], qrels[q]))
    return out


def score_candidates(
    score_fn: ScoreFn,
    queries: Sequence[str],
    cands: Mapping[str, Sequence[Hit]],
    texts: Mapping[str, str],
    depth: int,
    read: Mapping[str, str] | None = None,
) -> list[np.ndarray]:
    """The cross-encoder's scores of each query's top-`depth` candidates; `read`: the text the model reads
    for a query, where it is not the query itself (`rerank._candidates.Mined.read`)."""
    read = read or {}
    return [
        np.asarray(score_fn(read.get(q, q), [texts[h.id] for h in cands[q][:depth]]), dtype=np.float64)
        for q in queries
    ]


def evaluate_split(
    ce: Sequence[np.ndarray],
    queries: Sequence[str],
    cands: Mapping[str, Sequence[Hit]],
    qrels: Mapping[str, Mapping[str, float]],
    weights: Mapping[str, float],
) -> dict:
    """NDCG@10 of hybrid alone, cross-encoder alone and fused, with the paired bootstrap vs hybrid."""
    heads = {q: list(cands[q][: len(s)]) for q, s in zip(queries, ce, strict=True)}
    hyb = per_query_ndcg([-np.arange(len(heads[q]), dtype=float) for q in queries], queries, heads, qrels)
    ce_only = per_query_ndcg(ce, queries, heads, qrels)
    fused = per_query_ndcg(
        [fuse(s, heads[q], weights) for q, s in zip(queries, ce, strict=True)], queries, heads, qrels
    )
    return {
        "queries": len(queries),
        "hybrid": float(np.mean(hyb)),
        "cross_encoder": float(np.mean(ce_only)),
        "fused": float(np.mean(fused)),
        "weights": dict(weights),
        "fused_vs_hybrid": paired_bootstrap(hyb, fused),
        "ce_vs_hybrid": paired_bootstrap(hyb, ce_only),
    }


def tune_on_dev(
    ce: Sequence[np.ndarray],
    queries: Sequence[str],
    cands: Mapping[str, Sequence[Hit]],
    qrels: Mapping[str, Mapping[str, float]],
    keys: Sequence[str],
    tuner: str = "pairwise",
) -> tuple[dict[str, float], float]:
    """Fusion weights fitted on dev (`pairwise`: logistic regression over judged pairs; `grid`: the
    best dev NDCG@10 on a grid) and the dev NDCG@10 they reach."""
    heads = {q: list(cands[q][: len(s)]) for q, s in zip(queries, ce, strict=True)}
    lists = [(s, heads[q]) for q, s in zip(queries, ce, strict=True)]

    def objective(scores: list[np.ndarray]) -> float:
        return float(np.mean(per_query_ndcg(scores, queries, heads, qrels)))

    if tuner == "grid":
        return tune_weights(lists, objective, keys)
    if tuner != "pairwise":
        raise ValueError(f"unknown fusion tuner {tuner!r}; use 'pairwise' or 'grid'")
    gains = [np.array([qrels[q].get(h.id, 0.0) for h in heads[q]]) for q in queries]
    weights = fit_pairwise(lists, gains, keys)
    return weights, objective([fuse(s, hits, weights) for s, hits in lists])
