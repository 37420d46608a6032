"""Which fusion tuner generalises: k-fold cross-validation of the reranker's fusion weights on ESCI dev.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/fusion_cv.py [--model models/reranker] [--folds 5] [--shuffles 10]

The weights that fuse the cross-encoder with the retrieval scores are fitted on ESCI dev, so the dev
NDCG@10 of the fused ranking is an in-sample figure. This splits the dev queries into folds, fits
each tuner (`pairwise`: logistic regression over judged pairs; `grid`: the best dev NDCG@10 on a
grid) on the other folds and scores the held-out fold, over several shuffles. Test is not read.
Prints a table and writes bench/results/fusion_cv.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
TUNERS = ("pairwise", "grid")


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
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "fusion_cv.json"))
    args = ap.parse_args(argv)

    cfg = load_config(args.config, {"retriever": "preloved-hybrid"})
    data = TrainingData(cfg, show_progress=False)
    rr = CrossEncoderReranker(Path(args.model), threads=2, cache_size=0, fusion_weights={})
    qs = sorted(data.dev_qrels)
    cands = {q: data.candidates[q][: cfg.eval_depth] for q in qs}
    ce = [rr.score(q, [rr.text(data.pool[h.id]) for h in cands[q]]) for q in qs]
    keys = cfg.fusion_keys
    retrieval_order = [-np.arange(len(cands[q]), dtype=float) for q in qs]
    hybrid = float(np.mean(per_query_ndcg(retrieval_order, qs, cands, data.dev_qrels)))

    rng = np.random.default_rng(args.seed)
    order = np.arange(len(qs))
    rows = []
    for shuffle in range(args.shuffles):
        rng.shuffle(order)
        held: dict[str, list[float]] = {t: [] for t in TUNERS}
        for fold in np.array_split(order, args.folds):
            out = set(fold.tolist())
            fit_q = [qs[i] for i in order if i not in out]
            fit_ce = [ce[i] for i in order if i not in out]
            val_q, val_ce = [qs[i] for i in fold], [ce[i] for i in fold]
            for t in TUNERS:
                w, _ = tune_on_dev(fit_ce, fit_q, cands, data.dev_qrels, keys, t)
                fused = [fuse(s, cands[q], w) for q, s in zip(val_q, val_ce, strict=True)]
                held[t] += per_query_ndcg(fused, val_q, cands, data.dev_qrels)
        rows.append({t: float(np.mean(v)) for t, v in held.items()})
        print(f"shuffle {shuffle}: " + "  ".join(f"{t} {rows[-1][t]:.4f}" for t in TUNERS), file=sys.stderr)
    in_sample = {t: tune_on_dev(ce, qs, cands, data.dev_qrels, keys, t) for t in TUNERS}
    res = {
        "model": str(Path(args.model)),
        "dev_queries": len(qs),
        "folds": args.folds,
        "shuffles": args.shuffles,
        "hybrid": hybrid,
        "cross_validated": {t: float(np.mean([r[t] for r in rows])) for t in TUNERS},
        "per_shuffle": rows,
        "pairwise_better_in": sum(r["pairwise"] > r["grid"] for r in rows),
        "in_sample": {t: {"fused": v, "weights": w} for t, (w, v) in in_sample.items()},
    }
    print(f"ESCI dev ({len(qs)} queries), hybrid alone {hybrid:.4f}")
    print("| tuner | in-sample dev NDCG@10 | cross-validated | weights (fitted on all of dev) |")
    print("|---|---|---|---|")
    for t in TUNERS:
        w, v = in_sample[t]
        print(f"| {t} | {v:.4f} | {res['cross_validated'][t]:.4f} | {json.dumps(w)} |")
    print(f"pairwise better in {res['pairwise_better_in']} of {args.shuffles} shuffles")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
