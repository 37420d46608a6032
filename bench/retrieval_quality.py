"""ESCI relevance of the retrieval stages, and the fusion tuning on ESCI dev.

    .venv/bin/python bench/retrieval_quality.py [--tune]

Builds an index over the whole 2,267-product pool (as ../shared/checks/score.py does), then
for every dev/test query with a positive label ranks the pool with bm25, dense and hybrid and
reports NDCG@10 (gains E=1, S=0.1, C=0.01, I=0) and Recall@100 (of E/S/C products). With
--tune, grids fusion method x dense weight on dev and prints the table. Writes
bench/results/retrieval_quality.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from preloved.metrics import ndcg, recall  # noqa: E402
from retrieval import Index, SearchConfig  # noqa: E402
from retrieval.catalogue import listing_from_dict  # noqa: E402
from retrieval.fusion import fuse  # noqa: E402

GAIN = {"E": 1.0, "S": 0.1, "C": 0.01, "I": 0.0}
DATA = ROOT / "data" / "esci"


def load():
    rows = {
        s: [json.loads(x) for x in open(DATA / f"esci_us_{s}.jsonl", encoding="utf-8")]
        for s in ("train", "dev", "test")
    }
    pool: dict[str, dict] = {}
    for s in rows:
        for r in rows[s]:
            pool.setdefault(
                r["product_id"],
                {
                    "id": r["product_id"],
                    "title": r["product_title"],
                    "brand": r["product_brand"],
                    "colour": r["product_color"],
                    "description": r["product_text"],
                },
            )
    qrels = {}
    for s in ("dev", "test"):
        q: dict[str, dict[str, float]] = {}
        for r in rows[s]:
            q.setdefault(r["query"], {})[r["product_id"]] = GAIN[r["label"]]
        qrels[s] = {k: v for k, v in q.items() if max(v.values()) > 0}
    return [listing_from_dict(p) for p in pool.values()], qrels


def evaluate(index: Index, qrels, stage: str, config: SearchConfig | None = None, extractor=None) -> dict:
    nd, rc = [], []
    for q, rel in qrels.items():
        parsed = extractor.parse(q) if extractor is not None else None
        ranked = [h.id for h in index.search(q, k=100, stage=stage, config=config, parsed=parsed).hits]
        nd.append(ndcg(ranked, rel))
        rc.append(recall(ranked, rel))
    return {
        "ndcg@10": round(sum(nd) / len(nd), 4),
        "recall@100": round(sum(rc) / len(rc), 4),
        "queries": len(nd),
    }


def tune(index: Index, qrels) -> tuple[list[dict], dict]:
    lists = {}
    for q in qrels:
        b = index.search(q, k=200, stage="bm25").hits
        d = index.search(q, k=200, stage="dense").hits
        lists[q] = {
            "bm25": ([h.id for h in b], [h.score for h in b]),
            "dense": ([h.id for h in d], [h.score for h in d]),
        }
    import numpy as np

    grid = []
    for method in ("rrf", "minmax", "zscore"):
        for w in [round(x, 2) for x in np.arange(0.1, 0.91, 0.05)]:
            vals = []
            for q, rel in qrels.items():
                ls = {s: (ids, np.asarray(sc)) for s, (ids, sc) in lists[q].items()}
                f = fuse(ls, method=method, weights={"bm25": 1 - w, "dense": w})
                ranked = sorted(f, key=lambda i: -f[i])
                vals.append(ndcg(ranked, rel))
            grid.append({"fusion": method, "dense_weight": w, "dev_ndcg@10": round(sum(vals) / len(vals), 4)})
    best = max(grid, key=lambda g: g["dev_ndcg@10"])
    return grid, best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tune", action="store_true")
    ap.add_argument(
        "--with-qu", action="store_true", help="also run hybrid with qu's parse (as the pipeline does)"
    )
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "retrieval_quality.json"))
    args = ap.parse_args()
    listings, qrels = load()
    idx_dir = ROOT / "bench" / "results" / "tmp" / "esci_index"
    t = time.perf_counter()
    # embeddings are cached by content hash: a re-run embeds nothing
    index = Index.build(
        listings, idx_dir, show_progress=True, cache_dir=ROOT / "bench" / "results" / "tmp" / "embcache"
    )
    build_s = time.perf_counter() - t
    result = {"pool": len(listings), "build_s": round(build_s, 1), "default_config": vars(index.config)}
    if args.tune:
        grid, best = tune(index, qrels["dev"])
        result["dev_grid"] = grid
        result["dev_best"] = best
        print("fusion   w     dev NDCG@10")
        for g in grid:
            print(f"{g['fusion']:8s} {g['dense_weight']:.2f}  {g['dev_ndcg@10']:.4f}")
        print("best:", best)
    for split in ("dev", "test"):
        for stage in ("bm25", "dense", "hybrid"):
            r = evaluate(index, qrels[split], stage)
            result[f"{split}_{stage}"] = r
            print(
                f"ESCI {split} {stage:6s} NDCG@10 {r['ndcg@10']:.4f}  Recall@100 {r['recall@100']:.4f}  "
                f"({r['queries']} queries)"
            )
        if args.tune:
            cfg = replace(index.config, fusion=best["fusion"], dense_weight=best["dense_weight"])
            r = evaluate(index, qrels[split], "hybrid", cfg)
            result[f"{split}_hybrid_tuned"] = r
            print(
                f"ESCI {split} hybrid (dev-best {best['fusion']} w={best['dense_weight']}) NDCG@10 "
                f"{r['ndcg@10']:.4f}  Recall@100 {r['recall@100']:.4f}"
            )
    if args.with_qu:
        from qu import load_extractor

        extractor = load_extractor()
        for split in ("dev", "test"):
            r = evaluate(index, qrels[split], "hybrid", extractor=extractor)
            result[f"{split}_hybrid_with_qu"] = r
            print(f"ESCI {split} hybrid+qu NDCG@10 {r['ndcg@10']:.4f}  Recall@100 {r['recall@100']:.4f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
