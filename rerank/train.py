"""Fine-tune the cross-encoder reranker: `preloved train-reranker --config rerank/configs/default.json`.

A thin entry point over sentence-transformers' CrossEncoderTrainer: the config names the data
sources, base model, loss, epochs, batch size, max length, seed and output folder. It is validated
(missing files, unknown loss, no positives, labels off the ESCI/[0, 1] scale) before any model loads.
Dev NDCG@10 is logged after each epoch; an interrupted run resumes from its last epoch checkpoint.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from rerank._data import DataError, build_pool, qrels, read_esci, read_jsonl
from rerank._text import listing_text
from rerank.config import LISTWISE, ROOT, ConfigError, TrainConfig, load_config, resolve_base_model

logger = logging.getLogger(__name__)
RERANKER_CONFIG = "preloved_reranker.json"
_TOKEN = re.compile(r"[a-z0-9]+")


def _tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(text.lower()))


class TrainingData:
    """Everything read before training: pool, judged pairs, candidates, and the rows per source."""

    def __init__(self, cfg: TrainConfig, *, show_progress: bool = True):
        from rerank._candidates import mine

        self.cfg = cfg
        self.pool = build_pool(cfg.pool)
        self.texts = {pid: listing_text(lst, cfg.text_format) for pid, lst in self.pool.items()}
        self.train_j = [j for p in cfg.train for j in read_esci(p)[0]]
        self.dev_qrels = qrels(read_esci(cfg.dev)[0])
        self.test_qrels = qrels(read_esci(cfg.test)[0]) if cfg.test else {}
        missing = {j.product_id for j in self.train_j} - set(self.pool)
        if missing:
            raise DataError(f"{len(missing)} judged train products are not in the pool (e.g. {sorted(missing)[0]})")
        if not any(j.gain > 0 for j in self.train_j):
            raise DataError(
                f"the training data ({', '.join(map(str, cfg.train))}) has no positive pair "
                "(no E, S or C label): nothing to learn from"
            )
        if not self.dev_qrels:
            raise DataError(f"dev file {cfg.dev} has no query with a positive label")
        self.extra = self._read_extra()
        queries = [j.query for j in self.train_j] + list(self.dev_qrels) + list(self.test_qrels)
        depth = max(cfg.hard_negatives.depth, cfg.eval_depth)
        self.retriever = None if cfg.retriever == "auto" else cfg.retriever
        # the hits and the text the served models read for each query (the query as qu and the catalogue's
        # spelling read it): the evaluation's cross-encoder reads that text; training pairs keep the query as typed
        self.candidates, self.read = mine(
            self.pool,
            queries,
            depth=depth,
            cache_dir=ROOT / ".cache" / "rerank",
            show_progress=show_progress,
            retriever=self.retriever,
        )

    def _read_extra(self) -> dict[str, list[tuple[str, str, float]]]:
        out = {}
        for src in self.cfg.extra_pairs:
            rows = []
            for n, r in enumerate(read_jsonl(src.path), 1):
                if "query" not in r or "label" not in r or not ("text" in r or "product_id" in r):
                    raise DataError(f"{src.path}:{n}: extra pairs need query, label and text or product_id")
                label = r["label"]
                if isinstance(label, str) or not 0.0 <= float(label) <= 1.0:
                    raise DataError(
                        f"{src.path}:{n}: label {label!r} is not on the [0, 1] gain scale the ESCI "
                        "labels are mapped to (E=1, S=0.1, C=0.01, I=0); rescale it"
                    )
                text = r.get("text") or self.texts.get(str(r.get("product_id")))
                if text is None:
                    raise DataError(f"{src.path}:{n}: product_id {r.get('product_id')!r} is not in the pool")
                rows.append((str(r["query"]), text, float(label)))
            if not any(lab > 0 for _, _, lab in rows):
                raise DataError(f"extra pairs {src.name} ({src.path}) have no positive pair")
            out[src.name] = rows
        return out

    def negatives(self, query: str, judged: set[str], positives: list[str]) -> list[str]:
        hn = self.cfg.hard_negatives
        if not hn.enabled or hn.per_query == 0:
            return []
        pos_tok = [_tokens(self.pool[p].title) for p in positives]
        out = []
        for h in self.candidates.get(query, [])[hn.skip_top : hn.depth]:
            if h.id in judged:
                continue
            if hn.max_title_overlap < 1.0 and pos_tok:
                t = _tokens(self.pool[h.id].title)
                if any(len(t & p) / max(1, len(t | p)) > hn.max_title_overlap for p in pos_tok):
                    continue
            out.append(h.id)
            if len(out) == hn.per_query:
                break
        return out

    def distill_rows(self, teacher_score, *, show_progress: bool = False) -> tuple[list[dict], Counter]:
        """Distillation rows: every judged pair, the top `distill_depth` candidates of each train
        query and every `extra_pairs` pair, labelled with the teacher's score
        (`teacher_score(query, texts) -> scores`); an extra pair's own label is not used."""
        by_q: dict[str, list[str]] = {}
        for j in self.train_j:
            by_q.setdefault(j.query, []).append(j.product_id)
        sources: dict[str, dict[str, list[str]]] = {}  # query -> source -> texts
        for q in sorted(by_q):
            judged = list(dict.fromkeys(by_q[q]))
            cands = [h.id for h in self.candidates.get(q, [])[: self.cfg.distill_depth] if h.id not in judged]
            sources[q] = {
                "esci_judged": [self.texts[p] for p in judged],
                "teacher_scored_candidates": [self.texts[p] for p in cands],
            }
        for name, extra in self.extra.items():
            for q, text, _ in extra:
                sources.setdefault(q, {}).setdefault(name, []).append(text)
        from tqdm.auto import tqdm

        out: list[dict] = []
        counts: Counter = Counter()
        for q in tqdm(sorted(sources), desc="teacher labels", unit="query", disable=not show_progress):
            named = [(name, t) for name, texts in sources[q].items() for t in texts]
            scores = teacher_score(q, [t for _, t in named])
            out += [{"query": q, "doc": t, "label": float(s)} for (_, t), s in zip(named, scores, strict=True)]
            counts.update(name for name, _ in named)
        return out, counts

    def rows(self) -> tuple[list[dict], Counter]:
        """Training rows in the loss's format, and how many pairs each source contributed."""
        by_q: dict[str, dict[str, float]] = {}
        for j in self.train_j:
            by_q.setdefault(j.query, {})[j.product_id] = j.gain
        pairs: dict[str, list[tuple[str, float, str]]] = {}  # query -> [(text, label, source)]
        counts: Counter = Counter()
        for q in sorted(by_q):
            rel = by_q[q]
            for pid, g in sorted(rel.items()):
                pairs.setdefault(q, []).append((self.texts[pid], g, "esci_judged"))
                counts["esci_judged"] += 1
            for pid in self.negatives(q, set(rel), [p for p, g in rel.items() if g > 0]):
                pairs[q].append((self.texts[pid], 0.0, "hybrid_hard_negatives"))
                counts["hybrid_hard_negatives"] += 1
        for name, rows in self.extra.items():
            for q, text, lab in rows:
                pairs.setdefault(q, []).append((text, lab, name))
                counts[name] += 1
        loss = self.cfg.loss
        out: list[dict] = []
        if loss == "bce":
            out = [{"query": q, "doc": t, "label": lab} for q in sorted(pairs) for t, lab, _ in pairs[q]]
        elif loss in LISTWISE:
            out = [
                {"query": q, "docs": [t for t, _, _ in ps], "labels": [lab for _, lab, _ in ps]}
                for q in sorted(pairs)
                for ps in [pairs[q]]
                if any(lab > 0 for _, lab, _ in ps)
            ]
        elif loss == "mnrl":
            for q in sorted(pairs):
                negs = [t for t, lab, _ in pairs[q] if lab == 0.0]
                for t, lab, _ in pairs[q]:
                    if lab >= 1.0:
                        row = {"query": q, "positive": t}
                        row.update({f"negative_{i + 1}": n for i, n in enumerate(negs[:3])})
                        out.append(row)
            n_neg = min(len([k for k in r if k.startswith("negative_")]) for r in out) if out else 0
            out = [{k: v for k, v in r.items() if not k.startswith("negative_") or int(k[9:]) <= n_neg} for r in out]
        if not out:
            raise DataError(f"no training rows for loss {loss!r} (no query has a positive pair)")
        return out, counts


def _make_loss(name: str, model, mini_batch_size: int | None = None):
    from sentence_transformers.cross_encoder import losses as L

    # The library reads `self.mini_batch_size or batch_size`, so its own 0 would mean batch_size pairs a
    # pass; -1 is what reaches its "whole batch at once" branch.
    mb = {} if mini_batch_size is None else {"mini_batch_size": mini_batch_size or -1}
    return {
        "bce": lambda: L.BinaryCrossEntropyLoss(model),
        "lambda": lambda: L.LambdaLoss(model, **mb),
        "listnet": lambda: L.ListNetLoss(model, **mb),
        "plistmle": lambda: L.PListMLELoss(model, **mb),
        "ranknet": lambda: L.RankNetLoss(model, **mb),
        "mnrl": lambda: L.MultipleNegativesRankingLoss(model, num_negatives=4),
        "mse": lambda: L.MSELoss(model),
    }[name]()


def _git_commit() -> str:
    """HEAD, with "+dirty" when tracked files differ from it (the card then names no exact code)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=ROOT, capture_output=True).returncode
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _seed_everything(seed: int, threads: int | None) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)


def _teacher_scorer(teachers: list[Path], device: str):
    """score(query, texts) for distillation: one teacher's raw scores, or for several the mean of each
    teacher's scores standardised over this query's texts (teachers trained with different losses
    score on different scales). Each teacher reads its own trained max length."""
    import numpy as np
    from sentence_transformers.cross_encoder import CrossEncoder

    models = [CrossEncoder(str(t), device=device) for t in teachers]
    scorers = [_scorer(m, m.max_length, batch_size=256) for m in models]
    if len(scorers) == 1:
        return scorers[0]

    def score(query: str, texts: list[str]) -> np.ndarray:
        parts = [s(query, texts) for s in scorers]
        return np.mean([(p - p.mean()) / (p.std() + 1e-6) if len(p) > 1 else p for p in parts], axis=0)

    return score


def _scorer(model, max_length: int, batch_size: int = 64):
    import numpy as np
    import torch

    def score(query: str, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0)
        with torch.inference_mode():
            return np.asarray(
                model.predict(
                    [(query, t) for t in texts],
                    batch_size=batch_size,
                    activation_fn=torch.nn.Identity(),
                    show_progress_bar=False,
                    convert_to_numpy=True,
                ),
                dtype=np.float64,
            ).reshape(-1)

    return score


def make_dev_evaluator(data: TrainingData, log: list[dict], path: Path | None = None):
    """A CrossEncoderTrainer evaluator: exact ESCI NDCG@10 on dev, cross-encoder alone and fused.
    Each result is appended to `log` (and written to `path`, so a resumed run keeps the epochs
    evaluated before the interruption)."""
    from sentence_transformers.base.evaluation import BaseEvaluator

    from rerank._evaluate import evaluate_split, score_candidates, tune_on_dev

    cfg = data.cfg
    queries = sorted(data.dev_qrels)

    class DevNDCG(BaseEvaluator):
        def __init__(self):
            super().__init__()
            self.name = "dev"
            self.primary_metric = "ndcg@10"

        def __call__(self, model, output_path=None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
            t = time.perf_counter()
            ce = score_candidates(
                _scorer(model, cfg.max_length),
                queries,
                data.candidates,
                data.texts,
                cfg.epoch_eval_depth or cfg.eval_depth,
                data.read,
            )
            weights, _ = tune_on_dev(ce, queries, data.candidates, data.dev_qrels, cfg.fusion_keys)
            res = evaluate_split(ce, queries, data.candidates, data.dev_qrels, weights)
            row = {
                "epoch": epoch,
                "steps": steps,
                "dev_ndcg@10_cross_encoder": round(res["cross_encoder"], 4),
                "dev_ndcg@10_fused": round(res["fused"], 4),
                "dev_ndcg@10_hybrid": round(res["hybrid"], 4),
                "depth": cfg.epoch_eval_depth or cfg.eval_depth,
                "fusion_weights": weights,
                "seconds": round(time.perf_counter() - t, 1),
            }
            log.append(row)
            if path is not None:
                path.write_text(json.dumps(log, indent=1) + "\n")
            logger.info("dev after epoch %s: %s", epoch, row)
            metrics = {"ndcg@10": res["fused"], "ndcg@10_cross_encoder": res["cross_encoder"]}
            metrics = self.prefix_name_to_metrics(metrics, self.name)
            self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
            return metrics

    return DevNDCG()


def train(
    cfg: TrainConfig, *, show_progress: bool = True, config_path: str | None = None, callbacks: tuple = ()
) -> dict:
    """Run the whole recipe; returns the final metrics (also written to the output folder).

    An interrupted run resumes from its last epoch checkpoint in `output_dir/checkpoints` when run
    again with the same config. `callbacks`: extra transformers TrainerCallbacks (logging, say)."""
    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )

    from rerank._evaluate import evaluate_split, score_candidates, tune_on_dev

    t0 = time.time()
    _seed_everything(cfg.seed, cfg.threads)
    device = cfg.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    bf16 = cfg.bf16 and device == "cuda"
    data = TrainingData(cfg, show_progress=show_progress)
    if cfg.distill_from:
        rows, counts = data.distill_rows(_teacher_scorer(cfg.distill_from, device), show_progress=show_progress)
    else:
        rows, counts = data.rows()
    logger.info("training rows: %d (%s pairs by source: %s)", len(rows), cfg.loss, dict(counts))
    out = cfg.output_dir
    out.mkdir(parents=True, exist_ok=True)

    model = CrossEncoder(  # fp32 master weights whatever the checkpoint's dtype; bf16 only as autocast
        resolve_base_model(cfg.base_model),
        num_labels=1,
        max_length=cfg.max_length,
        device=device,
        model_kwargs={"dtype": torch.float32},
    )
    if cfg.num_layers is not None:
        enc = model.model.base_model.encoder
        if cfg.num_layers > len(enc.layer):
            raise ConfigError(f"num_layers={cfg.num_layers} but the base model has only {len(enc.layer)}")
        enc.layer = enc.layer[: cfg.num_layers]
        model.model.config.num_hidden_layers = cfg.num_layers
    resume = any((out / "checkpoints").glob("checkpoint-*"))
    log_path = out / "epochs_log.json"
    log: list[dict] = json.loads(log_path.read_text()) if resume and log_path.is_file() else []
    evaluator = make_dev_evaluator(data, log, log_path)
    untrained = evaluator(model, epoch=0) if cfg.eval_untrained else None  # the fresh head, for the record
    args = CrossEncoderTrainingArguments(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=cfg.epochs,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        warmup_ratio=cfg.warmup_ratio,
        seed=cfg.seed,
        data_seed=cfg.seed,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="eval_dev_ndcg@10",
        greater_is_better=True,
        logging_steps=20,
        report_to="none",
        use_cpu=device == "cpu",
        bf16=bf16,
        dataloader_num_workers=0,
        disable_tqdm=not show_progress,
    )
    callbacks = list(callbacks)
    if cfg.early_stopping_patience:
        from transformers import EarlyStoppingCallback

        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience))
    trainer = CrossEncoderTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        loss=_make_loss(cfg.loss, model, cfg.loss_mini_batch_size),
        evaluator=evaluator,
        callbacks=callbacks,
    )
    if resume:
        logger.info("resuming from the last checkpoint in %s", out / "checkpoints")
    trainer.train(resume_from_checkpoint=True if resume else None)
    model = trainer.model
    model.save_pretrained(str(out))

    dev_q, test_q = sorted(data.dev_qrels), sorted(data.test_qrels)
    score = _scorer(model, cfg.max_length)
    metrics: dict = {}
    weights: dict[str, float] = {}
    if cfg.final_eval:
        ce_dev = score_candidates(score, dev_q, data.candidates, data.texts, cfg.eval_depth, data.read)
        weights, _ = tune_on_dev(ce_dev, dev_q, data.candidates, data.dev_qrels, cfg.fusion_keys)
        metrics["dev"] = evaluate_split(ce_dev, dev_q, data.candidates, data.dev_qrels, weights)
    if test_q and cfg.final_eval:
        ce_test = score_candidates(score, test_q, data.candidates, data.texts, cfg.eval_depth, data.read)
        metrics["test"] = evaluate_split(ce_test, test_q, data.candidates, data.test_qrels, weights)
    from rerank._candidates import retriever_name

    summary = {
        "config": json.loads(cfg.model_dump_json()),
        "commit": _git_commit(),
        "retriever": data.retriever or retriever_name(),
        "pairs_by_source": dict(counts),
        "training_rows": len(rows),
        "untrained_dev": untrained,
        # one row per epoch: a resumed run re-evaluates the untrained head and maybe its last epoch
        "epochs_log": sorted({r["epoch"]: r for r in log}.values(), key=lambda r: r["epoch"]),
        "resumed": resume,
        "pool_products": len(data.pool),
        "config_path": config_path,
        "trainer_log": trainer.state.log_history,
        "metrics": metrics,
        "seconds": round(time.time() - t0, 1),
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name() if device == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
        "bf16": bf16,
    }
    (out / RERANKER_CONFIG).write_text(
        json.dumps(
            {
                "format_version": 1,
                "text_format": cfg.text_format,
                "max_length": cfg.max_length,
                "fusion_weights": weights,
                "backend": "torch",
                "onnx_file": None,
            },
            indent=2,
        )
        + "\n"
    )
    (out / "training_log.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    from rerank._card import write_card

    write_card(out, summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="preloved train-reranker", description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="JSON or TOML training config (see rerank/configs/)")
    ap.add_argument("--output-dir", help="override the config's output_dir")
    ap.add_argument("--epochs", type=int, help="override the config's epochs")
    ap.add_argument(
        "--retriever",
        choices=["auto", "preloved-hybrid", "standin-rrf"],
        help="override the config's candidate retriever",
    )
    ap.add_argument("--check", action="store_true", help="validate config and data, print the row counts, stop")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    overrides = {
        k: v
        for k, v in {
            "output_dir": args.output_dir,
            "epochs": args.epochs,
            "retriever": args.retriever,
        }.items()
        if v is not None
    }
    try:
        cfg = load_config(args.config, overrides)
        if args.check:
            data = TrainingData(cfg, show_progress=not args.no_progress)
            rows, counts = data.rows()
            print(json.dumps({"rows": len(rows), "pairs_by_source": dict(counts)}))
            return 0
        summary = train(cfg, show_progress=not args.no_progress, config_path=args.config)
    except (ConfigError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    m = summary["metrics"]
    print(json.dumps({s: {k: m[s][k] for k in ("hybrid", "cross_encoder", "fused", "weights")} for s in m}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
