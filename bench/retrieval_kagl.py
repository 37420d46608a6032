"""Demo-catalogue sanity check: P@10 of the 142 KAGL article-type queries, per stage.

    .venv/bin/python bench/retrieval_kagl.py

Indexes the demo catalogue (preloved.catalogue.iter_listings over Fashion Product Images:
Apparel, Footwear, Accessories) and asks each KAGL `category3` query (an article type name such
as "Casual Shoes"); a hit is relevant when KAGL lists it under that type. Runs without qu
(`parsed=None`) and, when qu loads, with qu's parse (its category becomes a filter), and then the
default pipeline's rerank of that top 50 when the reranker loads. Writes
bench/results/retrieval_kagl.json.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from retrieval import Embedder, Index  # noqa: E402
from retrieval.catalogue import listing_from_dict  # noqa: E402
from retrieval.dense import EmbeddingCache, content_hashes  # noqa: E402

TMP = ROOT / "bench" / "results" / "tmp"


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--index", help="query this already built demo index (read-only) instead of building one")
    args = ap.parse_args()
    gold = json.loads(
        (ROOT / "data" / "marqo-kagl" / "ground_truth_category3-image+text.min.json").read_text()
    )
    if args.index:
        index = Index.load(args.index)
        result = {"index": args.index, "listings": len(index), "queries": len(gold)}
        return run(index, gold, result)
    from preloved.catalogue import iter_listings

    data = ROOT / "data"
    listings = [
        listing_from_dict(d)
        for d in iter_listings(
            data / "fashion-product-images" / "styles.csv", data / "vocab" / "fpi_brand_candidates.csv"
        )
    ]
    e = Embedder()
    cache = TMP / "kagl_embcache"
    donor = TMP / "speed" / "donor_vectors.npy"
    if donor.exists() and not cache.exists():  # re-use the speed bench's vectors of the same titles
        import csv

        with open(data / "fashion-product-images" / "styles.csv", encoding="utf-8") as f:
            titles = [
                r["productDisplayName"].strip() for r in csv.DictReader(f) if r["productDisplayName"].strip()
            ]
        EmbeddingCache(cache).put(content_hashes(titles, e.name), np.load(donor))
    t = time.perf_counter()
    index = Index.build(listings, TMP / "kagl_index", embedder=e, cache_dir=cache, show_progress=True)
    result = {
        "listings": len(listings),
        "queries": len(gold),
        "build_s": round(time.perf_counter() - t, 1),
        "embedded": index.last_build["embedded"],
    }
    run(index, gold, result)


def run(index: Index, gold: dict, result: dict) -> None:
    try:
        from qu import load_extractor

        extractor = load_extractor()
    except Exception as err:  # noqa: BLE001 - qu is another package; run without it when it cannot load
        print(f"qu not loadable ({err!r}): only parsed=None is measured", file=sys.stderr)
        extractor = None
    have = set(index._state.main.ids)
    covered = {q for q, ids in gold.items() if len(have.intersection(ids)) >= 10}
    result["queries_with_10_in_index"] = len(covered)
    try:
        from rerank import load_reranker

        reranker = load_reranker()
    except Exception as err:  # noqa: BLE001 - the reranker is another package; measure without it
        print(f"reranker not loadable ({err!r}): the rerank stage is not measured", file=sys.stderr)
        reranker = None
    runs = [(s, False) for s in ("bm25", "dense", "hybrid")] + ([("hybrid", True)] if extractor else [])
    runs += [("rerank", True)] if extractor and reranker else []
    for stage, use_qu in runs:
        ps, pc = [], []
        for q, ids in gold.items():
            rel = set(ids)
            parsed = extractor.parse(q) if use_qu else None
            if stage == "rerank":  # the default pipeline: hybrid + qu's top 50, reranked
                hits = index.search(q, k=50, stage="hybrid", parsed=parsed).hits
                hits = reranker.rerank(q, hits, [index.get(h.id) for h in hits])[:10]
            else:
                hits = index.search(q, k=10, stage=stage, parsed=parsed).hits
            ps.append(sum(h.id in rel for h in hits) / 10)
            if q in covered:
                pc.append(ps[-1])
        name = stage + ("+qu" if use_qu else "")
        result[name] = {"P@10": round(float(np.mean(ps)), 4), "P@10_covered": round(float(np.mean(pc)), 4)}
        print(
            f"KAGL article types ({len(gold)} queries, {len(index)} listings) {name:10s} "
            f"P@10 {np.mean(ps):.4f}  (the {len(pc)} types with >= 10 listings in the index: "
            f"{np.mean(pc):.4f})"
        )
    out = ROOT / "bench" / "results" / "retrieval_kagl.json"
    out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
