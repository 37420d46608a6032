"""Demo-catalogue sanity check: P@10 of the 142 KAGL article-type queries, per stage.

    .venv/bin/python bench/retrieval_kagl.py

Indexes the demo catalogue (preloved.catalogue.iter_listings over Fashion Product Images:
Apparel, Footwear, Accessories) and asks each KAGL `category3` query (an article type name such
as "Casual Shoes"); a hit is relevant when KAGL lists it under that type. Runs without qu
(`parsed=None`) and, when qu loads, with qu's parse (its category becomes a filter). Writes
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
    from preloved.catalogue import iter_listings

    data = ROOT / "data"
    listings = [
        listing_from_dict(d)
        for d in iter_listings(
            data / "fashion-product-images" / "styles.csv", data / "vocab" / "fpi_brand_candidates.csv"
        )
    ]
    gold = json.loads((data / "marqo-kagl" / "ground_truth_category3-image+text.min.json").read_text())
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
    try:
        from qu import load_extractor

        extractor = load_extractor()
    except Exception as err:  # noqa: BLE001 - qu is another package; run without it when it cannot load
        print(f"qu not loadable ({err!r}): only parsed=None is measured", file=sys.stderr)
        extractor = None
    runs = [(s, False) for s in ("bm25", "dense", "hybrid")] + ([("hybrid", True)] if extractor else [])
    for stage, use_qu in runs:
        ps = []
        for q, ids in gold.items():
            rel = set(ids)
            parsed = extractor.parse(q) if use_qu else None
            hits = index.search(q, k=10, stage=stage, parsed=parsed).hits
            ps.append(sum(h.id in rel for h in hits) / 10)
        name = stage + ("+qu" if use_qu else "")
        result[name] = {"P@10": round(float(np.mean(ps)), 4)}
        print(
            f"KAGL article types ({len(gold)} queries, {len(listings)} listings) {name:10s} P@10 {np.mean(ps):.4f}"
        )
    out = ROOT / "bench" / "results" / "retrieval_kagl.json"
    out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
