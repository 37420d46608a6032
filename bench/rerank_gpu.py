"""The reranker's GPU run: teacher variants picked by dev NDCG@10, distilled students, a throughput sweep.

    CUBLAS_WORKSPACE_CONFIG=:4096:8 python bench/rerank_gpu.py --out bench/results/rerank_gpu.json

One prepared script for a lent GPU (issue 5): every config in rerank/configs/gpu/teacher_*.json is
trained with `rerank.train` (the same CrossEncoderTrainer recipe as on CPU, with device auto and bf16);
the teacher with the best fused dev NDCG@10 (any epoch) is trained a second time to check determinism;
rerank/configs/gpu/student_*.json are distilled from it (its scores as labels, its first layers as the
start); the teacher and the students are exported to int8 ONNX (`rerank.export`); and the teacher's
scoring throughput is swept over batch size and precision. Test is never scored here: pick on dev,
then measure the chosen exports with `python -m rerank.evaluate` on the CPU they ship to.
Results are written after every step, so a run cut short still reports what finished.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rerank.config import load_config  # noqa: E402
from rerank.export import export  # noqa: E402
from rerank.train import train  # noqa: E402

logger = logging.getLogger("rerank_gpu")


def _best_epoch(summary: dict) -> dict:
    return max(summary["epochs_log"], key=lambda r: r["dev_ndcg@10_fused"])


def _run(cfg_path: Path, overrides: dict, suffix: str = "") -> dict:
    cfg = load_config(cfg_path, overrides)
    if suffix:  # a smoke run never leaves checkpoints where a real run would resume from them
        cfg = cfg.model_copy(update={"output_dir": cfg.output_dir.with_name(cfg.output_dir.name + suffix)})
    summary = train(cfg, show_progress=False)
    best = _best_epoch(summary)
    runtime = next((r for r in summary["trainer_log"] if "train_runtime" in r), {})
    return {
        "config": str(cfg_path),
        "output_dir": str(cfg.output_dir),
        "pairs_by_source": summary["pairs_by_source"],
        "training_rows": summary["training_rows"],
        "best_epoch": best["epoch"],
        "dev_fused": best["dev_ndcg@10_fused"],
        "dev_cross_encoder": best["dev_ndcg@10_cross_encoder"],
        "dev_hybrid": best["dev_ndcg@10_hybrid"],
        "fusion_weights": best["fusion_weights"],
        "epochs_log": summary["epochs_log"],
        "untrained_dev": summary["untrained_dev"],
        "train_runtime_s": runtime.get("train_runtime"),
        "train_steps": summary["trainer_log"][-1].get("step") if summary["trainer_log"] else None,
        "seconds": summary["seconds"],
        "device": summary["device"],
    }


def sweep(model_dir: str, texts: list[tuple[str, str]], lengths=(32, 64), batches=(32, 64, 128, 256, 512, 1024)):
    """Pairs/s of the cross-encoder forward pass per (precision, max length, batch), padded to the length."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    rows = []
    for dtype_name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)):
        model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=dtype).cuda().eval()
        for length in lengths:
            for bs in batches:
                pairs = (texts * (bs * 20 // len(texts) + 1))[: bs * 20]
                enc = tok(
                    [q for q, _ in pairs],
                    [t for _, t in pairs],
                    padding="max_length",
                    truncation=True,
                    max_length=length,
                    return_tensors="pt",
                )
                enc = {k: v.cuda() for k, v in enc.items()}
                with torch.inference_mode():
                    for i in range(0, 2 * bs, bs):  # warm-up
                        model(**{k: v[i : i + bs] for k, v in enc.items()})
                    torch.cuda.synchronize()
                    t = time.perf_counter()
                    for i in range(0, len(pairs), bs):
                        model(**{k: v[i : i + bs] for k, v in enc.items()})
                    torch.cuda.synchronize()
                    dt = time.perf_counter() - t
                rows.append(
                    {
                        "precision": dtype_name,
                        "max_length": length,
                        "batch": bs,
                        "pairs_per_s": round(len(pairs) / dt),
                        "ms_per_batch": round(1000 * dt / (len(pairs) / bs), 3),
                    }
                )
                logger.info("sweep %s", rows[-1])
        del model
        torch.cuda.empty_cache()
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "rerank_gpu.json"))
    ap.add_argument("--export-dir", default=str(ROOT / ".cache" / "rerank" / "gpu-export"))
    ap.add_argument("--configs", default=str(ROOT / "rerank" / "configs" / "gpu"))
    ap.add_argument("--base-model", help="override the teachers' base_model (a local folder)")
    ap.add_argument("--smoke", action="store_true", help="one epoch on a few queries, on CPU: checks the wiring")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import torch

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    res: dict = {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "torch": torch.__version__,
        "teachers": {},
        "students": {},
        "errors": {},
    }

    def save():
        out.write_text(json.dumps(res, indent=2) + "\n")

    common: dict = {}
    if args.smoke:
        small = ROOT / ".cache" / "rerank" / "smoke_train.jsonl"
        small.parent.mkdir(parents=True, exist_ok=True)
        lines = (ROOT / "data" / "esci" / "esci_us_train.jsonl").read_text().splitlines()[:80]
        small.write_text("\n".join(lines) + "\n")
        common = {
            "epochs": 1,
            "epoch_eval_depth": 5,
            "device": "cpu",
            "early_stopping_patience": None,
            "train": [str(small)],
        }
    teacher_over = dict(common, **({"base_model": args.base_model} if args.base_model else {}))
    suffix = "-smoke" if args.smoke else ""
    t0 = time.time()
    cfgs = sorted(Path(args.configs).glob("teacher_*.json"))
    for path in cfgs[:1] if args.smoke else cfgs:
        name = path.stem.removeprefix("teacher_")
        try:
            res["teachers"][name] = _run(path, teacher_over, suffix)
        except Exception:
            res["errors"][name] = traceback.format_exc()
            logger.exception("teacher %s failed", name)
        save()
    if not res["teachers"]:
        return 1
    best = max(res["teachers"], key=lambda n: res["teachers"][n]["dev_fused"])
    res["best_teacher"] = best
    teacher_dir = res["teachers"][best]["output_dir"]
    logger.info("best teacher on dev: %s (%.4f)", best, res["teachers"][best]["dev_fused"])
    try:  # determinism: the same config and seed again
        again = _run(
            Path(args.configs) / f"teacher_{best}.json",
            dict(teacher_over, output_dir=teacher_dir + "-rerun"),
        )  # teacher_dir already carries the smoke suffix
        res["determinism"] = {
            "first": [r["dev_ndcg@10_fused"] for r in res["teachers"][best]["epochs_log"]],
            "rerun": [r["dev_ndcg@10_fused"] for r in again["epochs_log"]],
            "first_ce": [r["dev_ndcg@10_cross_encoder"] for r in res["teachers"][best]["epochs_log"]],
            "rerun_ce": [r["dev_ndcg@10_cross_encoder"] for r in again["epochs_log"]],
        }
    except Exception:
        res["errors"]["determinism"] = traceback.format_exc()
    save()
    for path in sorted(Path(args.configs).glob("student_*.json")):
        name = path.stem.removeprefix("student_")
        try:
            res["students"][name] = _run(path, dict(common, base_model=teacher_dir, distill_from=teacher_dir), suffix)
        except Exception:
            res["errors"][name] = traceback.format_exc()
            logger.exception("student %s failed", name)
        save()
    exports = {f"teacher-{best}": teacher_dir} | {f"student-{n}": s["output_dir"] for n, s in res["students"].items()}
    for name, src in exports.items():
        try:
            export(Path(src), Path(args.export_dir) / name)
        except Exception:
            res["errors"][f"export-{name}"] = traceback.format_exc()
        save()
    if torch.cuda.is_available():
        try:
            from rerank._data import build_pool, qrels, read_esci
            from rerank._text import listing_text

            cfg = load_config(Path(args.configs) / f"teacher_{best}.json")
            pool = build_pool(cfg.pool)
            texts = [listing_text(x, cfg.text_format) for x in list(pool.values())[:512]]
            queries = sorted(qrels(read_esci(cfg.dev)[0]))
            pairs = [(queries[i % len(queries)], t) for i, t in enumerate(texts)]
            res["sweep"] = sweep(teacher_dir, pairs)
        except Exception:
            res["errors"]["sweep"] = traceback.format_exc()
    res["seconds"] = round(time.time() - t0, 1)
    save()
    print(f"device {res['device']}, best teacher {best}")
    print(f"{'model':<28} {'dev hybrid':>10} {'dev CE':>8} {'dev fused':>10} {'epoch':>6} {'train s':>8}")
    for kind in ("teachers", "students"):
        for n, r in res[kind].items():
            print(
                f"{kind[:-1] + ' ' + n:<28} {r['dev_hybrid']:>10.4f} {r['dev_cross_encoder']:>8.4f} "
                f"{r['dev_fused']:>10.4f} {r['best_epoch']:>6} {r['train_runtime_s'] or 0:>8.1f}"
            )
    for r in res.get("sweep", []):
        print(f"sweep {r['precision']} len {r['max_length']} batch {r['batch']}: {r['pairs_per_s']} pairs/s")
    if res["errors"]:
        print("errors:", ", ".join(res["errors"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
