"""Demo catalogue: index build time and search latency p50/p95 per stage, over real shopper queries.

    .venv/bin/python bench/pipeline_latency.py [--build] [--queries 300]

--build times a fresh build of the demo index into a temporary folder (embeddings included, no cache).
Queries are the QueryNER fashion test queries (real Amazon shopper queries). Prints a table and writes
bench/results/pipeline_latency.json. Also checks the foundation's sanity query ("black nike trainers").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", action="store_true", help="also time a fresh demo index build")
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()

    from preloved.cli import ensure_demo_index
    from preloved.pipeline import load_pipeline
    from preloved.settings import get_settings
    from retrieval import Index, read_catalogue

    settings = get_settings()
    report: dict = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                    "command": "python bench/pipeline_latency.py" + (" --build" if args.build else "")}
    index_dir = ensure_demo_index(settings)
    if args.build:
        listings = read_catalogue(settings.catalogue_path)
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            Index.build(listings, Path(tmp) / "idx", show_progress=True)
            report["build"] = {"listings": len(listings), "seconds": round(time.perf_counter() - t, 1)}
    pipeline = load_pipeline(settings, index_dir=index_dir)
    # distinct real queries, a fresh slice per stage: no stage profits from another's query-embedding cache
    queries = list(dict.fromkeys(json.loads(line)["query"] for split in ("test", "dev", "train")
                                 for line in open(ROOT / f"data/queryner/fashion_{split}.jsonl")))
    for q in queries[-5:]:  # warm-up
        pipeline.search(q, k=10, stages="rerank")
    report["stages"] = {}
    for i, stages in enumerate(("bm25", "dense", "hybrid", "rerank")):
        per: dict[str, list[float]] = {}
        for q in queries[i * args.queries: (i + 1) * args.queries]:
            res = pipeline.search(q, k=10, stages=stages)
            for name, ms in res.timings_ms.items():
                per.setdefault(name, []).append(ms)
        report["stages"][stages] = {name: {"p50": round(pct(v, 0.5), 2), "p95": round(pct(v, 0.95), 2)}
                                    for name, v in per.items()}
    report["sanity"] = {"query": "black nike trainers", "default_stages": settings.default_stages}
    for stages in ("hybrid", "rerank"):
        nike = pipeline.search("black nike trainers", k=10, stages=stages)
        report["sanity"]["parsed"] = nike.parsed.contract()
        report["sanity"][f"nike_in_top10_{stages}"] = sum((r.get("brand") or "") == "nike" for r in nike.results())
    report["listings"] = len(pipeline.index)
    report["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    print(f"demo catalogue: {report['listings']} listings; {args.queries} distinct QueryNER fashion queries "
          f"per stage; k=10")
    if "build" in report:
        print(f"index build: {report['build']['seconds']} s for {report['build']['listings']} listings")
    print(f"{'stages':<8} " + " ".join(f"{n + ' p50/p95 ms':>24}" for n in ("qu", "retrieval", "rerank", "total")))
    for stages, per in report["stages"].items():
        cells = [f"{per[n]['p50']:>10.1f} / {per[n]['p95']:<10.1f}" if n in per else f"{'-':>24}"
                 for n in ("qu", "retrieval", "rerank", "total")]
        print(f"{stages:<8} " + " ".join(f"{c:>24}" for c in cells))
    print(f"sanity: 'black nike trainers' -> Nike in the top 10: {report['sanity']['nike_in_top10_hybrid']}/10 "
          f"hybrid, {report['sanity']['nike_in_top10_rerank']}/10 rerank")
    out = ROOT / "bench" / "results" / "pipeline_latency.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
