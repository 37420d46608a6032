"""The model card (README.md) written into every trained, exported or evaluated reranker folder."""

from __future__ import annotations

import json
from pathlib import Path


def _fmt_split(name: str, m: dict) -> str:
    fb = m["fused_vs_hybrid"]
    return (
        f"| {name} ({m['queries']} queries) | {m['hybrid']:.4f} | {m['cross_encoder']:.4f} | "
        f"{m['fused']:.4f} | {fb['mean_diff']:+.4f} [{fb['ci95'][0]:+.4f}, {fb['ci95'][1]:+.4f}], "
        f"p={fb['p']:.3f} |"
    )


def write_card(folder: Path, summary: dict, evaluation: dict | None = None, extra: str = "") -> None:
    """`summary`: the training log (rerank.train); `evaluation`: rerank.evaluate's result, if run."""
    cfg = summary["config"]
    m = evaluation or summary.get("metrics") or {}
    untrained = summary.get("untrained_dev") or {}
    edepth = cfg.get("epoch_eval_depth") or cfg["eval_depth"]
    pool = f"{summary['pool_products']:,}-product" if summary.get("pool_products") else "ESCI"
    if cfg.get("distill_from"):
        data_line = (
            f"- pairs: every judged train pair and the top-{cfg['distill_depth']} `{summary['retriever']}` "
            f"candidates of each train query over the {pool} pool, plus any extra pairs, all labelled by the teacher"
        )
        negatives = f"distill depth {cfg['distill_depth']}"
    else:
        data_line = (
            f"- hard negatives: `{summary['retriever']}` top-{cfg['hard_negatives']['depth']} over the "
            f"{pool} pool (train+dev+test products), judged products excluded"
        )
        negatives = f"hard negatives {json.dumps(cfg['hard_negatives'])}"
    lines = [
        "# preloved cross-encoder reranker",
        "",
        f"Fine-tuned from `{cfg['base_model']}`"
        + (f" (first {cfg['num_layers']} layers)" if cfg.get("num_layers") else "")
        + f" with sentence-transformers' CrossEncoderTrainer, loss `{cfg['loss']}`, on ESCI train"
        + (
            f", distilled from `{cfg['distill_from']}` (its scores are the labels)." if cfg.get("distill_from") else "."
        ),
        f"Trained on {summary.get('device', 'CPU')}" + (" in bf16 mixed precision." if summary.get("bf16") else "."),
        "",
        "## Data",
        "",
        data_line,
        f"- pairs by source: {json.dumps(summary['pairs_by_source'])}; training rows: {summary['training_rows']}",
        f"- listing text: `{cfg['text_format']}` (rerank._text.listing_text), max_length {cfg['max_length']}",
        "",
        "## Parameters",
        "",
        f"epochs {cfg['epochs']}, batch {cfg['batch_size']}, lr {cfg['learning_rate']}, "
        f"warmup {cfg['warmup_ratio']}, seed {cfg['seed']}, {negatives}"
        + (" (resumed after an interruption)" if summary.get("resumed") else ""),
        "",
    ]
    if m:
        lines += [
            "## Metrics (NDCG@10 over the whole pool, gains E=1, S=0.1, C=0.01)",
            "",
            (
                f"Measured with {evaluation['backend']} scores, {evaluation.get('max_length')} tokens, "
                f"reranking "
                f"`{evaluation['retriever']}` top-{evaluation['eval_depth']}. "
                if evaluation
                else ""
            )
            + f"Fusion weights (fitted on dev only, {(evaluation or {}).get('fusion_tuner', 'pairwise')} tuner): "
            + f"{json.dumps(m['dev']['weights'])}.",
            "",
            "| split | hybrid | cross-encoder alone | fused (default) | fused - hybrid, 95% CI, p |",
            "|---|---|---|---|---|",
            *[_fmt_split(s, m[s]) for s in ("dev", "test") if s in m],
            "",
        ]
    if untrained:
        lines.append(
            f"Untrained head (fresh scoring layer) on dev, `{summary['retriever']}` top-{edepth}: "
            f"cross-encoder alone {untrained['dev_ndcg@10_cross_encoder']:.4f}."
        )
    lines += [
        "",
        "## Dev after each epoch",
        "",
        f"Reranking `{summary['retriever']}` top-{edepth} (the training-time evaluator; fusion re-tuned each "
        "epoch; the trainer keeps the best fused epoch).",
        "",
        "| epoch | cross-encoder | fused | weights |",
        "|---|---|---|---|",
        *[
            f"| {r['epoch']} | {r['dev_ndcg@10_cross_encoder']:.4f} | {r['dev_ndcg@10_fused']:.4f} | "
            f"{json.dumps(r['fusion_weights'])} |"
            for r in summary["epochs_log"]
        ],
        "",
        f"Commit: {summary['commit']}; torch {summary['torch']}; training took {summary['seconds']} s.",
        "",
        f"Reproduce: `preloved train-reranker --config {summary.get('config_path') or '<its config>'}`"
        + (
            " after training the teacher(s) named in `distill_from` (configs in rerank/configs/gpu/; "
            "`python bench/rerank_gpu.py` runs the whole GPU recipe)."
            if cfg.get("distill_from")
            else "."
        )
        + " Then `python -m rerank.export --src <output_dir> --dst models/reranker` and "
        "`python -m rerank.evaluate --model models/reranker --retriever preloved-hybrid --write`.",
        extra,
    ]
    (folder / "README.md").write_text("\n".join(lines) + "\n")
