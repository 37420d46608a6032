"""Which fusion tuner generalises: k-fold cross-validation of the reranker's fusion weights on ESCI dev.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/fusion_cv.py [--model models/reranker] [--folds 5] [--shuffles 10]

The weights that fuse the cross-encoder with the retrieval scores are fitted on ESCI dev, so the dev
NDCG@10 of the fused ranking is an in-sample figure. This splits the dev queries into folds, fits
each tuner (`pairwise`: logistic regression over judged pairs; `grid`: the best dev NDCG@10 on a
grid) on the other folds and scores the held-out fold, over several shuffles. Test is not read.
Prints a table and writes bench/results/fusion_cv.json.

`--features cover,brand,colour,rank` also fits the pairwise tuner with each extra per-candidate
feature beside the retrieval scores (and with all of them): the share of the query's words in the
listing's title, brand and colour (`cover`), the listing's brand all in the query (`brand`), its
colour in the query (`colour`), the hybrid rank (`rank`). Written to bench/results/fusion_features.json
in session 15.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
TUNERS = ("pairwise", "grid")
_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str | None) -> set[str]:
    return set(_WORD.findall((text or "").lower()))


def add_features(query: str, hits, pool) -> None:
    """The extra per-candidate features, into each hit's `scores` (which `fuse` reads by key)."""
    q = _words(query)
    for rank, h in enumerate(hits):
        listing = pool[h.id]
        brand, colour = _words(listing.brand), _words(listing.colour)
        h.scores["cover"] = len(q & (_words(listing.title) | brand | colour)) / max(1, len(q))
        h.scores["brand"] = float(bool(brand) and brand <= q)
        h.scores["colour"] = float(bool(colour & q))
        h.scores["rank"] = -float(rank)


def main(argv: list[str] | None = None) -> int:
    from rerank._evaluate import per_query_ndcg, tune_on_dev
    from rerank._fusion import fuse
    from rerank.config import load_config
    from rerank.reranker import CrossEncoderReranker
    from rerank.train import TrainingData

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "reranker"))
    ap.add_argument("--config", default=str(ROOT / "rerank" / "configs" / "default.json"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--shuffles", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--features", default="", help="comma-separated: cover, brand, colour, rank")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "fusion_cv.json"))
    args = ap.parse_args(argv)

    cfg = load_config(args.config, {"retriever": "preloved-hybrid"})
    data = TrainingData(cfg, show_progress=False)
    rr = CrossEncoderReranker(Path(args.model), threads=2, cache_size=0, fusion_weights={})
    qs = sorted(data.dev_qrels)
    cands = {q: data.candidates[q][: cfg.eval_depth] for q in qs}
    ce = [rr.score(data.read[q], [rr.text(data.pool[h.id]) for h in cands[q]]) for q in qs]
    keys = list(cfg.fusion_keys)
    features = [f for f in args.features.split(",") if f]
    unknown = set(features) - {"cover", "brand", "colour", "rank"}
    if unknown:
        ap.error(f"unknown feature(s) {', '.join(sorted(unknown))}: choose from cover, brand, colour, rank")
    variants = {t: (t, keys) for t in TUNERS}
    if features:
        for q in qs:
            add_features(q, cands[q], data.pool)
        variants |= {f"pairwise+{f}": ("pairwise", [*keys, f]) for f in features}
        if len(features) > 1:
            variants["pairwise+" + "+".join(features)] = ("pairwise", keys + features)
    retrieval_order = [-np.arange(len(cands[q]), dtype=float) for q in qs]
    hybrid = float(np.mean(per_query_ndcg(retrieval_order, qs, cands, data.dev_qrels)))

    rng = np.random.default_rng(args.seed)
    order = np.arange(len(qs))
    rows = []
    for shuffle in range(args.shuffles):
        rng.shuffle(order)
        held: dict[str, list[float]] = {v: [] for v in variants}
        for fold in np.array_split(order, args.folds):
            out = set(fold.tolist())
            fit_q = [qs[i] for i in order if i not in out]
            fit_ce = [ce[i] for i in order if i not in out]
            val_q, val_ce = [qs[i] for i in fold], [ce[i] for i in fold]
            for v, (tuner, vkeys) in variants.items():
                w, _ = tune_on_dev(fit_ce, fit_q, cands, data.dev_qrels, vkeys, tuner)
                fused = [fuse(s, cands[q], w) for q, s in zip(val_q, val_ce, strict=True)]
                held[v] += per_query_ndcg(fused, val_q, cands, data.dev_qrels)
        rows.append({t: float(np.mean(v)) for t, v in held.items()})
        print(f"shuffle {shuffle}: " + "  ".join(f"{v} {rows[-1][v]:.4f}" for v in variants), file=sys.stderr)
    in_sample = {v: tune_on_dev(ce, qs, cands, data.dev_qrels, vkeys, tuner) for v, (tuner, vkeys) in variants.items()}
    res = {
        "model": str(Path(args.model)),
        "dev_queries": len(qs),
        "folds": args.folds,
        "shuffles": args.shuffles,
        "hybrid": hybrid,
        "cross_validated": {v: float(np.mean([r[v] for r in rows])) for v in variants},
        "better_than_pairwise_in": {v: sum(r[v] > r["pairwise"] for r in rows) for v in variants if "+" in v},
        "per_shuffle": rows,
        "pairwise_better_in": sum(r["pairwise"] > r["grid"] for r in rows),
        "in_sample": {t: {"fused": v, "weights": w} for t, (w, v) in in_sample.items()},
    }
    print(f"ESCI dev ({len(qs)} queries), hybrid alone {hybrid:.4f}")
    print("| tuner | in-sample dev NDCG@10 | cross-validated | weights (fitted on all of dev) |")
    print("|---|---|---|---|")
    for v in variants:
        w, fused = in_sample[v]
        print(f"| {v} | {fused:.4f} | {res['cross_validated'][v]:.4f} | {json.dumps(w)} |")
    print(f"pairwise better than grid in {res['pairwise_better_in']} of {args.shuffles} shuffles")
    for v, n in res["better_than_pairwise_in"].items():
        print(f"{v} better than pairwise in {n} of {args.shuffles} shuffles")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
