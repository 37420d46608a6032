"""Search when the shopper slips: ESCI NDCG@10 of each stage for the judged queries as written and with one
slip of the keys in one word.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/esci_slips.py [--split dev] [--stages dense hybrid rerank]

Each query's longest word (5 letters or more, letters only) gets one slip of each kind that
bench/qu_robustness.py makes (a letter dropped, doubled, two swapped, one changed to a neighbour on the
keyboard's row), at a place drawn from the seed and the query; the judgements stay the query's. The whole
pipeline, one query at a time, every cache off. For each kind and stage: NDCG@10 over the slipped queries,
its loss against the same queries as written (paired bootstrap), and how many of them the pipeline read as
something other than typed (`extra["read_as"]`: qu's reading, then the catalogue's spelling), which BM25, the
query encoder and the reranker then read. Choose on dev; `--split test` is for the one report after. Prints
a table and writes bench/results/esci_slips_<split>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from qu_robustness import SLIPS, slip  # noqa: E402


def slipped(query: str, kind: str, seed: int) -> str | None:
    """`query` with its longest all-letter word of 5 or more letters slipped once, or None (no such word)."""
    words = query.split()
    at = [i for i, w in enumerate(words) if w.isalpha() and len(w) >= 5]
    if not at:
        return None
    i = max(at, key=lambda j: len(words[j]))
    new = slip(words[i].lower(), kind, f"{seed}:{query}")
    return None if new == words[i].lower() else " ".join([*words[:i], new, *words[i + 1 :]])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("dev", "test"), default="dev")
    ap.add_argument("--stages", nargs="+", choices=("bm25", "dense", "hybrid", "rerank"),
                    default=["bm25", "dense", "hybrid", "rerank"])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    from preloved.esci import qrels
    from preloved.evaluation import esci_index, run_stage
    from preloved.metrics import paired_bootstrap
    from preloved.pipeline import load_pipeline
    from preloved.settings import get_settings

    settings = get_settings()
    judged = qrels(settings.data_dir, args.split)
    pipeline = load_pipeline(settings, index_dir=esci_index(settings), with_reranker="rerank" in args.stages)
    t0 = time.perf_counter()
    written = {stage: run_stage(pipeline, judged, stage, use_cache=False, desc=f"{args.split} {stage} as written")[1]
               for stage in args.stages}
    at = {q: i for i, q in enumerate(judged)}
    rows = []
    for kind in SLIPS:
        pairs = [(q, s) for q in judged if (s := slipped(q, kind, args.seed)) is not None and s not in judged]
        slips = {s: judged[q] for q, s in pairs}
        read = sum("read_as" in pipeline.search(s, k=1, stages="bm25", use_cache=False).parsed.extra for s in slips)
        for stage in args.stages:
            summary, scores = run_stage(pipeline, slips, stage, use_cache=False, desc=f"{args.split} {stage} {kind}")
            before = [written[stage][at[q]] for q, _ in pairs]
            rows.append({"slip": kind, "stage": stage, "queries": len(slips), "read_as": read,
                         "ndcg@10 as written": sum(before) / len(before), "ndcg@10 slipped": summary["ndcg@10"],
                         "vs written": paired_bootstrap(before, scores)})

    print(f"\nESCI {args.split}: {len(judged)} queries, one slip in the longest word; whole pipeline, caches off")
    print(f"{'slip':<14} {'stage':<7} {'queries':>7} {'read as':>7} {'written':>8} {'slipped':>8}  loss (95% CI)")
    for r in rows:
        vs = r["vs written"]
        print(f"{r['slip']:<14} {r['stage']:<7} {r['queries']:>7} {r['read_as']:>7} {r['ndcg@10 as written']:>8.4f} "
              f"{r['ndcg@10 slipped']:>8.4f}  {vs['mean_diff']:+.4f} ({vs['ci95'][0]:+.4f}..{vs['ci95'][1]:+.4f})")
    result = {"split": args.split, "queries": len(judged), "seed": args.seed, "rows": rows,
              "seconds": round(time.perf_counter() - t0, 1),
              "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                          "python": platform.python_version()}}
    out = args.out or ROOT / "bench" / "results" / f"esci_slips_{args.split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
