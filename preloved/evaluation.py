"""`preloved eval`: ESCI NDCG@10 and Recall@100 per stage through the real pipeline, with a paired
bootstrap of each stage against hybrid, a printed table, a JSON report and a bar plot."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

from tqdm import tqdm

from preloved.esci import product_pool, qrels
from preloved.metrics import ndcg, paired_bootstrap, recall
from preloved.settings import Settings, get_settings

logger = logging.getLogger(__name__)


def esci_index(settings: Settings) -> Path:
    """Index the ESCI product pool once; the folder is keyed by the pool's content and the text version
    (another tokenizer needs another index)."""
    from retrieval import Index, Listing
    from retrieval.text import TEXT_VERSION

    pool = product_pool(settings.data_dir)
    key = hashlib.sha1(json.dumps([TEXT_VERSION, pool], sort_keys=True).encode()).hexdigest()[:12]
    out = settings.cache_dir / f"esci-index-{key}"
    if not (out / "manifest.json").is_file():
        Index.build([Listing(**p) for p in pool], out, show_progress=True)
    return out


def run_esci_eval(split: str = "test", stages: list[str] | None = None, out: Path | None = None,
                  rerank_depth: int = 50, settings: Settings | None = None) -> dict:
    from preloved.pipeline import STAGES, load_pipeline

    settings = settings or get_settings()
    stages = stages or list(STAGES)
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown stages {unknown}: choose from {', '.join(STAGES)}")
    judged = qrels(settings.data_dir, split)
    pipeline = load_pipeline(settings, index_dir=esci_index(settings), with_reranker="rerank" in stages)
    queries = list(judged)
    report: dict = {"split": split, "queries": len(queries), "products": len(pipeline.index),
                    "rerank_depth": rerank_depth, "stages": {}}
    per_query: dict[str, list[float]] = {}
    for stage in stages:
        report["stages"][stage], per_query[stage] = run_stage(pipeline, judged, stage, rerank_depth,
                                                              desc=f"esci {split} {stage}")
    if "hybrid" in per_query:
        for stage, scores in per_query.items():
            if stage != "hybrid":
                report["stages"][stage]["vs_hybrid"] = paired_bootstrap(per_query["hybrid"], scores)
    _print_table(report)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        _plot(report, out.with_suffix(".png"))
    return report


def run_stage(pipeline, judged: dict[str, dict[str, float]], stage: str, rerank_depth: int | None = None,
              use_cache: bool = True, desc: str = "") -> tuple[dict, list[float]]:
    """Search every judged query one at a time (k=100): NDCG@10, Recall@100 and p50/p95 ms of the
    stage, and the per-query NDCG@10 for paired comparisons."""
    nd, rc, ms = [], [], []
    for q in tqdm(list(judged), desc=desc or stage, leave=False):
        t = time.perf_counter()
        res = pipeline.search(q, k=100, stages=stage, rerank_depth=rerank_depth, use_cache=use_cache)
        ms.append((time.perf_counter() - t) * 1000)
        ids = [h.id for h in res.hits]
        nd.append(ndcg(ids, judged[q]))
        rc.append(recall(ids, judged[q], 100))
    ms.sort()
    summary = {"ndcg@10": sum(nd) / len(nd), "recall@100": sum(rc) / len(rc),
               "p50_ms": ms[len(ms) // 2], "p95_ms": ms[int(0.95 * (len(ms) - 1))]}
    return summary, nd


def _print_table(report: dict) -> None:
    print(f"ESCI {report['split']}: {report['queries']} queries, {report['products']} products")
    print(f"{'stage':<8} {'NDCG@10':>8} {'R@100':>7} {'p50 ms':>8} {'p95 ms':>8}  vs hybrid (95% CI, p)")
    for stage, r in report["stages"].items():
        vs = r.get("vs_hybrid")
        cmp = f"{vs['mean_diff']:+.4f} ({vs['ci95'][0]:+.4f}..{vs['ci95'][1]:+.4f}, p={vs['p']:.3f})" if vs else ""
        print(f"{stage:<8} {r['ndcg@10']:>8.4f} {r['recall@100']:>7.4f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f}  {cmp}")


def _plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = list(report["stages"])
    fig, ax = plt.subplots(figsize=(6, 3.2))
    vals = [report["stages"][s]["ndcg@10"] for s in stages]
    ax.bar(stages, vals, color=["#8da0cb", "#66c2a5", "#fc8d62", "#e78ac3"][: len(stages)])
    for i, v in enumerate(vals):
        ax.text(i, v + 0.005, f"{v:.3f}", ha="center", fontsize=9)
    ax.set_ylim(0, 1)
    ax.set_ylabel("NDCG@10")
    ax.set_title(f"ESCI {report['split']} ({report['queries']} queries)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
