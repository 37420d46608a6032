"""The reranker's score fusion and its two tuners, on lists where the right weights are known."""

from __future__ import annotations

import numpy as np
import pytest

from rerank._evaluate import tune_on_dev
from rerank._fusion import fit_pairwise, fuse
from retrieval.types import Hit


def _lists(n_queries: int, informative: str, seed: int = 0):
    """Lists of 20 hits; only the feature named `informative` ('ce' or 'bm25') knows the one relevant hit."""
    rng = np.random.default_rng(seed)
    lists, gains, qrels, cands = [], [], {}, {}
    for q in range(n_queries):
        g = np.zeros(20)
        g[rng.integers(20)] = 1.0
        signal = g * 3 + rng.normal(size=20)
        ce = signal if informative == "ce" else rng.normal(size=20)
        bm25 = signal if informative == "bm25" else rng.normal(size=20)
        hits = [
            Hit(id=f"{q}-{i}", score=float(-i), scores={"bm25": float(bm25[i]), "dense": float(rng.normal())})
            for i in range(20)
        ]
        lists.append((ce, hits))
        gains.append(g)
        qrels[f"q{q}"] = {h.id: float(gi) for h, gi in zip(hits, g, strict=True) if gi}
        cands[f"q{q}"] = hits
    return lists, gains, qrels, cands


def test_pairwise_weights_follow_the_informative_feature():
    lists, gains, *_ = _lists(60, informative="bm25")
    w = fit_pairwise(lists, gains, ["hybrid", "dense", "bm25"])
    assert w["bm25"] > 5 * max(abs(w["dense"]), abs(w["hybrid"]), 1.0)
    top_first = [
        int(np.argmax(fuse(ce, hits, w))) == int(np.argmax(g)) for (ce, hits), g in zip(lists, gains, strict=True)
    ]
    assert np.mean(top_first) > 0.8


def test_pairwise_leaves_uninformative_retrieval_scores_near_zero():
    lists, gains, *_ = _lists(60, informative="ce")
    w = fit_pairwise(lists, gains, ["hybrid", "dense", "bm25"])
    assert max(abs(v) for v in w.values()) < 0.3


def test_no_judged_pairs_give_zero_weights():
    lists, gains, *_ = _lists(3, informative="ce")
    assert fit_pairwise(lists, [np.zeros(20)] * 3, ["bm25"]) == {"bm25": 0.0}


@pytest.mark.parametrize("tuner", ["pairwise", "grid"])
def test_both_tuners_beat_the_cross_encoder_alone_when_bm25_knows(tuner):
    lists, _, qrels, cands = _lists(40, informative="bm25", seed=1)
    queries = list(cands)
    ce = [s for s, _ in lists]
    weights, fused = tune_on_dev(ce, queries, cands, qrels, ["bm25"], tuner)
    _, alone = tune_on_dev(ce, queries, cands, qrels, [], tuner)
    assert weights["bm25"] > 1 and fused > alone + 0.3


def test_unknown_tuner_is_a_clear_error():
    lists, _, qrels, cands = _lists(2, informative="ce")
    with pytest.raises(ValueError, match="unknown fusion tuner"):
        tune_on_dev([s for s, _ in lists], list(cands), cands, qrels, ["bm25"], "bayes")
