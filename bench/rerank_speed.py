"""Reranker variants side by side: ESCI NDCG@10 (dev/test) against ms per top-50 rerank (p50/p95).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/rerank_speed.py [--variants NAME ...] [--latency-queries 40]

Every variant reranks the same cached hybrid top-50 (rerank._candidates, built by the training
config) and is timed through `CrossEncoderReranker.rerank` (tokenising, scoring, fusion) with 2
threads, one query at a time, cache off; the `+cache` row reruns the same queries with the cache on.
Writes bench/results/rerank_speed.json (merged with earlier runs, one entry per variant).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

M = ROOT / "models"
RUNS = ROOT / ".cache" / "rerank" / "runs"
# name -> (folder, backend, max_length or None for the folder's, measure NDCG too)
VARIANTS: dict[str, tuple[Path, str, int | None, bool]] = {
    "L6 teacher onnx int8, 32 tok": (
        ROOT / ".cache" / "rerank" / "gpu" / "gpu-export" / "teacher-lambda16",
        "onnx",
        32,
        True,
    ),
    "L3 distilled student onnx int8, 32 tok (shipped)": (M / "reranker", "onnx", 32, True),
    # the same weights as exported before session 7, the last layer computed for every token, not [CLS] alone
    # (models/reranker as of commit 12a63ba, checked out into this folder)
    "L3 student onnx int8, 32 tok, full last layer": (RUNS / "l3-full-last-layer-onnx", "onnx", 32, True),
    "L3 distilled student onnx int8, 24 tok": (M / "reranker", "onnx", 24, True),
    "L3 distilled student onnx int8, 48 tok": (M / "reranker", "onnx", 48, True),
    # the shipped student trained further at 24 tokens on the CPU (rerank/configs/cpu/student_l3_len24.json)
    "L3 student tuned at 24 tok, onnx int8": (RUNS / "cpu-student-l3-len24-onnx", "onnx", None, True),
    # the teacher's first 2 layers distilled on the CPU (rerank/configs/gpu/student_l2.json, device cpu)
    "L2 student onnx int8, 32 tok": (RUNS / "cpu-student-l2-onnx", "onnx", 32, True),
}


def _ndcg_cells(r: dict) -> str:
    cells = []
    for split in ("dev", "test"):
        for key in ("cross_encoder", "fused"):
            cells.append(f"{r[split][key]:.4f}" if split in r else "-")
    return " | ".join(cells)


def main(argv: list[str] | None = None) -> int:
    from rerank import CrossEncoderReranker
    from rerank._evaluate import evaluate_split, per_query_ndcg
    from rerank.config import load_config
    from rerank.train import TrainingData

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--latency-queries", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--config", default=str(ROOT / "rerank" / "configs" / "default.json"))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "rerank_speed.json"))
    args = ap.parse_args(argv)
    data = TrainingData(load_config(args.config, {"retriever": "preloved-hybrid"}), show_progress=False)
    out_path = Path(args.out)
    results = json.loads(out_path.read_text()) if out_path.is_file() else {}
    splits = {"dev": data.dev_qrels, "test": data.test_qrels}
    lat_q = sorted(data.test_qrels)[: args.latency_queries]
    for name in args.variants:
        folder, backend, max_len, with_ndcg = VARIANTS[name]
        if not (folder / "preloved_reranker.json").is_file():
            print(f"skip {name}: {folder} not built", file=sys.stderr)
            continue
        rr = CrossEncoderReranker(folder, backend=backend, threads=args.threads, max_length=max_len, cache_size=0)
        row = {
            "folder": str(folder.relative_to(ROOT)),
            "backend": rr.backend,
            "max_length": rr.max_length,
            "fusion_weights": rr.fusion_weights,
        }
        for split, qrels in splits.items() if with_ndcg else ():
            qs = sorted(qrels)
            ce = []
            for q in qs:
                hits = data.candidates[q][:50]
                ce.append(rr.score(data.read[q], [rr.text(data.pool[h.id]) for h in hits]))
            ev = evaluate_split(ce, qs, data.candidates, qrels, rr.fusion_weights)
            row[split] = {
                "cross_encoder": round(ev["cross_encoder"], 4),
                "fused": round(ev["fused"], 4),
                "hybrid": round(ev["hybrid"], 4),
                "fused_vs_hybrid": {k: v for k, v in ev["fused_vs_hybrid"].items()},
            }
            if split == "test":
                row["test_per_query_fused"] = per_query_ndcg(
                    [
                        __import__("rerank._fusion", fromlist=["fuse"]).fuse(
                            s, data.candidates[q][:50], rr.fusion_weights
                        )
                        for q, s in zip(qs, ce, strict=True)
                    ],
                    qs,
                    data.candidates,
                    qrels,
                )
        times = []
        for q in lat_q:
            hits = data.candidates[q][:50]
            lst = [data.pool[h.id] for h in hits]
            t = time.perf_counter()
            rr.rerank(q, hits, lst)
            times.append((time.perf_counter() - t) * 1000)
        row["ms_p50"], row["ms_p95"] = float(np.percentile(times, 50)), float(np.percentile(times, 95))
        row["load_avg_1m"] = os.getloadavg()[0]
        results[name] = row
        if "(shipped)" in name:
            rr2 = CrossEncoderReranker(folder, backend=backend, threads=args.threads, max_length=max_len)
            for q in lat_q:
                rr2.rerank(q, data.candidates[q][:50], [data.pool[h.id] for h in data.candidates[q][:50]])
            t2 = []
            for q in lat_q:
                hits = data.candidates[q][:50]
                t = time.perf_counter()
                rr2.rerank(q, hits, [data.pool[h.id] for h in hits])
                t2.append((time.perf_counter() - t) * 1000)
            results[name + " +cache (warm)"] = {
                **{k: row[k] for k in ("folder", "backend", "max_length", "dev", "test") if k in row},
                "ms_p50": float(np.percentile(t2, 50)),
                "ms_p95": float(np.percentile(t2, 95)),
                "load_avg_1m": os.getloadavg()[0],
            }
        print(
            f"{name}: {_ndcg_cells(row)} p50 {row['ms_p50']:.0f} ms p95 {row['ms_p95']:.0f} ms",
            file=sys.stderr,
            flush=True,
        )
        out_path.parent.mkdir(parents=True, exist_ok=True)
        results["_machine"] = {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "threads": args.threads,
            "python": platform.python_version(),
        }
        out_path.write_text(json.dumps(results, indent=1) + "\n")
    print("| variant | backend | max len | dev CE | dev fused | test CE | test fused | p50 ms | p95 ms | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        if name.startswith("_"):
            continue
        print(
            f"| {name} | {r['backend']} | {r['max_length']} | {_ndcg_cells(r)} | "
            f"{r['ms_p50']:.0f} | {r['ms_p95']:.0f} | {r.get('load_avg_1m', 0):.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
