"""Our sparse BM25 against the reference, rank-bm25's BM25Okapi, on a real sample corpus.

Decision for terms in more than half the listings (negative Robertson idf): we keep
rank-bm25's behaviour, a floor of epsilon (0.25) x the mean idf, rather than bm25s's clamp to 0.
In a specialist shop ("jeans" in most listings) the common word still separates a matching
listing from one that lacks it, at a small weight, instead of being ignored.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from retrieval.bm25 import SparseBM25
from retrieval.text import tokenize

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def corpus():
    rows = [json.loads(x) for x in open(ROOT / "data" / "esci" / "esci_us_dev.jsonl", encoding="utf-8")]
    titles = list(dict.fromkeys(r["product_title"] for r in rows))
    queries = list(dict.fromkeys(r["query"] for r in rows))[:60]
    return [tokenize(t) for t in titles], [tokenize(q) for q in queries]


def top10(scores: np.ndarray) -> list[tuple[int, float]]:
    order = np.lexsort((np.arange(len(scores)), -scores))[:10]
    return [(int(i), float(scores[i])) for i in order if scores[i] > 0]


def test_same_top10_and_scores_as_rank_bm25(corpus):
    docs, queries = corpus
    ref = BM25Okapi(docs, k1=1.5, b=0.75, epsilon=0.25)
    ours = SparseBM25.build(docs, k1=1.5, b=0.75, epsilon=0.25)
    checked = 0
    for q in queries:
        want = np.asarray(ref.get_scores(q))
        rows, vals = ours.top_k(q, 10)
        got = list(zip(rows.tolist(), vals.tolist(), strict=True))
        exp = top10(want)
        assert [r for r, _ in got] == [r for r, _ in exp], q
        np.testing.assert_allclose([v for _, v in got], [v for _, v in exp], atol=1e-5)
        # and every nonzero score, not just the top
        r_all, v_all = ours.scores(q)
        full = np.zeros(len(docs))
        full[r_all] = v_all
        np.testing.assert_allclose(full, want, atol=1e-5)
        checked += bool(exp)
    assert checked > 40


def test_common_terms_keep_rank_bm25_floor():
    # "jeans" is in 3 of 4 listings: its Robertson idf is negative
    docs = [t.split() for t in ("levis jeans", "wrangler jeans", "lee jeans", "nike hoodie")]
    ref = BM25Okapi(docs)
    ours = SparseBM25.build(docs)
    col = ours.stats.vocab["jeans"]
    assert np.log((4 - 3 + 0.5) / (3 + 0.5)) < 0
    assert ours.stats.idf[col] == pytest.approx(ref.idf["jeans"]) and ours.stats.idf[col] > 0
    rows, vals = ours.top_k(["jeans"], 10)
    assert sorted(rows.tolist()) == [0, 1, 2]  # found, at a small positive weight, not clamped to 0
    np.testing.assert_allclose(vals, np.asarray(ref.get_scores(["jeans"]))[rows], atol=1e-9)
