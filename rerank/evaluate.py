"""Evaluate a reranker folder on ESCI dev and test, tune its fusion weights on dev, optionally store them.

    python -m rerank.evaluate --model models/reranker [--retriever preloved-hybrid] [--write]

Scores the hybrid top-`eval_depth` of every answerable dev and test query with the folder's model
(torch or ONNX int8, whichever it holds), tunes the fusion weights on dev only, and reports NDCG@10
for hybrid alone, the cross-encoder alone and the fused default, with the paired bootstrap vs hybrid.
`--write` stores the weights in preloved_reranker.json and the metrics in eval_metrics.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from rerank.config import ROOT, ConfigError, load_config


def evaluate_folder(
    model_dir: Path,
    config: Path,
    retriever: str | None = None,
    write: bool = False,
    threads: int | None = None,
    keys: list[str] | None = None,
    tuner: str = "pairwise",
) -> dict:
    from rerank._evaluate import evaluate_split, tune_on_dev
    from rerank.reranker import RERANKER_CONFIG, CrossEncoderReranker
    from rerank.train import TrainingData

    overrides = {"retriever": retriever} if retriever else {}
    cfg = load_config(config, overrides)
    data = TrainingData(cfg, show_progress=False)
    rr = CrossEncoderReranker(model_dir, threads=threads or cfg.threads, cache_size=0, fusion_weights={})
    keys = keys or cfg.fusion_keys

    def ce_scores(qrels):
        qs = sorted(qrels)
        return qs, [
            rr.score(data.read[q], [rr.text(data.pool[h.id]) for h in data.candidates[q][: cfg.eval_depth]]) for q in qs
        ]

    dev_q, dev_ce = ce_scores(data.dev_qrels)
    if tuner == "keep":  # a re-export of the same model: evaluate it with the weights it already holds
        weights = dict(rr.config.get("fusion_weights") or {})
        if not weights:
            raise ValueError(f"{model_dir} holds no fusion weights to keep: use --tuner pairwise")
    else:
        weights, _ = tune_on_dev(dev_ce, dev_q, data.candidates, data.dev_qrels, keys, tuner)
    res = {
        "model": str(model_dir),
        "backend": rr.backend,
        "max_length": rr.max_length,
        "retriever": data.retriever or __import__("rerank._candidates", fromlist=["x"]).retriever_name(),
        "eval_depth": cfg.eval_depth,
        "fusion_keys": list(keys),
        "fusion_tuner": tuner if tuner != "keep" else rr.config.get("fusion_tuner", "unrecorded"),
        "dev": evaluate_split(dev_ce, dev_q, data.candidates, data.dev_qrels, weights),
    }
    if data.test_qrels:
        test_q, test_ce = ce_scores(data.test_qrels)
        res["test"] = evaluate_split(test_ce, test_q, data.candidates, data.test_qrels, weights)
    if write:
        cpath = model_dir / RERANKER_CONFIG
        c = json.loads(cpath.read_text())
        if tuner != "keep":
            c["fusion_weights"] = weights
            c["fusion_tuner"] = tuner
            c["fusion_tuned_on"] = (
                f"ESCI dev, {res['retriever']} top-{cfg.eval_depth}, {rr.backend} scores, {tuner} tuner"
            )
        cpath.write_text(json.dumps(c, indent=2) + "\n")
        (model_dir / "eval_metrics.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
        log = model_dir / "training_log.json"
        if log.is_file():
            from rerank._card import write_card

            extra = ""
            if (model_dir / "onnx").is_dir():
                extra = (
                    "\n## Shipped form\n\nONNX export, int8 dynamic quantisation (onnxruntime "
                    "`quantize_dynamic`, QInt8 weights), the last layer computed for [CLS] alone: `python -m "
                    "rerank.export`. The metrics above are "
                    "this int8 model's. Speed: docs/rerank.md and bench/results/rerank_speed.json.\n"
                )
            write_card(model_dir, json.loads(log.read_text()), res, extra)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rerank.evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "reranker"))
    ap.add_argument("--config", default=str(ROOT / "rerank" / "configs" / "default.json"))
    ap.add_argument(
        "--retriever",
        choices=["auto", "preloved-hybrid", "standin-rrf"],
        default="preloved-hybrid",
        help="whose candidates to rerank (default: the pipeline's, qu -> retrieval hybrid)",
    )
    ap.add_argument("--keys", nargs="*", help="fusion keys (default: the config's fusion_keys)")
    ap.add_argument("--threads", type=int)
    ap.add_argument(
        "--tuner",
        choices=["pairwise", "grid", "keep"],
        default="pairwise",
        help="fusion weights by pairwise logistic regression on dev (default), by grid search of dev "
        "NDCG@10, or kept as the folder holds them (to evaluate a re-export of the same model)",
    )
    ap.add_argument("--write", action="store_true", help="store the weights and metrics in the folder")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        res = evaluate_folder(
            Path(args.model), Path(args.config), args.retriever, args.write, args.threads, args.keys, args.tuner
        )
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    short = {
        s: {
            k: res[s][k]
            for k in ("queries", "hybrid", "cross_encoder", "fused", "weights", "fused_vs_hybrid")
        }
        for s in ("dev", "test")
        if s in res
    }
    print(
        json.dumps(
            {"model": res["model"], "backend": res["backend"], "retriever": res["retriever"], **short},
            default=str,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
