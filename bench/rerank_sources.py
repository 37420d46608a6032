"""What each training source adds: the same student trained with and without a source, dev only.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/rerank_sources.py [--epochs 2] [--distill-depth 20]

The runs distil the 3-layer student from the 6-layer teacher (`.cache/rerank/runs/gpu-lambda16`,
rebuilt from the shipped artefacts as docs/rerank.md says), as the shipped student was made, but
on this CPU, so with a shorter recipe (`--distill-depth` candidates a train query, not 50):

- `esci`: ESCI judged pairs + the teacher-scored hybrid candidates of each train query;
- `esci+catalogue`: the same + catalogue-derived pairs (`python -m rerank.catalogue_pairs`:
  QueryNER fashion train queries against the demo catalogue, graded by qu's attributes);
- `esci-more`: ESCI alone, with 4 more candidates a query (`--distill-depth` + 4), so that it has
  about as many pairs and steps as `esci+catalogue`: the control for "more data, longer schedule".

A distilled student takes the teacher's score for every pair, so a source adds its query and
listing texts, not its labels. Each run reports dev NDCG@10 after every epoch (the cross-encoder
alone and fused with the retrieval scores); test is not read. Prints a table and writes
bench/results/rerank_sources.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEACHER = ROOT / ".cache" / "rerank" / "runs" / "gpu-lambda16"
PAIRS = ROOT / ".cache" / "rerank" / "catalogue_pairs.jsonl"
OUT = ROOT / ".cache" / "rerank" / "sources"
RESULTS = ROOT / "bench" / "results" / "rerank_sources.json"


def config(name: str, extra: list[dict], args, depth: int) -> dict:
    return {
        "base_model": str(TEACHER),
        "num_layers": 3,
        "distill_from": str(TEACHER),
        "distill_depth": depth,
        "extra_pairs": extra,
        "loss": "mse",
        "epochs": args.epochs,
        "batch_size": 64,
        "learning_rate": 1e-4,
        "warmup_ratio": 0.1,
        "max_length": 32,
        "text_format": "title_brand_colour",
        "seed": 12,
        "output_dir": str(OUT / name),
        "eval_depth": 50,
        "epoch_eval_depth": 50,
        "fusion_keys": ["hybrid", "dense", "bm25"],
        "eval_untrained": False,
        "final_eval": False,
        "export_onnx": False,
        "retriever": "preloved-hybrid",
        "device": "cpu",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--distill-depth", type=int, default=20)
    ap.add_argument("--runs", default="esci,esci+catalogue,esci-more", help="which runs, comma-separated")
    args = ap.parse_args(argv)
    if not (TEACHER / "config.json").exists():
        print(f"error: no teacher at {TEACHER}; rebuild it as docs/rerank.md says "
              "(python -m rerank.export --dequantise ...)", file=sys.stderr)
        return 2
    from rerank import catalogue_pairs, train

    if not PAIRS.exists():
        catalogue_pairs.main(["--out", str(PAIRS)])
    catalogue = [{"name": "catalogue_pairs", "path": str(PAIRS)}]
    runs = {
        "esci": ([], args.distill_depth),
        "esci+catalogue": (catalogue, args.distill_depth),
        "esci-more": ([], args.distill_depth + 4),
    }
    wanted = args.runs.split(",")
    unknown = sorted(set(wanted) - set(runs))
    if unknown:
        print(f"error: unknown run {unknown[0]!r}; choose from {', '.join(runs)}", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    # results of runs made before (another --runs) are kept
    results = json.loads(RESULTS.read_text())["runs"] if RESULTS.exists() else {}
    for name in wanted:
        extra, depth = runs[name]
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(config(name, extra, args, depth), indent=2) + "\n")
        t = time.perf_counter()
        rc = train.main(["--config", str(path)])
        if rc != 0:
            print(f"error: run {name} failed ({rc})", file=sys.stderr)
            return rc
        log = json.loads((OUT / name / "training_log.json").read_text())
        results[name] = {
            "pairs_by_source": log["pairs_by_source"],
            "distill_depth": depth,
            "epochs": [
                {k: e[k] for k in ("epoch", "dev_ndcg@10_cross_encoder", "dev_ndcg@10_fused", "dev_ndcg@10_hybrid")}
                for e in log["epochs_log"]
            ],
            "seconds": round(time.perf_counter() - t, 1),
        }
    print(f"\n{'run':16s} {'pairs by source':58s} {'epoch':>5s} {'dev CE':>7s} {'dev fused':>9s}")
    for name, r in results.items():
        for e in r["epochs"]:
            src = ", ".join(f"{k} {v}" for k, v in r["pairs_by_source"].items())
            print(f"{name:16s} {src:58s} {e['epoch']:5.0f} {e['dev_ndcg@10_cross_encoder']:7.4f} "
                  f"{e['dev_ndcg@10_fused']:9.4f}")
    RESULTS.write_text(json.dumps({"args": vars(args), "runs": results}, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
