"""Two reranker folders head to head on ESCI: fused NDCG@10 per split and the paired bootstrap of B - A.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/rerank_ab.py --a models/reranker --b .cache/rerank/<export> \
        [--out bench/results/rerank_ab.json]

Both rerank the same cached `preloved-hybrid` top-50 (built by the training config), each fused with
the weights stored in its own folder (`python -m rerank.evaluate --write` fits them on dev), so
this is the comparison `score.py esci` would make of the two as the default. Prints a table and
writes JSON: each side's fused NDCG@10, B - A with its 95% interval and the one-sided p that B is
not better, and how many queries read better and worse.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    from preloved.metrics import paired_bootstrap
    from rerank import CrossEncoderReranker
    from rerank._evaluate import per_query_ndcg
    from rerank._fusion import fuse
    from rerank.config import load_config
    from rerank.train import TrainingData

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", required=True, help="the reference folder (the shipped model, say)")
    ap.add_argument("--b", required=True, help="the challenger folder")
    ap.add_argument("--depth", type=int, default=50)
    ap.add_argument("--config", default=str(ROOT / "rerank" / "configs" / "default.json"))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "rerank_ab.json"))
    args = ap.parse_args(argv)
    rerankers = {}
    for side in ("a", "b"):
        folder = Path(getattr(args, side))
        rr = CrossEncoderReranker(folder, cache_size=0)
        if not rr.fusion_weights:
            ap.error(f"{folder} holds no fusion weights: run python -m rerank.evaluate --model {folder} --write")
        rerankers[side] = rr
    data = TrainingData(load_config(args.config, {"retriever": "preloved-hybrid"}), show_progress=False)
    res: dict = {"a": args.a, "b": args.b, "depth": args.depth}
    for split, qrels in (("dev", data.dev_qrels), ("test", data.test_qrels)):
        qs = sorted(qrels)
        heads = {q: list(data.candidates[q][: args.depth]) for q in qs}
        per_query = {}
        for side, rr in rerankers.items():
            fused = [
                fuse(rr.score(data.read[q], [rr.text(data.pool[h.id]) for h in heads[q]]), heads[q], rr.fusion_weights)
                for q in qs
            ]
            per_query[side] = per_query_ndcg(fused, qs, heads, qrels)
        a, b = per_query["a"], per_query["b"]
        res[split] = {
            "queries": len(qs),
            "a": float(np.mean(a)),
            "b": float(np.mean(b)),
            "b_minus_a": paired_bootstrap(a, b),
            "b_better": sum(y > x + 1e-9 for x, y in zip(a, b, strict=True)),
            "b_worse": sum(y < x - 1e-9 for x, y in zip(a, b, strict=True)),
        }
    print(f"A = {args.a}\nB = {args.b}")
    print("| split | queries | A | B | B - A [95% CI] | p (B not better) | B better / worse |")
    print("|---|---|---|---|---|---|---|")
    for split in ("dev", "test"):
        r = res[split]
        d = r["b_minus_a"]
        print(
            f"| {split} | {r['queries']} | {r['a']:.4f} | {r['b']:.4f} | {d['mean_diff']:+.4f} "
            f"[{d['ci95'][0]:+.4f}, {d['ci95'][1]:+.4f}] | {d['p']:.3f} | {r['b_better']} / {r['b_worse']} |"
        )
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
