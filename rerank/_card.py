"""The model card (README.md) written into every trained or exported reranker folder."""

from __future__ import annotations

import json
from pathlib import Path


def _fmt_split(name: str, m: dict) -> str:
    fb = m["fused_vs_hybrid"]
    return (
        f"| {name} ({m['queries']} queries) | {m['hybrid']:.4f} | {m['cross_encoder']:.4f} | {m['fused']:.4f} | "
        f"{fb['mean_diff']:+.4f} [{fb['ci95'][0]:+.4f}, {fb['ci95'][1]:+.4f}], p={fb['p']:.3f} |"
    )


def write_card(folder: Path, summary: dict, extra: str = "") -> None:
    cfg = summary["config"]
    m = summary["metrics"]
    lines = [
        "# preloved cross-encoder reranker",
        "",
        f"Fine-tuned from `{cfg['base_model']}`"
        + (f" (first {cfg['num_layers']} layers)" if cfg.get("num_layers") else "")
        + f" with sentence-transformers' CrossEncoderTrainer, loss `{cfg['loss']}`, on ESCI train.",
        "No GPU was lent: trained on 2 shared CPU cores.",
        "",
        "## Data",
        "",
        f"- candidates and hard negatives: `{summary['retriever']}` top-{cfg['hard_negatives']['depth']} over the "
        "2,267-product ESCI pool",
        f"- pairs by source: {json.dumps(summary['pairs_by_source'])}; training rows: {summary['training_rows']}",
        f"- listing text: `{cfg['text_format']}` (rerank._text.listing_text), max_length {cfg['max_length']}",
        "",
        "## Parameters",
        "",
        f"epochs {cfg['epochs']}, batch {cfg['batch_size']}, lr {cfg['learning_rate']}, warmup {cfg['warmup_ratio']}, "
        f"seed {cfg['seed']}, hard negatives {json.dumps(cfg['hard_negatives'])}",
        "",
        "## Metrics (NDCG@10 over the whole pool, gains E=1, S=0.1, C=0.01; reranking hybrid top-"
        f"{cfg['eval_depth']})",
        "",
        f"Untrained head on dev: cross-encoder {summary['untrained_dev']['dev_ndcg@10_cross_encoder']:.4f}.",
        f"Fusion weights (tuned on dev only): {json.dumps(m['dev']['weights'])}.",
        "",
        "| split | hybrid | cross-encoder alone | fused (default) | fused - hybrid, 95% CI, p |",
        "|---|---|---|---|---|",
        *[_fmt_split(s, m[s]) for s in ("dev", "test") if s in m],
        "",
        "## Dev after each epoch",
        "",
        "| epoch | cross-encoder | fused | weights |",
        "|---|---|---|---|",
        *[
            f"| {r['epoch']} | {r['dev_ndcg@10_cross_encoder']:.4f} | {r['dev_ndcg@10_fused']:.4f} | "
            f"{json.dumps(r['fusion_weights'])} |"
            for r in summary["epochs_log"]
        ],
        "",
        f"Commit: {summary['commit']}; torch {summary['torch']}; {summary['seconds']} s.",
        "",
        "Reproduce: `preloved train-reranker --config rerank/configs/default.json` "
        "(or `python -m rerank.train --config ...`).",
        extra,
    ]
    (folder / "README.md").write_text("\n".join(lines) + "\n")
