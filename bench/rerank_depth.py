"""How deep to rerank: ESCI NDCG@10 and latency of the default pipeline for several rerank depths.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/rerank_depth.py [--split dev] [--depths 10 15 20 30 50]

The whole pipeline (qu -> hybrid -> the shipped reranker over the top `depth`), one query at a time,
every cache off, the server's thread settings. Each depth is compared with depth 50 (the reranker's
benchmark depth) by a paired bootstrap over queries. Choose the depth on dev; `--split test` is for
the one report after. Writes bench/results/rerank_depth_<split>.json and a plot beside it.
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
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("dev", "test"), default="dev")
    ap.add_argument("--depths", type=int, nargs="+", default=[10, 15, 20, 30, 50])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if any(d < 1 for d in args.depths):
        ap.error("depths must be at least 1")

    from preloved.esci import qrels
    from preloved.evaluation import esci_index, run_stage
    from preloved.metrics import paired_bootstrap
    from preloved.pipeline import load_pipeline
    from preloved.settings import get_settings

    settings = get_settings()
    judged = qrels(settings.data_dir, args.split)
    pipeline = load_pipeline(settings, index_dir=esci_index(settings), with_reranker=True)
    queries = list(judged)
    depths = sorted(set(args.depths) | {50})
    rows: dict[int, dict] = {}
    per_query: dict[int, list[float]] = {}
    for depth in [0, *depths]:  # 0: hybrid, no rerank
        summary, per_query[depth] = run_stage(
            pipeline, judged, "hybrid" if depth == 0 else "rerank", depth or None, use_cache=False,
            desc=f"{args.split} depth {depth or 'hybrid'}")
        rows[depth] = {k: summary[k] for k in ("ndcg@10", "p50_ms", "p95_ms")}
    for depth, row in rows.items():
        if depth:
            row["vs_depth_50"] = paired_bootstrap(per_query[50], per_query[depth])
            row["vs_hybrid"] = paired_bootstrap(per_query[0], per_query[depth])

    print(f"ESCI {args.split}: {len(queries)} queries; whole pipeline, one query at a time, caches off")
    print(f"{'depth':>7} {'NDCG@10':>8} {'p50 ms':>7} {'p95 ms':>7}  {'vs depth 50 (95% CI)':<28} vs hybrid (p)")
    for depth, r in rows.items():
        name = str(depth) if depth else "hybrid"
        v50, vh = r.get("vs_depth_50"), r.get("vs_hybrid")
        c50 = f"{v50['mean_diff']:+.4f} ({v50['ci95'][0]:+.4f}..{v50['ci95'][1]:+.4f})" if v50 else ""
        ch = f"{vh['mean_diff']:+.4f} (p={vh['p']:.3f})" if vh else ""
        print(f"{name:>7} {r['ndcg@10']:>8.4f} {r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f}  {c50:<28} {ch}")

    out = args.out or ROOT / "bench" / "results" / f"rerank_depth_{args.split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {"split": args.split, "queries": len(queries), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "command": "bench/rerank_depth.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "depths": {("hybrid" if d == 0 else str(d)): r for d, r in rows.items()}}
    out.write_text(json.dumps(report, indent=2) + "\n")
    _plot(rows, args.split, out.with_suffix(".png"))
    print(f"wrote {out}")
    return 0


def _plot(rows: dict[int, dict], split: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    depths = [d for d in rows if d]
    ax.plot([rows[d]["p50_ms"] for d in depths], [rows[d]["ndcg@10"] for d in depths], "o-", label="rerank top-N")
    for d in depths:
        ax.annotate(str(d), (rows[d]["p50_ms"], rows[d]["ndcg@10"]), textcoords="offset points", xytext=(4, 4))
    ax.axhline(rows[0]["ndcg@10"], color="grey", ls="--", label="hybrid, no rerank")
    ax.set_xlabel("p50 ms per search (whole pipeline, 2 cores)")
    ax.set_ylabel(f"ESCI {split} NDCG@10")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
